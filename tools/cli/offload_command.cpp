// `doppler offload CONFIG.yaml`: a what-if study of CPU-RAM offload (TURNIP). For every GPU count,
// memory budget, host-link bandwidth and run order of the config's `offload` section: compile the
// memory graph, run it in the simulator, report makespan, bytes moved, peak memory and the lower
// bound (table, --json, --csv, --plot DIR, --out DIR). With --gpu (hw backend) every memory graph
// also runs on the GPUs (median of --repetitions, outputs checked with --verify). docs/OFFLOAD.md.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <tuple>

#include "commands.hpp"
#include "doppler/einsum/memory_graph_executor.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/memory/memory_plan.hpp"
#include "doppler/memory/offload_study.hpp"
#include "doppler/number_format.hpp"
#include "doppler/sim/calibration.hpp"
#include "doppler/sim/memory_graph_engine.hpp"
#include "doppler/sim/memory_run_fit.hpp"
#include "doppler/trace.hpp"
#include "output_check.hpp"
#ifdef DOPPLER_HAVE_HW
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/hw/host_link_probe.hpp"
#include "doppler/hw/memory_graph_run.hpp"
#endif
#include "line_chart_svg.hpp"
#include "report.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"

namespace doppler::cli {
namespace {

namespace fs = std::filesystem;
using memory::RunOrder;

struct OffloadFlags {
  std::string config;
  bool json = false;
  std::string csv, plot_dir, out_dir;
  bool gpu = false;
  bool verify = false;
  bool wait_on_host = false;
  bool copies_ahead = false;
  std::size_t repetitions = 3;
  int queue_depth = 0;  // 0: the GPU runner's default
};

// Measured on the GPUs (--gpu): the median makespan in seconds, with --verify the largest relative
// error of the outputs against the CPU reference, and every node's times.
struct Measured {
  double makespan = 0;
  std::optional<double> max_relative_error;
  std::vector<double> node_start, node_end;  // every node's, seconds (alloc/free: when passed)
  Trace trace;                               // the measured run's nodes (seconds from its clock start)
};

// The host link probed on GPU 0 (hw::probe_host_links), each direction alone and both at once.
struct ProbedLinks {
  LinkSpec to_device, from_device, to_device_duplex, from_device_duplex;
};

// The host links as the GPU ran them: fitted (latency + bytes / bandwidth) from the copies of the
// first budget's runs, per GPU count (device->host from the probe's duplex copies when those runs
// evict nothing: evictions run while loads do); the kernels' slowdown while copies ran, fitted from
// the same runs against the cost table (sim::fit_trace_slowdown); and the runtime's latencies
// (sim::fit_memory_run_latencies). The other budgets are held out.
struct MeasuredLinks {
  std::size_t gpus = 0;
  std::string decomposition;
  std::uint64_t fitted_on_budget = 0;
  LinkSpec to_device, from_device;
  std::string from_device_fitted_from;  // "evictions", "probe" or "machine" (none measured)
  double kernel_slowdown = 1;
  sim::MemoryRunLatencies latencies;
  std::optional<ProbedLinks> probe;
  Machine machine;  // the config's machine with all of it (measured_machine; --out DIR writes it)
};

struct Row {
  std::size_t gpus = 0;
  std::string decomposition;  // decomposition_label of the split it ran
  std::uint64_t working_set = 0;
  std::uint64_t budget = 0;
  std::optional<double> fraction;  // of the working set, when the budget was given so
  double bandwidth = 0;
  RunOrder order = RunOrder::kEventDriven;
  sim::MemoryRunResult result;
  std::string trace_json;           // Chrome trace of the run, kept when --out asks for traces
  std::string measured_trace_json;  // and of the GPU run (once per budget and order)
  std::optional<Measured> measured;
  std::optional<double> simulated_measured_links;     // the simulator with the measured host links
  std::optional<double> simulated_measured_machine;   // ... and the measured kernel slowdown and latencies
  std::optional<double> replayed_measured_durations;  // every node's measured duration, no latencies
  std::uint64_t peak() const {
    std::uint64_t most = 0;
    for (const std::uint64_t p : result.peak_bytes) most = std::max(most, p);
    return most;
  }
  double bytes_moved() const { return result.bytes_loaded + result.bytes_evicted; }
};

// A directory the command will create (or fill): it may exist as a directory; its parent must.
void check_output_dir(const std::string& path, const std::string& flag) {
  std::error_code ec;
  const fs::path p(path);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec))
    throw Error(flag + ": '" + path + "' exists and is not a directory");
  const fs::path parent = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(parent, ec))
    throw Error(flag + ": cannot create '" + path + "': directory '" + parent.string() + "' does not exist");
}

