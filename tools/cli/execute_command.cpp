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
  std::size_t rounds = 1;
  std::size_t warmup = 1;
  int streams = 1;
  int queue_depth = 4;
  bool eager_load_copies = false;
  bool gated_start = true;
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

// launches.csv of a traced run (docs/FORMATS.md): when the host began and ended each op's and
// transfer's launch, seconds from the clock's start (negative: before it, behind a gated start;
// `submitted` empty where nothing was launched, as for a preloaded load).
std::string launches_csv(const hw::ExecuteResult& r) {
  const auto seconds = [](double ms) { return std::isnan(ms) ? std::string() : format_number(ms * 1e-3); };
  std::string csv = "kind,op,device,src,launched,submitted\n";
  for (OpId op = 0; op < r.tasks.size(); ++op) {
    const hw::TaskTiming& t = r.tasks[op];
    if (!std::isnan(t.launched_ms))
      csv += "compute," + std::to_string(op) + "," + std::to_string(t.device) + ",," +
             seconds(t.launched_ms) + "," + seconds(t.submitted_ms) + "\n";
  }
  for (const hw::TransferTiming& t : r.transfers) {
    if (!std::isnan(t.launched_ms))
      csv += "transfer," + std::to_string(t.producer) + "," + std::to_string(t.dst) + "," +
             std::to_string(t.src) + "," + seconds(t.launched_ms) + "," + seconds(t.submitted_ms) + "\n";
  }
  return csv;
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
  options.gated_start = flags.gated_start;
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
  // Every placement's plan first, then `rounds` interleaved rounds over them (the GPUs drift between
  // placements run one after another; interleaving spreads the drift over all of them).
  struct Measured {
    std::string label;
    Plan plan;
    std::vector<double> makespans, host_ms;
    std::vector<Trace> traces;
    std::vector<std::string> launches;  // launches.csv of each run
    hw::ExecuteResult first;
  };
  std::vector<Measured> measured;
  const auto add_plan = [&](const PlacementSpec& spec, std::uint64_t seed) {
    Plan plan = make_plan(spec, simulator, seed);
    validate_plan(plan, w->graph, devices);
    Measured& m = measured.emplace_back();
    m.label = spec.label == "random" ? "random-" + std::to_string(seed) : spec.label;
    m.plan = std::move(plan);
  };
  for (const PlacementSpec& spec : placements) add_plan(spec, e.seed);
  for (std::size_t k = 0; k < flags.random; ++k) add_plan({"random", ""}, e.seed + k);
  for (std::size_t round = 0; round < flags.rounds; ++round) {
    for (Measured& m : measured) {
      for (std::size_t r = 0; r < flags.warmup; ++r) executor.run(m.plan);
      for (std::size_t r = 0; r < std::max<std::size_t>(1, flags.repetitions); ++r) {
        hw::ExecuteResult result = executor.run(m.plan);
        m.makespans.push_back(result.makespan_ms);
        m.host_ms.push_back(result.host_ms);
        if (!flags.trace_dir.empty()) {
          m.traces.push_back(to_trace(result));
          m.launches.push_back(launches_csv(result));
        }
        if (m.makespans.size() == 1) m.first = std::move(result);
      }
    }
  }
  if (!reporter) return;
  for (const Measured& m : measured) {
    // The run whose makespan is the median over every round is the one reported and traced (its
    // trace matches the makespan run.yaml records); the first run's outputs are verified (every run
    // computes the same).
    std::vector<std::size_t> order(m.makespans.size());
    for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return m.makespans[a] < m.makespans[b]; });
    const std::size_t median_run = order[order.size() / 2];
    const double median_ms = m.makespans[median_run];
    gpu = m.first.gpu;
    const double simulated = simulator.run(m.plan).makespan;
    double error = -1;
    if (flags.verify) {
      error = max_output_error(origin.graph, m.first.values, reference);
      if (error > output_tolerance(origin.graph)) {
        throw Error("execute: placement '" + m.label + "': outputs differ from the CPU reference by " +
                    format_short(error, 3) + " (tolerance " +
                    format_short(output_tolerance(origin.graph), 3) + ")");
      }
    }
    if (!flags.trace_dir.empty()) {
      const std::string run_dir =
          write_traced_run(flags.trace_dir, e, origin, w->graph, m.plan, m.traces[median_run],
                           {e.name, m.label, median_ms * 1e-3, devices, m.first.gpu, flags.queue_depth});
      write_file_atomically((std::filesystem::path(run_dir) / "launches.csv").string(),
                            m.launches[median_run]);
    }
    results.push_back({{"placement", m.label},
                       {"makespan_ms", median_ms},
                       {"runs_ms", m.makespans},
                       {"simulated_ms", simulated * 1e3},
                       {"repetitions", m.makespans.size()},
                       {"host_ms", m.host_ms[median_run]},
                       {"gemm_joins", m.first.gemm_joins},
                       {"generic_joins", m.first.generic_joins},
                       {"max_relative_error", error}});
    table.add_row({m.label, format_short(median_ms, 4), format_short(simulated * 1e3, 4),
                   flags.verify ? format_short(error, 3) : "-"});
  }
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
    j["rounds"] = flags.rounds;
    j["eager_load_copies"] = flags.eager_load_copies;
    j["gated_start"] = flags.gated_start && !launch;
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
  command
      ->add_option("--repetitions", flags->repetitions,
                   "Timed runs per placement and round; the median is reported")
      ->type_name("R")
      ->check(positive_integer());
  command
      ->add_option("--rounds", flags->rounds,
                   "Interleaved rounds over the placements, each with its warm-up and repetitions; the "
                   "median is over every round's runs (default 1)")
      ->type_name("K")
      ->check(positive_integer());
  command
      ->add_option("--warmup", flags->warmup, "Untimed runs per placement before the timed ones (per round)")
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
  command->add_flag("--gated-start,!--no-gated-start", flags->gated_start,
                    "Hold the GPUs until each device's first launches are enqueued; the clock starts when "
                    "they are released, so the first kernels do not wait for their launch calls (the "
                    "default; one process only, ignored with --multi-process)");
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
