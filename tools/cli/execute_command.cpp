// `doppler execute CONFIG.yaml`: runs the config's einsum workload on this machine's GPUs (the hw
// backend) under one or more placements, checks outputs against the CPU reference (--verify) and
// records each run as a traced run (docs/FORMATS.md) for `doppler calibrate` / `validate`.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"
#include "doppler/trace.hpp"
#include "launch_environment.hpp"
#include "output_check.hpp"
#include "run_inputs.hpp"
#include "text_table.hpp"
#include "traced_run_writer.hpp"

#ifdef DOPPLER_HAVE_HW
#include "doppler/einsum/reference_executor.hpp"
#include "doppler/hw/executor.hpp"
#endif

namespace doppler::cli {
namespace {

struct ExecuteFlags {
  std::string config;
  std::vector<std::string> placements;
  std::size_t random = 0;
  std::size_t devices = 0;
  std::size_t repetitions = 3;
  std::size_t warmup = 1;
  int streams = 1;
  int queue_depth = 4;
  bool eager_load_copies = false;
  bool multi_process = false;
  std::string rendezvous = "/tmp/doppler-rendezvous";
  bool verify = false;
  std::string trace_dir;
  bool json = false;
};

#ifdef DOPPLER_HAVE_HW

// The machine's first `n` devices; an Error naming --devices when it has fewer.
Machine machine_with_devices(const Machine& m, std::size_t n) {
  if (n > m.num_devices()) {
    throw Error("--devices " + std::to_string(n) + ": the machine '" + m.name + "' has only " +
                std::to_string(m.num_devices()) + " devices");
  }
  return first_devices(m, n);
}

Trace to_trace(const hw::ExecuteResult& r) {
  Trace trace;
  trace.time_unit = "s";
  trace.device_names = r.gpu.names;
  for (OpId op = 0; op < r.tasks.size(); ++op) {
    const hw::TaskTiming& t = r.tasks[op];
    trace.records.push_back({TraceRecord::Kind::compute, op, t.device, 0, std::max(0, t.stream),
                             t.start_ms * 1e-3, t.end_ms * 1e-3, 0});
  }
  for (const hw::TransferTiming& t : r.transfers) {
    trace.records.push_back({TraceRecord::Kind::transfer, t.producer, t.dst, t.src, 0, t.start_ms * 1e-3,
                             t.end_ms * 1e-3, t.bytes});
  }
  return trace;
}

void run_execute(const ExecuteFlags& flags) {
  std::optional<LaunchRank> launch;
  if (flags.multi_process) launch = launch_rank_from_environment();
  Experiment e = load_experiment(flags.config, known_names());
  if (!e.einsum) throw Error(flags.config + ": no 'einsum' workload to execute (a task graph has no data)");
  if (e.model.empty()) e.model = e.machine.empty() ? "paper" : "roofline";
  std::unique_ptr<Workload> w = load(e);
  if (flags.devices > 0) w->machine = machine_with_devices(w->machine, flags.devices);
  const std::size_t devices = w->machine.num_devices();
  if (launch && launch->size != static_cast<int>(devices)) {
    throw Error("execute --multi-process: " + std::to_string(launch->size) + " processes for " +
                std::to_string(devices) + " devices (one process per device)");
  }
  const int gpus_wanted = launch ? launch->local_rank + 1 : static_cast<int>(devices);
  if (const std::string missing = hw::missing_gpus(gpus_wanted); !missing.empty())
    throw Error("execute: " + missing);
  const bool reporter = !launch || launch->rank == 0;  // the process that prints and writes
  const EinsumOrigin& origin = *w->einsum;
  sim::Simulator simulator(w->graph, w->machine, w->model);
  std::vector<PlacementSpec> placements;
  for (const std::string& p : flags.placements) placements.push_back({p, is_plan_file_name(p) ? p : ""});
  std::vector<std::vector<double>> reference;
  if (flags.verify && reporter) reference = einsum::run_reference<double>(origin.graph);
  hw::ExecuteOptions options;
  options.num_devices = static_cast<int>(devices);
  options.streams = flags.streams;
  options.queue_depth = flags.queue_depth;
  options.loads_in_stream_order = !flags.eager_load_copies;
  options.return_outputs = flags.verify;
  if (launch) {
    options.processes = hw::ProcessGroup{launch->rank, launch->size, flags.rendezvous, launch->job_id};
    options.cuda_devices = {launch->local_rank};
  }
  hw::Executor executor(origin.graph, origin.lowered, options);
  GpuInfo gpu;

  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  TextTable table({{"placement", TextTable::Align::left},
                   {"measured ms", TextTable::Align::right},
                   {"simulated ms", TextTable::Align::right},
                   {"max rel. error", TextTable::Align::right}});
  const auto run_one = [&](const PlacementSpec& spec, std::uint64_t seed) {
    Plan plan = make_plan(spec, simulator, seed);
    validate_plan(plan, w->graph, devices);
    // The run whose makespan is the median is the one reported and traced (its trace matches the
    // makespan run.yaml records); the first run's outputs are verified (every run computes the same).
    std::vector<std::pair<double, std::size_t>> makespans;
    std::vector<Trace> traces;
    std::vector<double> host_ms;
    hw::ExecuteResult first;
    for (std::size_t r = 0; r < flags.warmup; ++r) executor.run(plan);
    for (std::size_t r = 0; r < std::max<std::size_t>(1, flags.repetitions); ++r) {
      hw::ExecuteResult result = executor.run(plan);
      makespans.push_back({result.makespan_ms, r});
      host_ms.push_back(result.host_ms);
      if (!flags.trace_dir.empty()) traces.push_back(to_trace(result));
      if (r == 0) first = std::move(result);
    }
    gpu = first.gpu;
    std::sort(makespans.begin(), makespans.end());
    const auto [median_ms, median_run] = makespans[makespans.size() / 2];
    const double simulated = simulator.run(plan).makespan;
    const std::string label = spec.label == "random" ? "random-" + std::to_string(seed) : spec.label;
    double error = -1;
    if (!reporter) return;
    if (flags.verify) {
      error = max_output_error(origin.graph, first.values, reference);
      if (error > output_tolerance(origin.graph)) {
        throw Error("execute: placement '" + label + "': outputs differ from the CPU reference by " +
                    format_short(error, 3) + " (tolerance " +
                    format_short(output_tolerance(origin.graph), 3) + ")");
      }
    }
    if (!flags.trace_dir.empty()) {
      write_traced_run(flags.trace_dir, e, origin, w->graph, plan, traces[median_run],
                       {e.name, label, median_ms * 1e-3, devices, first.gpu, flags.queue_depth});
    }
    std::vector<double> runs_ms(makespans.size());
    for (const auto& [ms, r] : makespans) runs_ms[r] = ms;
    results.push_back({{"placement", label},
                       {"makespan_ms", median_ms},
                       {"runs_ms", runs_ms},
                       {"simulated_ms", simulated * 1e3},
                       {"repetitions", makespans.size()},
                       {"host_ms", host_ms[median_run]},
                       {"gemm_joins", first.gemm_joins},
                       {"generic_joins", first.generic_joins},
                       {"max_relative_error", error}});
    table.add_row({label, format_short(median_ms, 4), format_short(simulated * 1e3, 4),
                   flags.verify ? format_short(error, 3) : "-"});
  };
  for (const PlacementSpec& spec : placements) run_one(spec, e.seed);
  for (std::size_t k = 0; k < flags.random; ++k) run_one({"random", ""}, e.seed + k);
  if (!reporter) return;
  if (flags.json) {
    nlohmann::ordered_json j;
    j["name"] = e.name;
    j["workload"] = e.einsum->label();
    j["devices"] = devices;
    j["gpu"] = {{"name", gpu.name},
                {"driver", gpu.driver},
                {"cuda", gpu.cuda},
                {"cublas", gpu.cublas},
                {"clocks", gpu.clocks}};
    j["streams"] = flags.streams;
    j["queue_depth"] = flags.queue_depth;
    j["eager_load_copies"] = flags.eager_load_copies;
    j["processes"] = launch ? launch->size : 1;
    j["tasks"] = w->graph.num_ops();
    j["results"] = results;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << e.name << ": " << e.einsum->label() << " on " << devices << " GPUs, " << w->graph.num_ops()
            << " tasks\n\n"
            << table.render();
}

#else

void run_execute(const ExecuteFlags&) {
  throw Error(
      "execute: this doppler was built without the hw backend (no CUDA toolkit was found at build time)");
}

#endif

}  // namespace

void add_execute_command(CLI::App& app) {
  auto flags = std::make_shared<ExecuteFlags>();
  CLI::App* command = app.add_subcommand(
      "execute", "Run a config's einsum workload on this machine's GPUs; verify and record traced runs");
  command->add_option("config", flags->config, "Experiment config with an 'einsum' workload")->required();
  command
      ->add_option("--placement,--placements", flags->placements,
                   "Placement methods and/or plan files, comma-separated (default: critical_path)")
      ->delimiter(',')
      ->default_val(std::vector<std::string>{"critical_path"});
  command->add_option("--random", flags->random, "Also run K random placements (seeds seed .. seed+K-1)")
      ->type_name("K");
  command->add_option("--devices", flags->devices, "Use the machine's first N devices (GPUs)")
      ->type_name("N")
      ->check(positive_integer());
  command->add_option("--repetitions", flags->repetitions, "Runs per placement; the median is reported")
      ->type_name("R")
      ->check(positive_integer());
  command->add_option("--warmup", flags->warmup, "Untimed runs per placement before the timed ones")
      ->type_name("W");
  command->add_option("--streams", flags->streams, "Compute streams per GPU")
      ->type_name("S")
      ->check(positive_integer());
  command
      ->add_option("--queue-depth", flags->queue_depth,
                   "Ops enqueued ahead per compute stream (1: launch only when the previous op finished)")
      ->type_name("Q")
      ->check(positive_integer());
  command->add_flag("--eager-load-copies", flags->eager_load_copies,
                    "Send every resident input's copies at the start of the run (default: when its "
                    "stream reaches it, in priority order, as the simulator does)");
  command->add_flag(
      "--multi-process", flags->multi_process,
      "One process per device (start N with mpirun/srun): transfers through NCCL; rank 0 reports");
  command
      ->add_option("--rendezvous", flags->rendezvous,
                   "Directory every process can read, for the NCCL id (multi-process; default "
                   "/tmp/doppler-rendezvous)")
      ->type_name("DIR");
  command->add_flag("--verify", flags->verify, "Compare the outputs with the CPU reference (float64)");
  command->add_option("--trace", flags->trace_dir, "Write each run as a traced run under DIR")
      ->type_name("DIR");
  command->add_flag("--json", flags->json, "Print JSON for scripts instead of a table");
  command->callback([flags] { run_execute(*flags); });
}

}  // namespace doppler::cli