// "eindecomp 8", "data 4, fan-in 2": how the workload was split, for tables, charts and file names.
std::string decomposition_label(const einsum::DecomposeOptions& options) {
  const einsum::DecomposeOptions defaults;
  return std::string(einsum::decompose_method_name(options.method)) + " " + std::to_string(options.devices) +
         (options.wide_search ? " wide" : "") +
         (options.max_candidates != defaults.max_candidates
              ? ", max_candidates " + std::to_string(options.max_candidates)
              : "") +
         (options.aggregate_fan_in > 0 ? ", fan-in " + std::to_string(options.aggregate_fan_in) : "");
}

Plan offload_plan(const TaskGraph& graph, const Machine& machine, sim::CostModelKind model,
                  const std::string& placement, std::uint64_t seed) {
  if (machine.num_devices() == 1) {
    Plan plan;
    plan.device.assign(graph.num_ops(), 0);
    plan.method = "one device";
    return plan;
  }
  const sim::Simulator simulator(graph, machine, model);
  return make_plan(PlacementSpec{placement, ""}, simulator, seed);
}

std::string csv_text(const std::vector<Row>& rows) {
  std::string csv =
      "gpus,budget_bytes,budget_fraction,working_set_bytes,bandwidth,order,makespan,lower_bound,compute_"
      "bound,"
      "host_link_bound,ratio_to_lower_bound,bytes_moved,bytes_loaded,bytes_evicted,bytes_copied,peak_bytes,"
      "measured,"
      "max_relative_error,simulated_measured_links,simulated_measured_machine,replayed_measured_durations,"
      "decomposition\n";
  for (const Row& r : rows) {
    csv += std::to_string(r.gpus) + "," + std::to_string(r.budget) + "," +
           (r.fraction ? format_number(*r.fraction) : std::string()) + "," + std::to_string(r.working_set) +
           "," + format_number(r.bandwidth) + "," + run_order_name(r.order) + "," +
           format_number(r.result.makespan) + "," + format_number(r.result.lower_bound) + "," +
           format_number(r.result.compute_bound) + "," + format_number(r.result.host_link_bound) + "," +
           format_number(r.result.makespan / r.result.lower_bound) + "," + format_number(r.bytes_moved()) +
           "," + format_number(r.result.bytes_loaded) + "," + format_number(r.result.bytes_evicted) + "," +
           format_number(r.result.bytes_copied) + "," + std::to_string(r.peak()) + "," +
           (r.measured ? format_number(r.measured->makespan) : std::string()) + "," +
           (r.measured && r.measured->max_relative_error ? format_number(*r.measured->max_relative_error)
                                                         : std::string()) +
           "," + (r.simulated_measured_links ? format_number(*r.simulated_measured_links) : std::string()) +
           "," +
           (r.simulated_measured_machine ? format_number(*r.simulated_measured_machine) : std::string()) +
           "," +
           (r.replayed_measured_durations ? format_number(*r.replayed_measured_durations) : std::string()) +
           "," + csv_field(r.decomposition) + "\n";
  }
  return csv;
}

nlohmann::ordered_json results_json(const Experiment& e, const std::string& machine_label,
                                    const std::vector<Row>& rows, const memory::OffloadStudy& study,
                                    const std::vector<MeasuredLinks>& links) {
  nlohmann::ordered_json j;
  j["name"] = e.name;
  j["workload"] = e.einsum->label();
  j["machine"] = machine_label;
  j["compile_order"] = memory::compile_order_name(study.compile_order);
  j["placement"] = study.placement;
  j["jitter"] = study.jitter;
  j["results"] = nlohmann::ordered_json::array();
  for (const Row& r : rows) {
    nlohmann::ordered_json o;
    o["gpus"] = r.gpus;
    o["decomposition"] = r.decomposition;
    o["budget_bytes"] = r.budget;
    o["budget_fraction"] = r.fraction ? nlohmann::ordered_json(*r.fraction) : nlohmann::ordered_json(nullptr);
    o["working_set_bytes"] = r.working_set;
    o["bandwidth"] = r.bandwidth;
    o["order"] = run_order_name(r.order);
    o["makespan"] = r.result.makespan;
    o["lower_bound"] = r.result.lower_bound;
    o["compute_bound"] = r.result.compute_bound;
    o["host_link_bound"] = r.result.host_link_bound;
    o["bytes_moved"] = r.bytes_moved();
    o["bytes_loaded"] = r.result.bytes_loaded;
    o["bytes_evicted"] = r.result.bytes_evicted;
    o["bytes_copied"] = r.result.bytes_copied;
    o["peak_bytes"] = r.peak();
    if (r.measured) {
      o["measured"] = r.measured->makespan;
      if (r.measured->max_relative_error) o["max_relative_error"] = *r.measured->max_relative_error;
      o["simulated_measured_links"] = *r.simulated_measured_links;
      o["simulated_measured_machine"] = *r.simulated_measured_machine;
      o["replayed_measured_durations"] = *r.replayed_measured_durations;
    }
    j["results"].push_back(std::move(o));
  }
  if (!links.empty()) {
    j["measured_host_links"] = nlohmann::ordered_json::array();
    for (const MeasuredLinks& l : links) {
      j["measured_host_links"].push_back(
          {{"gpus", l.gpus},
           {"decomposition", l.decomposition},
           {"fitted_on_budget_bytes", l.fitted_on_budget},
           {"to_device", {{"bandwidth", l.to_device.bandwidth}, {"latency", l.to_device.latency}}},
           {"from_device", {{"bandwidth", l.from_device.bandwidth}, {"latency", l.from_device.latency}}},
           {"from_device_fitted_from", l.from_device_fitted_from},
           {"kernel_slowdown", l.kernel_slowdown},
           {"copy_dispatch", l.latencies.copy_dispatch},
           {"copy_gap", l.latencies.copy_gap},
           {"arrival_latency", l.latencies.arrival_latency},
           {"dispatch_gap", l.latencies.dispatch_gap}});
      if (l.probe) {
        const auto link = [](const LinkSpec& s) {
          return nlohmann::ordered_json{{"bandwidth", s.bandwidth}, {"latency", s.latency}};
        };
        j["measured_host_links"].back()["probe"] = {
            {"to_device", link(l.probe->to_device)},
            {"from_device", link(l.probe->from_device)},
            {"to_device_duplex", link(l.probe->to_device_duplex)},
            {"from_device_duplex", link(l.probe->from_device_duplex)}};
      }
    }
  }
  return j;
}

