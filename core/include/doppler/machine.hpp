#pragma once
// Contract: a machine description: devices (compute throughput, memory bandwidth and capacity,
// compute streams, launch overhead) and an interconnect of directed device-to-device links plus
// host<->device links. Read from YAML (configs/machines/*.yaml, format in docs/FORMATS.md); errors
// name file and line. Times are in `time_unit` (seconds for real machines, "units" for abstract).
// An optional `calibration` (fitted from traces by sim/calibration.hpp) refines kernel times per
// task kind: measured times of exact shapes first, then a per-kind roofline.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace doppler {

using DeviceId = std::uint32_t;

struct LinkSpec {
  double bandwidth = 1;  // bytes per time unit
  double latency = 0;    // time units
  double transfer_time(double bytes) const { return latency + bytes / bandwidth; }
};

struct DeviceSpec {
  std::string name;
  std::string kind;
  double flops = 1;             // per time unit
  double memory_bandwidth = 0;  // bytes per time unit; 0 = not a limit
  double memory_capacity = 0;   // bytes; 0 = unlimited
  int streams = 1;              // concurrent compute streams
  double launch_overhead = 0;   // time units added to every kernel
  int copy_engines = 0;         // outgoing device->device copies at once, any destinations (0 = per link)
  // Incoming device->device copies share the device's bandwidth: the issue engine advances a copy
  // at 1/(k+1) of its link's speed while k earlier incoming copies run (false: links independent).
  bool shared_ingress = false;
};

// A measured kernel shape: flops and bytes (read + written) -> median time over its samples.
struct ShapeTime {
  double flops = 0;
  double bytes = 0;
  double time = 0;
  std::size_t samples = 1;
};

// Kernel time of one task kind: `table` for the measured shapes (sorted by (flops, bytes)), else
// overhead + max(flops / flop_rate, bytes / bandwidth); a rate of 0 means "not a limit".
struct KindCalibration {
  double flop_rate = 0;
  double bandwidth = 0;
  double overhead = 0;
  std::size_t samples = 0;
  std::vector<ShapeTime> table;
  // Host seconds the executor's thread spends launching one task of the kind: per measured shape
  // (median) and for the kind (median over its shapes' launches; unmeasured shapes).
  std::vector<ShapeTime> host_table;
  double host_launch = 0;
  const ShapeTime* find(double flops, double bytes) const;       // exact shape in `table`, or null
  const ShapeTime* find_host(double flops, double bytes) const;  // exact shape in `host_table`, or null
  double roofline(double flops, double bytes) const;
};

struct HeldOutRun {
  std::string workload;
  std::string placement;
};

struct Calibration {
  // 2 (what calibrate writes since 2026-11-27): the issue engine charges dispatch_gap only between
  // back-to-back kernels and applies concurrency_slowdown; 1 (files without `format`): every kernel
  // holds its stream for dispatch_gap more, no slowdown there; such files replay as they were fitted.
  int format = 2;
  std::string source;                            // informational: what it was fitted from
  std::map<std::string, KindCalibration> kinds;  // by task kind
  double concurrency_slowdown = 1;               // kernel slowdown while a copy runs on its device (>= 1)
  double dispatch_gap = 0;     // seconds a stream idles between back-to-back kernels (added to each kernel)
  double arrival_latency = 0;  // seconds from a transfer's end until its consumers may start
  // Seconds from a copy's producer ending until the copy starts, when it waited for its producer
  // (the ideal engine adds it to every copy; the issue engine only after the producer's end).
  double copy_dispatch = 0;
  // Seconds between back-to-back copies of one engine (issue engine; absent from a file: copy_dispatch).
  double copy_gap = 0;
  double start_latency = 0;  // seconds from the run's clock start to its first launch
  // Ops the measured executor issued ahead per stream (its queue depth); 0 = ops start when their
  // inputs have arrived (the ideal engine). k > 0 replays launch-ahead (sim/issue_engine.hpp).
  int issue_depth = 0;
  // The executor's host side (issue engine; all 0 = not modelled, as in files fitted before the
  // traces had launches.csv): each device's host thread launches its ops one after another, a
  // kernel task for its kind's host_launch, a resident load reached by its stream for host_load,
  // and sends the device's outgoing copies for host_copy each; a kernel starts launch_latency
  // after its launch call at the earliest.
  double host_load = 0;
  double host_copy = 0;
  double launch_latency = 0;
  std::vector<HeldOutRun> held_out;  // runs left out of the fit (for validation)
};

struct Machine {
  std::string name;
  std::string time_unit = "s";
  std::vector<DeviceSpec> devices;
  std::vector<LinkSpec> links;  // num_devices^2, row = source; diagonal unused
  std::vector<LinkSpec> host_to_device;
  std::vector<LinkSpec> device_to_host;
  double host_memory = 0;
  std::optional<Calibration> calibration;

  std::size_t num_devices() const { return devices.size(); }
  const LinkSpec& link(DeviceId src, DeviceId dst) const { return links[src * devices.size() + dst]; }
};

Machine load_machine(const std::string& path);
Machine parse_machine_yaml(const std::string& text, const std::string& source_name);
// The YAML form load_machine() reads back to an equal machine (every link written explicitly).
std::string machine_to_yaml(const Machine& machine);
// n identical abstract devices (the Doppler paper's setting): 1 FLOP per unit, one stream,
// links of 1 byte per unit and no latency, so the roofline model on a paper graph charges
// comp_cost per op and comm_cost per transfer.
Machine abstract_machine(std::size_t num_devices);

}  // namespace doppler