// One chart per (GPU count, order): makespan against the budget as a share of the working set,
// one line per bandwidth (and decomposition, when several: then against the budget in bytes, as
// their working sets differ). File name -> SVG text.
std::map<std::string, std::string> plots(const Experiment& e, const std::vector<Row>& rows,
                                         const Machine& machine, bool several_splits) {
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"};
  std::map<std::pair<std::size_t, RunOrder>, std::map<std::pair<std::string, double>, LineSeries>> charts;
  for (const Row& r : rows) {
    auto& by_line = charts[{r.gpus, r.order}];
    LineSeries& line = by_line[{r.decomposition, r.bandwidth}];
    line.label = (several_splits ? r.decomposition + ", " : std::string()) + "host link " +
                 g4(r.bandwidth / 1e9) + " G" + (machine.time_unit == "s" ? "B/s" : "B/unit");
    line.x.push_back(several_splits
                         ? static_cast<double>(r.budget) / 1e6
                         : 100.0 * static_cast<double>(r.budget) / static_cast<double>(r.working_set));
    line.y.push_back(r.result.makespan);
  }
  std::map<std::string, std::string> files;
  for (auto& [key, by_line] : charts) {
    std::vector<LineSeries> series;
    std::size_t k = 0;
    for (auto& [split_and_bandwidth, line] : by_line) {
      line.colour = colours[k++ % std::size(colours)];
      std::vector<std::size_t> index(line.x.size());
      for (std::size_t i = 0; i < index.size(); ++i) index[i] = i;
      std::sort(index.begin(), index.end(),
                [&line](std::size_t a, std::size_t b) { return line.x[a] < line.x[b]; });
      LineSeries sorted = line;
      for (std::size_t i = 0; i < index.size(); ++i) {
        sorted.x[i] = line.x[index[i]];
        sorted.y[i] = line.y[index[i]];
      }
      series.push_back(std::move(sorted));
    }
    const std::string name =
        "makespan_vs_budget_" + std::to_string(key.first) + "gpu_" + run_order_name(key.second) + ".svg";
    const std::string title = e.name + ": makespan vs memory budget (" + std::to_string(key.first) + " GPU" +
                              (key.first > 1 ? "s, " : ", ") + run_order_name(key.second) + " order)";
    files[name] = line_chart_svg(title, several_splits ? "budget (MB)" : "budget (% of working set)",
                                 "makespan (" + machine.time_unit + ")", series);
  }
  return files;
}

// The decomposition as a file-name part ("data4_" for "data 4"), when several were swept.
std::string split_part(const std::string& decomposition, bool several_splits) {
  if (!several_splits) return "";
  std::string part;
  for (const char c : decomposition)
    if (std::isalnum(static_cast<unsigned char>(c))) part += c;
  return part + "_";
}

// "1gpu_92471296B_53G_event.json": one Chrome trace per run under --out DIR/traces.
std::string trace_name(const Row& r, bool several_splits) {
  return split_part(r.decomposition, several_splits) + std::to_string(r.gpus) + "gpu_" +
         std::to_string(r.budget) + "B_" + g4(r.bandwidth / 1e9) + "G_" + run_order_name(r.order) + ".json";
}

// "1gpu_92471296B_measured_event.json": the GPU run of that memory graph, under --out DIR/traces.
std::string measured_trace_name(const Row& r, bool several_splits) {
  return split_part(r.decomposition, several_splits) + std::to_string(r.gpus) + "gpu_" +
         std::to_string(r.budget) + "B_measured_" + run_order_name(r.order) + ".json";
}

// "measured_machine_1gpu.yaml": the machine fitted from the GPU runs, under --out DIR.
std::string measured_machine_name(const MeasuredLinks& l, bool several_splits) {
  return "measured_machine_" + split_part(l.decomposition, several_splits) + std::to_string(l.gpus) +
         "gpu.yaml";
}

// Under the table of a sweep over decompositions: per GPU count, budget, host link and order, the
// decomposition with the shortest simulated makespan.
void print_fastest_splits(const std::vector<Row>& rows) {
  // A budget given as a fraction is the same fraction of each decomposition's own working set.
  using Budget = std::pair<bool, double>;  // (a fraction?, the fraction or the bytes)
  std::map<std::tuple<std::size_t, Budget, double, RunOrder>, const Row*> fastest;
  for (const Row& r : rows) {
    const Budget budget =
        r.fraction ? Budget{true, *r.fraction} : Budget{false, static_cast<double>(r.budget)};
    const Row*& best = fastest[{r.gpus, budget, r.bandwidth, r.order}];
    if (!best || r.result.makespan < best->result.makespan) best = &r;
  }
  std::cout << "\nfastest decomposition (simulated):\n";
  for (const auto& [key, r] : fastest) {
    const Budget& budget = std::get<1>(key);
    std::cout << "  " << r->gpus << " GPU(s), budget "
              << (budget.first ? percent_text(budget.second) + " of the working set"
                               : g4(budget.second) + " bytes")
              << ", host link " << g4(r->bandwidth) << ", " << run_order_name(r->order) << ": "
              << r->decomposition << " (" << g4(r->result.makespan) << ")\n";
  }
}

void write_plots(const std::string& dir, const std::map<std::string, std::string>& files) {
  fs::create_directories(dir);
  for (const auto& [name, svg] : files) write_file_atomically((fs::path(dir) / name).string(), svg);
}

// Fits the host links, kernel slowdown and latencies from the runs measured for one budget
// (every order; `graphs` the memory graph each order ran).
MeasuredLinks fit_measured_links(std::size_t gpus, const std::string& decomposition, std::uint64_t budget,
                                 const std::map<RunOrder, Measured>& measured,
                                 const std::map<RunOrder, const memory::MemoryGraph*>& graphs,
                                 const Machine& machine, const sim::CostTable& costs,
                                 const std::optional<ProbedLinks>& probe) {
  std::vector<std::pair<double, double>> loads, evicts;
  std::vector<Trace> traces;
  std::vector<sim::MeasuredMemoryRun> runs;
  for (const auto& [order, m] : measured) {
    const memory::MemoryGraph& mg = *graphs.at(order);
    for (std::size_t i = 0; i < mg.nodes.size(); ++i) {
      const double seconds = m.node_end[i] - m.node_start[i];
      if (mg.nodes[i].kind == memory::MemNodeKind::kLoad) loads.push_back({mg.nodes[i].bytes, seconds});
      if (mg.nodes[i].kind == memory::MemNodeKind::kEvict) evicts.push_back({mg.nodes[i].bytes, seconds});
    }
    traces.push_back(m.trace);
    runs.push_back({&mg, m.node_start, m.node_end});
  }
  const auto fit = [](const std::vector<std::pair<double, double>>& copies, const LinkSpec& fallback) {
    return copies.empty() ? fallback : sim::fit_link(copies, fallback);
  };
  MeasuredLinks links;
  links.gpus = gpus;
  links.decomposition = decomposition;
  links.fitted_on_budget = budget;
  links.to_device = fit(loads, machine.host_to_device.at(0));
  if (!evicts.empty() || !probe) {
    links.from_device = fit(evicts, machine.device_to_host.at(0));
    links.from_device_fitted_from = evicts.empty() ? "machine" : "evictions";
  } else {
    links.from_device = probe->from_device_duplex;
    links.from_device_fitted_from = "probe";
  }
  // Kernel times alone: the cost table's less the gap it adds between kernels (measured apart).
  const double gap = machine.calibration ? machine.calibration->dispatch_gap : 0.0;
  links.kernel_slowdown = sim::fit_trace_slowdown(traces, [&costs, gap](const TraceRecord& r) {
    const double time = costs.compute(r.op, r.device);
    return time > gap ? time - gap : time;
  });
  links.latencies = sim::fit_memory_run_latencies(runs);
  links.probe = probe;
  return links;
}

// `machine` with the host links (and, with `everything`, the kernel slowdown and the runtime's
// latencies and gap between kernels) the GPU delivered.
Machine measured_machine(const Machine& machine, const MeasuredLinks& links, bool everything) {
  Machine m = machine;
  for (LinkSpec& link : m.host_to_device) link = links.to_device;
  for (LinkSpec& link : m.device_to_host) link = links.from_device;
  if (everything) {
    if (!m.calibration) m.calibration.emplace();
    m.calibration->concurrency_slowdown = links.kernel_slowdown;
    m.calibration->copy_dispatch = links.latencies.copy_dispatch;
    m.calibration->copy_gap = links.latencies.copy_gap;
    m.calibration->arrival_latency = links.latencies.arrival_latency;
    m.calibration->dispatch_gap = links.latencies.dispatch_gap;
  }
  return m;
}

// Every node's measured duration, for replaying the run in the simulator.
std::vector<double> measured_durations(const Measured& m) {
  std::vector<double> durations(m.node_start.size());
  for (std::size_t i = 0; i < durations.size(); ++i) durations[i] = m.node_end[i] - m.node_start[i];
  return durations;
}

#ifdef DOPPLER_HAVE_HW
// GPU 0's host link, each direction alone and both at once (1 to 64 MiB copies).
ProbedLinks probe_links(const Machine& machine) {
  const std::vector<std::size_t> sizes = {1u << 20, 4u << 20, 16u << 20, 64u << 20};
  const hw::HostLinkSamples s = hw::probe_host_links(0, sizes);
  return {sim::fit_link(s.to_device, machine.host_to_device.at(0)),
          sim::fit_link(s.from_device, machine.device_to_host.at(0)),
          sim::fit_link(s.to_device_duplex, machine.host_to_device.at(0)),
          sim::fit_link(s.from_device_duplex, machine.device_to_host.at(0))};
}
#endif

#ifdef DOPPLER_HAVE_HW
// Runs `mg` on the GPUs through `runner` (its repetitions, after one untimed run): the median makespan, and
// the outputs' error against `reference` when it is given (output_check.hpp).
Measured measure_on_gpu(hw::MemoryGraphRunner& runner, const EinsumOrigin& origin,
                        const memory::MemoryGraph& mg, const std::vector<std::vector<double>>* reference) {
  const hw::MemoryRunResult run = runner.run(mg);
  Measured m;
  m.makespan = run.makespan_ms * 1e-3;
  if (reference) m.max_relative_error = max_output_error(origin.graph, run.values, *reference);
  m.node_start.assign(mg.nodes.size(), 0);
  m.node_end.assign(mg.nodes.size(), 0);
  for (std::size_t i = 0; i < mg.nodes.size() && i < run.nodes.size(); ++i) {
    m.node_start[i] = run.nodes[i].start_ms * 1e-3;
    m.node_end[i] = run.nodes[i].end_ms * 1e-3;
    if (const auto r = memory::node_trace_record(mg.nodes[i], m.node_start[i], m.node_end[i]))
      m.trace.records.push_back(*r);
  }
  return m;
}
#endif

void run_offload(const OffloadFlags& flags) {
#ifndef DOPPLER_HAVE_HW
  if (flags.gpu) throw Error("offload --gpu: this doppler was built without the hw (CUDA) backend");
#endif
  if (flags.verify && !flags.gpu)
    throw Error("offload --verify: needs --gpu (outputs are checked on the GPU)");
  if (flags.repetitions < 1) throw Error("offload --repetitions: must be at least 1");
  if (flags.queue_depth < 0) throw Error("offload --queue-depth: must be at least 1");
  if (flags.queue_depth > 0 && !flags.gpu) throw Error("offload --queue-depth: needs --gpu");
  if (flags.wait_on_host && !flags.gpu) throw Error("offload --wait-on-host: needs --gpu");
  if (flags.copies_ahead && (!flags.gpu || flags.wait_on_host))
    throw Error("offload --copies-ahead: needs --gpu, and not --wait-on-host");
  Experiment e = load_experiment(flags.config, known_names());
  if (!e.einsum)
    throw Error(flags.config +
                ": offload needs an 'einsum' workload (its load tasks are what lives in host memory)");
  const memory::OffloadStudy study = memory::read_offload_study(e, known_names().methods);
  if (!flags.csv.empty()) check_output_path(flags.csv, "--csv", {".csv"});
  if (!flags.plot_dir.empty()) check_output_dir(flags.plot_dir, "--plot");
  if (!flags.out_dir.empty()) check_output_dir(flags.out_dir, "--out");
  const Machine base = e.machine.empty() ? abstract_machine(e.devices) : load_machine(e.machine);
  const std::string machine_label =
      e.machine.empty() ? std::to_string(e.devices) + " abstract devices" : base.name;
  const sim::CostModelKind model = sim::parse_cost_model(e.model.empty() ? "roofline" : e.model);
  std::vector<std::size_t> gpus = study.gpus;
  if (gpus.empty()) gpus.push_back(base.num_devices());
  for (const std::size_t n : gpus) {
    if (n > base.num_devices())
      throw Error(flags.config + ": 'offload.gpus': " + std::to_string(n) + " GPUs, but machine '" +
                  base.name + "' has " + std::to_string(base.num_devices()));
  }
  std::vector<double> bandwidths = study.bandwidths;
  if (bandwidths.empty()) bandwidths.push_back(base.host_to_device.at(0).bandwidth);

  std::vector<einsum::DecomposeSpec> splits = study.decompositions;
  if (splits.empty()) splits.push_back(e.decompose);
  const bool several_splits = splits.size() > 1;
  const auto options_for = [](const einsum::DecomposeSpec& split, std::size_t n) {
    einsum::DecomposeOptions options = split.options;
    if (!split.devices_given) options.devices = static_cast<int>(n);
    return options;
  };
  for (const std::size_t n : gpus) {
    std::set<std::string> labels;
    for (const einsum::DecomposeSpec& split : splits)
      if (!labels.insert(decomposition_label(options_for(split, n))).second)
        throw Error(flags.config + ": 'offload.decompositions': two of them are the same split on " +
                    std::to_string(n) + " GPU(s): " + decomposition_label(options_for(split, n)));
  }
#ifdef DOPPLER_HAVE_HW
  std::vector<std::vector<double>> reference;  // the CPU reference, the same for every split
#endif

  std::vector<Row> rows;
  std::vector<MeasuredLinks> links;
  std::optional<ProbedLinks> probe;
#ifdef DOPPLER_HAVE_HW
  if (flags.gpu) probe = probe_links(base);
#endif
  for (const std::size_t n : gpus) {
    const Machine machine = first_devices(base, n);
    for (const einsum::DecomposeSpec& split : splits) {
      const einsum::DecomposeOptions decompose = options_for(split, n);
      const std::string split_label = decomposition_label(decompose);
      TaskGraph graph;
      const EinsumOrigin origin = lower_einsum_workload(*e.einsum, decompose, graph);
      const Plan plan = offload_plan(graph, machine, model, study.placement, e.seed);
      memory::MemoryPlanOptions options;
      options.alignment = study.alignment;
      options.order = study.compile_order;
      options.host_input = einsum::load_tasks(origin.lowered);
      options.keep = einsum::output_blocks(origin.graph, origin.lowered);
      const std::uint64_t working_set = memory::working_set_bytes(graph, plan, options);
      std::vector<std::pair<std::uint64_t, std::optional<double>>> budgets;
      for (const double f : study.budget_fractions)
        budgets.push_back({static_cast<std::uint64_t>(f * static_cast<double>(working_set)), f});
      for (const double b : study.budget_bytes)
        budgets.push_back({static_cast<std::uint64_t>(b), std::nullopt});
      const sim::CostTable costs(graph, machine, model);
#ifdef DOPPLER_HAVE_HW
      if (flags.verify && reference.empty()) reference = einsum::run_reference<double>(origin.graph);
      hw::MemoryRunOptions gpu_options;
      gpu_options.return_outputs = flags.verify;
      gpu_options.repetitions = static_cast<int>(flags.repetitions);
      gpu_options.issue_ahead = !flags.wait_on_host;
      gpu_options.host_copies_ahead = flags.copies_ahead;
      if (flags.queue_depth > 0) gpu_options.queue_depth = flags.queue_depth;
      std::unique_ptr<hw::MemoryGraphRunner> runner;
      if (flags.gpu)
        runner = std::make_unique<hw::MemoryGraphRunner>(origin.graph, origin.lowered, gpu_options);
#endif
      for (const auto& [budget, fraction] : budgets) {
        options.budget = budget;
        memory::MemoryGraph event_driven;
        try {
          event_driven = memory::compile_memory_graph(graph, plan, options);
        } catch (const Error& error) {
          throw Error(flags.config + ": " + std::to_string(n) + " GPU(s), " + split_label + ", working set " +
                      std::to_string(working_set) + " bytes: " + error.what());
        }
        const memory::MemoryGraph fixed = memory::with_fixed_order(event_driven);
        std::map<RunOrder, Measured> measured;
#ifdef DOPPLER_HAVE_HW
        if (flags.gpu)
          for (const RunOrder order : study.orders)
            measured[order] =
                measure_on_gpu(*runner, origin, order == RunOrder::kFixed ? fixed : event_driven,
                               flags.verify ? &reference : nullptr);
        for (const auto& [order, m] : measured)
          if (m.max_relative_error && *m.max_relative_error > output_tolerance(origin.graph))
            throw Error(flags.config + ": " + std::to_string(n) + " GPU(s), " + split_label + ", " +
                        std::to_string(budget) + " bytes, " + run_order_name(order) +
                        " order: the GPU's outputs differ from the reference by " +
                        g4(*m.max_relative_error) + " (tolerance " + g4(output_tolerance(origin.graph)) +
                        ")");
#endif
        for (auto& [order, m] : measured) {
          m.trace.time_unit = "s";
          for (const DeviceSpec& d : machine.devices) m.trace.device_names.push_back(d.name);
        }
        if (!measured.empty() &&
            (links.empty() || links.back().gpus != n || links.back().decomposition != split_label)) {
          links.push_back(fit_measured_links(
              n, split_label, budget, measured,
              {{RunOrder::kEventDriven, &event_driven}, {RunOrder::kFixed, &fixed}}, machine, costs, probe));
          Machine& fitted = links.back().machine;
          fitted = measured_machine(machine, links.back(), true);
          fitted.name = machine.name + "-offload-fitted";
          fitted.calibration->source = "doppler offload --gpu " + flags.config + ": " + split_label +
                                       ", fitted on the " + std::to_string(budget) + "-byte budget's runs";
        }
        std::map<RunOrder, double> with_measured_links, with_measured_machine, replayed;
        if (!measured.empty()) {
          const Machine links_only = measured_machine(machine, links.back(), false);
          const Machine& fitted = links.back().machine;
          const sim::CostTable fitted_costs(graph, fitted, model);
          for (const auto& [order, m] : measured) {
            const memory::MemoryGraph& ran = order == RunOrder::kFixed ? fixed : event_driven;
            replayed[order] =
                sim::run_memory_graph(ran, graph, machine, costs, {.durations = measured_durations(m)})
                    .makespan;
            with_measured_links[order] = sim::run_memory_graph(ran, graph, links_only, costs).makespan;
            with_measured_machine[order] = sim::run_memory_graph(ran, graph, fitted, fitted_costs).makespan;
          }
        }
        for (const double bandwidth : bandwidths) {
          Machine linked = machine;
          if (!study.bandwidths.empty()) {  // else the machine's links, each direction as it is
            for (LinkSpec& link : linked.host_to_device) link.bandwidth = bandwidth;
            for (LinkSpec& link : linked.device_to_host) link.bandwidth = bandwidth;
          }
          for (const RunOrder order : study.orders) {
            Row row;
            row.gpus = n;
            row.decomposition = split_label;
            row.working_set = working_set;
            row.budget = budget;
            row.fraction = fraction;
            row.bandwidth = bandwidth;
            row.order = order;
            if (const auto m = measured.find(order); m != measured.end()) {
              row.measured = m->second;
              row.simulated_measured_links = with_measured_links.at(order);
              row.simulated_measured_machine = with_measured_machine.at(order);
              row.replayed_measured_durations = replayed.at(order);
            }
            row.result = sim::run_memory_graph(
                order == RunOrder::kFixed ? fixed : event_driven, graph, linked, costs,
                {.record_trace = !flags.out_dir.empty(), .jitter = study.jitter, .seed = e.seed});
            if (!flags.out_dir.empty()) {
              row.trace_json = trace_to_chrome_json(row.result.trace, graph);
              if (row.measured && bandwidth == bandwidths.front())
                row.measured_trace_json = trace_to_chrome_json(row.measured->trace, graph);
              row.result.trace = {};
            }
            rows.push_back(std::move(row));
          }
        }
      }
    }
  }

  const nlohmann::ordered_json j = results_json(e, machine_label, rows, study, links);
  const std::string csv = csv_text(rows);
  const std::map<std::string, std::string> svgs = plots(e, rows, base, several_splits);
  if (!flags.csv.empty()) write_file_atomically(flags.csv, csv);
  if (!flags.plot_dir.empty()) write_plots(flags.plot_dir, svgs);
  if (!flags.out_dir.empty()) {
    write_plots(flags.out_dir, svgs);
    write_file_atomically((fs::path(flags.out_dir) / "results.csv").string(), csv);
    write_file_atomically((fs::path(flags.out_dir) / "results.json").string(), j.dump(2) + "\n");
    fs::create_directories(fs::path(flags.out_dir) / "traces");
    for (const Row& r : rows) {
      write_file_atomically((fs::path(flags.out_dir) / "traces" / trace_name(r, several_splits)).string(),
                            r.trace_json);
      if (!r.measured_trace_json.empty())
        write_file_atomically(
            (fs::path(flags.out_dir) / "traces" / measured_trace_name(r, several_splits)).string(),
            r.measured_trace_json);
    }
    for (const MeasuredLinks& l : links)
      write_file_atomically((fs::path(flags.out_dir) / measured_machine_name(l, several_splits)).string(),
                            machine_to_yaml(l.machine));
  }
  if (flags.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << e.name << ": " << e.einsum->label() << " on " << machine_label << ", " << sim::to_string(model)
            << " model, compile order " << memory::compile_order_name(study.compile_order)
            << (study.jitter > 0 ? ", jitter " + g4(study.jitter) + " (seed " + std::to_string(e.seed) + ")"
                                 : "")
            << "\n\n";
  using Align = TextTable::Align;
  std::vector<TextTable::Column> columns;
  if (several_splits) columns.push_back({"decomposition", Align::left});
  for (TextTable::Column c : std::vector<TextTable::Column>{{"gpus", Align::right},
                                                            {"budget", Align::right},
                                                            {"% working set", Align::right},
                                                            {"host link", Align::right},
                                                            {"order", Align::left},
                                                            {"makespan", Align::right},
                                                            {"lower bound", Align::right},
                                                            {"/ bound", Align::right},
                                                            {"loaded", Align::right},
                                                            {"evicted", Align::right},
                                                            {"peak", Align::right}})
    columns.push_back(std::move(c));
  if (flags.gpu) {
    columns.push_back({"measured", Align::right});
    columns.push_back({"sim, measured links", Align::right});
    columns.push_back({"+ slowdown, latencies", Align::right});
  }
  if (flags.verify) columns.push_back({"max rel. error", Align::right});
  TextTable table(std::move(columns));
  for (const Row& r : rows) {
    std::vector<std::string> cells;
    if (several_splits) cells.push_back(r.decomposition);
    for (std::string cell : std::vector<std::string>{
             std::to_string(r.gpus), g4(static_cast<double>(r.budget)),
             percent_text(static_cast<double>(r.budget) / static_cast<double>(r.working_set)),
             g4(r.bandwidth), run_order_name(r.order), g4(r.result.makespan), g4(r.result.lower_bound),
             ratio_text(r.result.makespan / r.result.lower_bound), g4(r.result.bytes_loaded),
             g4(r.result.bytes_evicted), g4(static_cast<double>(r.peak()))})
      cells.push_back(std::move(cell));
    if (flags.gpu) {
      cells.push_back(r.measured ? g4(r.measured->makespan) : "");
      cells.push_back(r.simulated_measured_links ? g4(*r.simulated_measured_links) : "");
      cells.push_back(r.simulated_measured_machine ? g4(*r.simulated_measured_machine) : "");
    }
    if (flags.verify)
      cells.push_back(r.measured && r.measured->max_relative_error ? g4(*r.measured->max_relative_error)
                                                                   : "");
    table.add_row(std::move(cells));
  }
  std::cout << table.render();
  if (several_splits) print_fastest_splits(rows);
  for (const MeasuredLinks& l : links) {
    std::cout << "\nhost links measured on " << l.gpus << " GPU(s), " << l.decomposition << " (fitted on the "
              << g4(static_cast<double>(l.fitted_on_budget)) << "-byte budget's copies): to device "
              << g4(l.to_device.bandwidth) << " B/s + " << g4(l.to_device.latency) << " s, from device "
              << g4(l.from_device.bandwidth) << " B/s + " << g4(l.from_device.latency) << " s (from the "
              << l.from_device_fitted_from << "); kernels " << g4(l.kernel_slowdown)
              << "x slower while copies run; latencies: copy dispatch " << g4(l.latencies.copy_dispatch)
              << " s, copy gap " << g4(l.latencies.copy_gap) << " s, arrival "
              << g4(l.latencies.arrival_latency) << " s, between kernels " << g4(l.latencies.dispatch_gap)
              << " s\n";
    if (l.probe)
      std::cout << "host link probed on GPU 0: to device " << g4(l.probe->to_device.bandwidth)
                << " B/s alone, " << g4(l.probe->to_device_duplex.bandwidth)
                << " B/s with copies out; from device " << g4(l.probe->from_device.bandwidth)
                << " B/s alone, " << g4(l.probe->from_device_duplex.bandwidth) << " B/s with copies in\n";
  }
}

}  // namespace

void add_offload_command(CLI::App& app) {
  auto flags = std::make_shared<OffloadFlags>();
  CLI::App* command = app.add_subcommand(
      "offload",
      "What-if study of CPU-RAM offload: memory budget, host link, GPUs, event-driven vs fixed order");
  command
      ->add_option("config", flags->config, "Experiment config with 'einsum' and 'offload' (docs/OFFLOAD.md)")
      ->required();
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->add_flag("--gpu", flags->gpu,
                    "Also run every memory graph on the GPUs (hw backend): measured makespan per row");
  command->add_flag("--verify", flags->verify,
                    "With --gpu: compare the GPU's outputs with the CPU reference");
  command->add_option("--repetitions", flags->repetitions,
                      "With --gpu: timed runs per memory graph (median)");
  command->add_flag("--wait-on-host", flags->wait_on_host,
                    "With --gpu: launch a node only once its dependencies on other streams have finished "
                    "(polled), instead of issuing it ahead to wait on the GPU (for comparison)");
  command->add_flag("--copies-ahead", flags->copies_ahead,
                    "With --gpu: issue loads and evictions ahead too (they wait on the GPU for their "
                    "memory, blocking the copies behind them; for comparison)");
  command->add_option(
      "--queue-depth", flags->queue_depth,
      "With --gpu: nodes in flight per stream (the host launches ahead of the GPU by that many; "
      "default 4)");
  command->add_option("--csv", flags->csv, "Write every run as a CSV row")->type_name("FILE");
  command->add_option("--plot", flags->plot_dir, "Write SVG charts of makespan vs budget into DIR")
      ->type_name("DIR");
  command
      ->add_option(
          "--out", flags->out_dir,
          "Write results.json, results.csv, the charts and a Chrome trace per run (traces/) into DIR")
      ->type_name("DIR");
  command->callback([flags] { run_offload(*flags); });
}

}  // namespace doppler::cli
