// Calibration (sim/calibration.hpp) from traces the simulator itself makes on a known "true"
// machine: the fit recovers its per-kind rooflines, links and launch overhead; tables answer exact
// shapes and the fitted roofline unseen ones; the calibration section round-trips through YAML;
// traced-run directories and trace CSVs with bad input fail with one line naming the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "calibration_truth.hpp"
#include "doppler/einsum/decomposition.hpp"
#include "doppler/einsum/lowering.hpp"
#include "doppler/einsum/workloads.hpp"
#include "doppler/policies/placement.hpp"
#include "doppler/sim/calibration.hpp"
#include "doppler/sim/prediction_error.hpp"
#include "doppler/sim/simulator.hpp"
#include "doppler/trace_csv.hpp"
#include "doppler/traced_run.hpp"
#include "error_of.hpp"

namespace {

using namespace doppler;
using doppler::test_support::error_of;

using doppler::test_support::kTrueMachine;

Machine truth() {
  return parse_machine_yaml(kTrueMachine, "truth.yaml");
}

TaskGraph lowered(const einsum::EinsumGraph& g, int devices) {
  einsum::DecomposeOptions options;
  options.devices = devices;
  return einsum::lower(g, einsum::decompose(g, options).partitions).graph;
}

TaskGraph ffnn(std::int64_t batch, std::int64_t width) {
  return lowered(einsum::ffnn({batch, width, 2 * width, width / 2, 2, einsum::DType::kF32}), 2);
}

TaskGraph chain(std::int64_t n) {
  return lowered(einsum::chain_mm({n, 4, einsum::DType::kF32}), 2);
}

// The graphs and their simulated traces under several placements.
struct Runs {
  std::vector<TaskGraph> graphs;
  std::vector<Trace> traces;
  std::vector<double> makespans;
  std::vector<Plan> plans;
  std::vector<std::size_t> graph_of;

  void add(TaskGraph graph, const Machine& machine) {
    graphs.reserve(16);
    graphs.push_back(std::move(graph));
    const TaskGraph& g = graphs.back();
    sim::Simulator simulator(g, machine, sim::CostModelKind::roofline);
    for (const std::string method : {"random", "round_robin", "critical_path", "heft", "etf"}) {
      for (std::uint64_t seed : {1, 2}) {
        if (seed == 2 && method != "random") continue;
        Plan plan = policies::place(method, {simulator, seed});
        const sim::SimResult result = simulator.run(plan, true);
        traces.push_back(result.trace);
        makespans.push_back(result.makespan);
        plans.push_back(std::move(plan));
        graph_of.push_back(graphs.size() - 1);
      }
    }
  }
  std::vector<sim::MeasuredRun> measured() const {
    std::vector<sim::MeasuredRun> runs;
    for (std::size_t i = 0; i < traces.size(); ++i) runs.push_back({&graphs[graph_of[i]], &traces[i]});
    return runs;
  }
};

Runs training_runs(const Machine& machine) {
  Runs runs;
  runs.add(ffnn(64, 256), machine);
  runs.add(ffnn(512, 1024), machine);
  runs.add(chain(256), machine);
  runs.add(chain(1024), machine);
  return runs;
}

void expect_relative(double actual, double expected, double tolerance, const std::string& what) {
  EXPECT_NEAR(actual, expected, tolerance * std::abs(expected)) << what;
}

TEST(CalibrationFit, RooflineOfMixedComputeAndMemoryBoundShapes) {
  const KindCalibration k{250e12, 2e12, 5e-6, 0, {}, {}, 0};
  std::vector<ShapeTime> shapes;
  for (double flops : {1e9, 4e9, 3e10, 2e11})
    for (double bytes : {1e6, 3e7, 2e8}) shapes.push_back({flops, bytes, k.roofline(flops, bytes), 1});
  const sim::KindFit fit = sim::fit_kind_roofline(shapes);
  expect_relative(fit.flop_rate, 250e12, 1e-9, "flop rate");
  expect_relative(fit.bandwidth, 2e12, 1e-9, "bandwidth");
  expect_relative(fit.overhead, 5e-6, 1e-9, "overhead");
}

TEST(CalibrationFit, RooflineWithoutFlopsIsBandwidthAndOverhead) {
  std::vector<ShapeTime> shapes;
  for (double bytes : {0.0, 1e6, 1e8}) shapes.push_back({0, bytes, 7e-6 + bytes / 1e12, 1});
  const sim::KindFit fit = sim::fit_kind_roofline(shapes);
  EXPECT_EQ(fit.flop_rate, 0);
  expect_relative(fit.bandwidth, 1e12, 1e-9, "bandwidth");
  expect_relative(fit.overhead, 7e-6, 1e-9, "overhead");
  EXPECT_EQ(sim::fit_kind_roofline({}).overhead, 0);
}

TEST(CalibrationFit, LinkLatencyAndBandwidth) {
  std::vector<std::pair<double, double>> samples;
  for (double bytes : {1e3, 1e6, 5e7}) samples.push_back({bytes, 4e-6 + bytes / 300e9});
  const LinkSpec link = sim::fit_link(samples, LinkSpec{});
  expect_relative(link.bandwidth, 300e9, 1e-9, "bandwidth");
  expect_relative(link.latency, 4e-6, 1e-9, "latency");
  // One size: the fallback's latency is kept and the bandwidth fitted around it.
  const std::vector<std::pair<double, double>> one{{1e6, 2e-6 + 1e6 / 100e9}};
  const LinkSpec single = sim::fit_link(one, LinkSpec{1, 2e-6});
  expect_relative(single.bandwidth, 100e9, 1e-9, "bandwidth of one size");
  EXPECT_EQ(single.latency, 2e-6);
}

TEST(CalibrationFit, ConcurrencySlowdownFromKernelsOverlappedByCopies) {
  // Kernels of 10 us; while a copy runs on the device a kernel advances at 1/1.5 speed.
  TaskGraph graph;
  for (int i = 0; i < 4; ++i) graph.add_op({"k" + std::to_string(i), "join", {}, {}, 1e9, 1e6, 1e6, 1e6});
  Trace trace;
  const double slowdown = 1.5;
  double now = 0;
  for (OpId op = 0; op < 4; ++op) {
    const double overlapped = op % 2 ? 4e-6 : 0.0;  // odd kernels overlap a copy for 4 us
    const double duration = 10e-6 + overlapped * (1 - 1 / slowdown);
    trace.records.push_back({TraceRecord::Kind::compute, op, 0, 0, 0, now, now + duration, 0});
    if (overlapped > 0)
      trace.records.push_back({TraceRecord::Kind::transfer, op, 1, 0, 0, now, now + 4e-6, 1e6});
    now += duration;
  }
  trace.records.push_back({TraceRecord::Kind::transfer, 0, 0, 1, 0, now, now + 5e-6, 1e6});
  const sim::MeasuredRun run{&graph, &trace};
  const Machine fitted = sim::fit_calibration({&run, 1}, std::nullopt, "hand-made");
  expect_relative(fitted.calibration->concurrency_slowdown, slowdown, 1e-9, "slowdown");
  // The table holds the clean (not overlapped) kernels' time.
  expect_relative(fitted.calibration->kinds.at("join").table.at(0).time, 10e-6, 1e-12, "clean time");
  EXPECT_DOUBLE_EQ(sim::fit_concurrency_slowdown(std::vector<double>{1.0}, std::vector<double>{1.0},
                                                 std::vector<double>{0.5}),
                   1.0);
}

TEST(CalibrationFit, DispatchGapFromBackToBackKernelsIsAddedToEachKernel) {
  // Five 10 us kernels on one stream, 2 us apart, then one after a 50 us wait (not a dispatch gap).
  TaskGraph graph;
  for (int i = 0; i < 6; ++i) graph.add_op({"k" + std::to_string(i), "join", {}, {}, 1e9, 1e6, 1e6, 1e6});
  Trace trace;
  double now = 0;
  for (OpId op = 0; op < 6; ++op) {
    now += op == 0 ? 0.0 : op == 5 ? 50e-6 : 2e-6;
    trace.records.push_back({TraceRecord::Kind::compute, op, 0, 0, 0, now, now + 10e-6, 0});
    now += 10e-6;
  }
  const sim::MeasuredRun run{&graph, &trace};
  const Machine fitted = sim::fit_calibration({&run, 1}, std::nullopt, "hand-made");
  expect_relative(fitted.calibration->dispatch_gap, 2e-6, 1e-9, "dispatch gap");
  // Replayed on its one stream, each kernel holds it for its time plus the gap.
  sim::Simulator simulator(graph, fitted, sim::CostModelKind::roofline);
  Plan plan;
  plan.device.assign(6, 0);
  expect_relative(simulator.run(plan).makespan, 6 * 12e-6, 1e-9, "makespan");
}

TEST(CalibrationFit, HostSideLatenciesAreFittedAndReplayed) {
  // p0, p1 on device 0 (10 us kernels, 2 us apart, the first 20 us after the clock starts);
  // copies to device 1 start 5 us after they could (copy dispatch), take 10 and 30 us; their
  // consumers c0, c1 start 15 us after the copy they wait for has landed (arrival latency).
  TaskGraph graph;
  const auto op = [&](const char* name, double output) {
    return graph.add_op({name, "join", {}, {}, 1e9, 1e6, 1e6, output});
  };
  const OpId p0 = op("p0", 1e6), p1 = op("p1", 4e6), c0 = op("c0", 1e6), c1 = op("c1", 1e6);
  graph.add_edge(p0, c0);
  graph.add_edge(p1, c1);
  Trace trace;
  const auto kernel = [&](OpId id, DeviceId d, double start) {
    trace.records.push_back({TraceRecord::Kind::compute, id, d, d, 0, start * 1e-6, (start + 10) * 1e-6, 0});
  };
  const auto copy = [&](OpId id, double start, double end, double bytes) {
    trace.records.push_back({TraceRecord::Kind::transfer, id, 1, 0, 0, start * 1e-6, end * 1e-6, bytes});
  };
  kernel(p0, 0, 20);
  kernel(p1, 0, 32);
  copy(p0, 35, 45, 1e6);
  copy(p1, 50, 80, 4e6);  // ready at 45 (the link frees), starts 5 us later
  kernel(c0, 1, 60);
  kernel(c1, 1, 95);
  const sim::MeasuredRun run{&graph, &trace};
  const Machine fitted = sim::fit_calibration({&run, 1}, std::nullopt, "hand-made");
  const Calibration& c = *fitted.calibration;
  expect_relative(c.dispatch_gap, 2e-6, 1e-9, "dispatch gap");
  expect_relative(c.copy_dispatch, 5e-6, 1e-9, "copy dispatch (p0's copy after p0)");
  expect_relative(c.copy_gap, 5e-6, 1e-9, "copy gap (p1's copy after p0's)");
  expect_relative(c.arrival_latency, 15e-6, 1e-9, "arrival latency");
  expect_relative(c.start_latency, 20e-6, 1e-9, "start latency");
  // Replayed: p0 20-32, p1 32-44 (each kernel 10 us + the 2 us gap); copy p0 32-47 (5 us
  // dispatch + 10 us), copy p1 47-82; c0 from 47 + 15, c1 from 82 + 15 to 109 us.
  sim::Simulator simulator(graph, fitted, sim::CostModelKind::roofline);
  Plan plan;
  plan.device = {0, 0, 1, 1};
  expect_relative(simulator.run(plan).makespan, 109e-6, 1e-6, "makespan");
}

TEST(CalibrationFit, HostLaunchCostsFromLaunchTimes) {
  // Device 0's thread: load l (launched at 0), kernels k0, k1, k2 (3, 18, 33; each starts 2 us after
  // its launch and takes 5), then the copies of k1 and k2 to c on device 1 (48, 58); device 1's
  // thread launches c at 71, after both copies landed (60, 70). All times in us.
  TaskGraph graph;
  const OpId l = graph.add_op({"l", "load", {}, {}, 0, 0, 0, 1e6});
  std::vector<OpId> k;
  for (int i = 0; i < 3; ++i)
    k.push_back(graph.add_op({"k" + std::to_string(i), "join", {}, {}, 1e9, 1e6, 1e6, 1e6}));
  const OpId c = graph.add_op({"c", "join", {}, {}, 1e9, 1e6, 1e6, 1e6});
  graph.add_edge(l, k[0]);
  graph.add_edge(k[1], c);
  graph.add_edge(k[2], c);
  Trace trace;
  std::vector<HostLaunch> launches;
  const auto at = [](double us) { return us * 1e-6; };
  trace.records.push_back({TraceRecord::Kind::compute, l, 0, 0, 0, at(1), at(1), 0});
  launches.push_back({TraceRecord::Kind::compute, l, 0, 0, at(0), 0});
  for (int i = 0; i < 3; ++i) {
    const double launched = 3 + 15 * i;
    trace.records.push_back({TraceRecord::Kind::compute, k[static_cast<std::size_t>(i)], 0, 0, 0,
                             at(launched + 2), at(launched + 7), 0});
    launches.push_back({TraceRecord::Kind::compute, k[static_cast<std::size_t>(i)], 0, 0, at(launched), 0});
  }
  trace.records.push_back({TraceRecord::Kind::transfer, k[1], 1, 0, 0, at(49), at(60), 1e6});
  trace.records.push_back({TraceRecord::Kind::transfer, k[2], 1, 0, 0, at(60), at(70), 1e6});
  launches.push_back({TraceRecord::Kind::transfer, k[1], 1, 0, at(48), 0});
  launches.push_back({TraceRecord::Kind::transfer, k[2], 1, 0, at(58), 0});
  trace.records.push_back({TraceRecord::Kind::compute, c, 1, 1, 0, at(73), at(78), 0});
  launches.push_back({TraceRecord::Kind::compute, c, 1, 1, at(71), 0});
  const sim::MeasuredRun run{&graph, &trace, &launches};
  const Calibration fitted = *sim::fit_calibration({&run, 1}, std::nullopt, "hand-made").calibration;
  expect_relative(fitted.host_load, 3e-6, 1e-9, "host_load");
  expect_relative(fitted.kinds.at("join").host_launch, 15e-6, 1e-9, "host_launch");
  ASSERT_EQ(fitted.kinds.at("join").host_table.size(), 1u);  // k0..k2 share one shape: 3 launches
  EXPECT_EQ(fitted.kinds.at("join").host_table[0].samples, 3u);
  expect_relative(fitted.host_copy, 10e-6, 1e-9, "host_copy");
  expect_relative(fitted.launch_latency, 2e-6, 1e-9, "launch_latency");
  EXPECT_EQ(fitted.start_latency, 0);  // the first launch (k0 started 2 us after its launch: no extra)
  // Without launch times nothing of the host is fitted (the issue engine then models none).
  const sim::MeasuredRun bare{&graph, &trace};
  const Calibration plain = *sim::fit_calibration({&bare, 1}, std::nullopt, "hand-made").calibration;
  EXPECT_EQ(plain.host_copy, 0);
  EXPECT_EQ(plain.kinds.at("join").host_launch, 0);
  expect_relative(plain.start_latency, 5e-6, 1e-9,
                  "start_latency without launches: the first kernel's start");
}

// Six producers on device 0 each send to devices 1 and 2 (36 pairs of copies to different
// destinations). Copies one after another: one copy engine per device; the first copy of each
// producer starts at its end (dispatch 0), the second 2 us after the first (the copy gap). Each
// pair overlapping: every link on its own.
TEST(CalibrationFit, CopyEnginesFromWhetherASourcesCopiesOverlap) {
  TaskGraph graph;
  for (int i = 0; i < 6; ++i) graph.add_op({"p" + std::to_string(i), "join", {}, {}, 1e9, 1e6, 1e6, 1e6});
  const auto traced = [&](bool overlapping) {
    Trace trace;
    for (OpId i = 0; i < 6; ++i) {
      const double t = 100.0 * i;
      trace.records.push_back({TraceRecord::Kind::compute, i, 0, 0, 0, t * 1e-6, (t + 10) * 1e-6, 0});
      const double second = overlapping ? t + 11 : t + 22;
      trace.records.push_back(
          {TraceRecord::Kind::transfer, i, 1, 0, 0, (t + 10) * 1e-6, (t + 20) * 1e-6, 1e6});
      trace.records.push_back(
          {TraceRecord::Kind::transfer, i, 2, 0, 0, second * 1e-6, (second + 10) * 1e-6, 1e6});
    }
    return trace;
  };
  const Trace serial = traced(false), concurrent = traced(true);
  const sim::MeasuredRun serial_run{&graph, &serial}, concurrent_run{&graph, &concurrent};
  const Machine one = sim::fit_calibration({&serial_run, 1}, std::nullopt, "serial");
  ASSERT_EQ(one.num_devices(), 3u);
  for (const DeviceSpec& d : one.devices) EXPECT_EQ(d.copy_engines, 1);
  EXPECT_EQ(one.calibration->copy_dispatch, 0.0);
  expect_relative(one.calibration->copy_gap, 2e-6, 1e-9, "copy gap after the engine frees");
  const Machine independent = sim::fit_calibration({&concurrent_run, 1}, std::nullopt, "concurrent");
  for (const DeviceSpec& d : independent.devices) EXPECT_EQ(d.copy_engines, 0);
}

// Producers on devices 0 and 1 send 2 MB each to device 2, 30 times one at a time (10 us each)
// and 30 times together: taking 20 us each when the destination's ingress is shared, 10 us when not.
TEST(CalibrationFit, SharedIngressFromTheRateOfCopiesIntoTheSameDevice) {
  TaskGraph graph;
  for (int i = 0; i < 120; ++i) graph.add_op({"p" + std::to_string(i), "join", {}, {}, 1e9, 1e6, 1e6, 2e6});
  const auto traced = [&](double together) {
    Trace trace;
    OpId id = 0;
    const auto copy = [&](DeviceId src, double start, double end) {  // its producer just before
      trace.records.push_back(
          {TraceRecord::Kind::compute, id, src, src, 0, (start - 5) * 1e-6, start * 1e-6, 0});
      trace.records.push_back({TraceRecord::Kind::transfer, id, 2, src, 0, start * 1e-6, end * 1e-6, 2e6});
      ++id;
    };
    for (int i = 0; i < 30; ++i) {
      const double t = 200.0 * i;
      copy(0, t + 10, t + 20);  // alone, one after another
      copy(1, t + 30, t + 40);
      copy(0, t + 100, t + 100 + together);  // together
      copy(1, t + 100, t + 100 + together);
    }
    return trace;
  };
  const Trace shared = traced(20), independent = traced(10);
  const sim::MeasuredRun shared_run{&graph, &shared}, independent_run{&graph, &independent};
  for (const DeviceSpec& d : sim::fit_calibration({&shared_run, 1}, std::nullopt, "shared").devices)
    EXPECT_TRUE(d.shared_ingress);
  for (const DeviceSpec& d : sim::fit_calibration({&independent_run, 1}, std::nullopt, "independent").devices)
    EXPECT_FALSE(d.shared_ingress);
}

TEST(Calibration, RecoversTheTrueMachineFromSimulatedRuns) {
  const Machine machine = truth();
  const Runs runs = training_runs(machine);
  const Machine fitted = sim::fit_calibration(runs.measured(), std::nullopt, "simulated");
  ASSERT_TRUE(fitted.calibration);
  const Calibration& c = *fitted.calibration;
  const Calibration& t = *machine.calibration;
  EXPECT_EQ(c.kinds.size(), t.kinds.size());
  const KindCalibration& join = c.kinds.at("join");
  expect_relative(join.flop_rate, t.kinds.at("join").flop_rate, 1e-6, "join flop rate");
  expect_relative(join.bandwidth, t.kinds.at("join").bandwidth, 1e-6, "join bandwidth");
  for (const auto& [kind, k] : t.kinds)
    expect_relative(c.kinds.at(kind).overhead, k.overhead, 1e-6, kind + " overhead");
  expect_relative(c.kinds.at("repartition").bandwidth, 0.8e12, 1e-6, "repartition bandwidth");
  EXPECT_NEAR(c.concurrency_slowdown, 1, 1e-9);  // the simulator does not slow kernels during copies
  EXPECT_EQ(fitted.num_devices(), 2u);
  for (const auto& [src, dst] : {std::pair{0u, 1u}, std::pair{1u, 0u}}) {
    expect_relative(fitted.link(src, dst).bandwidth, machine.link(src, dst).bandwidth, 1e-6,
                    "link bandwidth");
    expect_relative(fitted.link(src, dst).latency, machine.link(src, dst).latency, 1e-6, "link latency");
  }
  // Launch overhead: the median of the per-kind overheads.
  expect_relative(fitted.devices[0].launch_overhead, 4.5e-6, 1e-6, "launch overhead");
}

TEST(Calibration, ReplaysTheMeasuredRunsExactly) {
  const Runs runs = training_runs(truth());
  const Machine fitted = sim::fit_calibration(runs.measured(), std::nullopt, "simulated");
  std::vector<double> predicted;
  for (std::size_t i = 0; i < runs.traces.size(); ++i) {
    sim::Simulator simulator(runs.graphs[runs.graph_of[i]], fitted, sim::CostModelKind::roofline);
    predicted.push_back(simulator.run(runs.plans[i]).makespan);
  }
  EXPECT_LT(sim::mape(predicted, runs.makespans), 1e-6);
  sim::RankAgreement ranks;
  ranks.add_group(predicted, runs.makespans);
  EXPECT_DOUBLE_EQ(ranks.tau().value(), 1.0);
}

TEST(Calibration, TablesAnswerExactShapesAndTheRooflineUnseenOnes) {
  const Machine machine = truth();
  Machine fitted = sim::fit_calibration(training_runs(machine).measured(), std::nullopt, "simulated");
  // An exact shape answers from the table, even against its kind's roofline.
  KindCalibration& join = fitted.calibration->kinds.at("join");
  ASSERT_FALSE(join.table.empty());
  ShapeTime& entry = join.table.front();
  entry.time = 1.0;
  TaskGraph probe;
  probe.add_op({"exact", "join", {}, {}, entry.flops, entry.bytes, 0, 0});
  probe.add_op({"unseen", "join", {}, {}, entry.flops * 3 + 1e9, entry.bytes * 5 + 1e6, 0, 0});
  probe.add_op({"other kind", "softmax", {}, {}, 1e9, 1e6, 0, 0});
  const sim::CostTable costs(probe, fitted, sim::CostModelKind::roofline);
  EXPECT_EQ(costs.compute(0, 1), 1.0);
  expect_relative(costs.compute(1, 0),
                  machine.calibration->kinds.at("join").roofline(probe.op(1).flops, probe.op(1).bytes_read),
                  1e-6, "unseen join shape");
  const DeviceSpec& d = fitted.devices[0];
  EXPECT_DOUBLE_EQ(costs.compute(2, 0),
                   std::max(1e9 / d.flops, 1e6 / d.memory_bandwidth) + d.launch_overhead);
  // The paper model ignores the calibration.
  EXPECT_DOUBLE_EQ(sim::CostTable(probe, fitted, sim::CostModelKind::paper).compute(0, 0),
                   std::max(entry.flops / d.flops, entry.bytes / d.memory_bandwidth) + d.launch_overhead);
}

TEST(Calibration, TheFittedRooflinePredictsGraphsOfUnseenSizes) {
  const Machine machine = truth();
  const Machine fitted = sim::fit_calibration(training_runs(machine).measured(), std::nullopt, "simulated");
  for (const TaskGraph& g : {ffnn(96, 384), chain(768)}) {
    const sim::CostTable expected(g, machine, sim::CostModelKind::roofline);
    const sim::CostTable actual(g, fitted, sim::CostModelKind::roofline);
    for (OpId op = 0; op < g.num_ops(); ++op)
      expect_relative(actual.compute(op, 0), expected.compute(op, 0), 1e-6, g.op(op).name);
  }
}

TEST(Calibration, MachineYamlRoundTripsTheCalibration) {
  Machine fitted = sim::fit_calibration(training_runs(truth()).measured(), std::nullopt, "simulated");
  fitted.calibration->held_out.push_back({"ffnn", "heft"});
  fitted.calibration->dispatch_gap = 2.5e-6;
  fitted.calibration->arrival_latency = 1.5e-5;
  fitted.calibration->copy_dispatch = 7e-6;
  fitted.calibration->copy_gap = 3e-6;
  fitted.calibration->start_latency = 2e-5;
  fitted.calibration->host_load = 3e-6;
  fitted.calibration->host_copy = 1.1e-5;
  fitted.calibration->launch_latency = 1.5e-6;
  fitted.calibration->kinds.begin()->second.host_launch = 1.7e-5;
  fitted.calibration->kinds.begin()->second.host_table = {{1e9, 2e6, 2.5e-5, 4}};
  fitted.devices[1].shared_ingress = true;
  const Machine back = parse_machine_yaml(machine_to_yaml(fitted), "back.yaml");
  ASSERT_TRUE(back.calibration);
  EXPECT_EQ(machine_to_yaml(back), machine_to_yaml(fitted));
  EXPECT_EQ(back.calibration->held_out.at(0).placement, "heft");
  EXPECT_EQ(back.calibration->dispatch_gap, 2.5e-6);
  EXPECT_EQ(back.calibration->arrival_latency, 1.5e-5);
  EXPECT_EQ(back.calibration->copy_dispatch, 7e-6);
  EXPECT_EQ(back.calibration->copy_gap, 3e-6);
  EXPECT_TRUE(back.devices[1].shared_ingress);
  EXPECT_FALSE(back.devices[0].shared_ingress);
  EXPECT_EQ(back.calibration->start_latency, 2e-5);
  EXPECT_EQ(back.calibration->host_load, 3e-6);
  EXPECT_EQ(back.calibration->host_copy, 1.1e-5);
  EXPECT_EQ(back.calibration->launch_latency, 1.5e-6);
  for (const auto& [kind, k] : fitted.calibration->kinds) {
    const KindCalibration& b = back.calibration->kinds.at(kind);
    EXPECT_EQ(b.flop_rate, k.flop_rate) << kind;
    EXPECT_EQ(b.host_launch, k.host_launch) << kind;
    ASSERT_EQ(b.host_table.size(), k.host_table.size()) << kind;
    for (std::size_t i = 0; i < k.host_table.size(); ++i)
      EXPECT_EQ(b.host_table[i].time, k.host_table[i].time) << kind;
    ASSERT_EQ(b.table.size(), k.table.size()) << kind;
    for (std::size_t i = 0; i < k.table.size(); ++i) EXPECT_EQ(b.table[i].time, k.table[i].time) << kind;
  }
  EXPECT_EQ(back.link(1, 0).bandwidth, fitted.link(1, 0).bandwidth);
  EXPECT_NE(error_of([] {
              parse_machine_yaml(kTrueMachine + "  concurrency_slowdown: 0.5\n", "m.yaml");
            }).find("m.yaml:"),
            std::string::npos);
}

TEST(Calibration, BaseMachineMustHaveTheTracedDevices) {
  const Runs runs = training_runs(truth());
  const std::string message =
      error_of([&] { sim::fit_calibration(runs.measured(), abstract_machine(1), "simulated"); });
  EXPECT_NE(message.find("has 1 devices but the traces use 2"), std::string::npos) << message;
}

TEST(PredictionError, MapeAndKendallTau) {
  EXPECT_DOUBLE_EQ(sim::mape(std::vector<double>{1.1, 1.8}, std::vector<double>{1.0, 2.0}), 10.0);
  sim::RankAgreement ranks;
  ranks.add_group(std::vector<double>{1, 2, 3}, std::vector<double>{1, 3, 2});
  EXPECT_NEAR(ranks.tau().value(), 1.0 / 3, 1e-12);
  sim::RankAgreement one;
  one.add_group(std::vector<double>{1}, std::vector<double>{1});
  EXPECT_FALSE(one.tau());
}

// ---- traced runs on disk ----

class TracedRunFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("doppler-traced-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "run");
    graph_ = ffnn(64, 256);
    sim::Simulator simulator(graph_, truth(), sim::CostModelKind::roofline);
    plan_ = policies::place("heft", {simulator, 1});
    plan_.graph_fingerprint = graph_.fingerprint();
    const sim::SimResult result = simulator.run(plan_, true);
    write("config.yaml", "einsum: {workload: ffnn}\ndevices: 2\n");
    write("plan.yaml", plan_to_yaml(plan_));
    write("trace.csv", trace_to_csv(result.trace, graph_));
    write("run.yaml", "workload: ffnn\nplacement: heft\nconfig: config.yaml\nmakespan: " +
                          std::to_string(result.makespan) +
                          "\ndevices: 2\ngpu: {name: simulated, names: [a, b]}\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / "run" / name) << text;
  }
  std::string run_dir() const { return (dir_ / "run").string(); }

  std::filesystem::path dir_;
  TaskGraph graph_;
  Plan plan_;
};

TEST_F(TracedRunFiles, LoadsAndChecksAgainstItsGraph) {
  const TracedRun run = load_traced_run(run_dir());
  EXPECT_EQ(run.workload, "ffnn");
  EXPECT_EQ(run.placement, "heft");
  EXPECT_EQ(run.devices, 2u);
  EXPECT_EQ(run.queue_depth, 0);  // not recorded
  EXPECT_EQ(run.gpu.name, "simulated");
  EXPECT_EQ(run.gpu.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(run.plan.device, plan_.device);
  EXPECT_EQ(run.trace.trace.records.size(),
            graph_.num_ops() +
                std::count_if(run.trace.trace.records.begin(), run.trace.trace.records.end(),
                              [](const TraceRecord& r) { return r.kind == TraceRecord::Kind::transfer; }));
  EXPECT_NO_THROW(check_traced_run(run, graph_));
  EXPECT_EQ(find_traced_runs(dir_.string()), std::vector<std::string>{run_dir()});
}

TEST_F(TracedRunFiles, MissingRunYaml) {
  std::filesystem::remove(dir_ / "run" / "run.yaml");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            run_dir() + "/run.yaml: missing (a traced run directory needs run.yaml)");
  EXPECT_EQ(error_of([&] { find_traced_runs(dir_.string()); }),
            dir_.string() + ": no traced runs (directories holding run.yaml)");
}

TEST_F(TracedRunFiles, RunYamlErrorsNameTheLine) {
  write("run.yaml", "workload: ffnn\nconfig: config.yaml\nmakespan: 1\ndevices: 2\nspeed: 3\n");
  EXPECT_EQ(
      error_of([&] { load_traced_run(run_dir()); }),
      run_dir() +
          "/run.yaml:5: unknown key 'speed' (known: workload, placement, config, plan, trace, makespan, "
          "devices, queue_depth, gpu)");
  write("run.yaml", "workload: ffnn\nconfig: config.yaml\nmakespan: 1\ndevices: 2\nqueue_depth: 0\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            run_dir() + "/run.yaml:5: 'queue_depth' must be 1..1024");
  write("run.yaml", "workload: ffnn\nconfig: nowhere.yaml\nmakespan: 1\ndevices: 2\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            run_dir() + "/run.yaml:2: 'config': no file '" + run_dir() + "/nowhere.yaml'");
}

TEST_F(TracedRunFiles, PlanForAnotherGraph) {
  const TracedRun run = load_traced_run(run_dir());
  const std::string message = error_of([&] { check_traced_run(run, chain(512)); });
  EXPECT_EQ(message.rfind(run_dir() + "/plan.yaml: plan", 0), 0u) << message;
}

TEST_F(TracedRunFiles, MalformedCsvNamesFileAndLine) {
  const std::string csv = run_dir() + "/trace.csv";
  write(
      "trace.csv",
      "kind,op,name,device,src,stream,start,end,bytes\ncompute,0,x,0,,0,0,1,0\ncompute,1,y,0,,0,zero,1,0\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            csv + ":3: column 'start' = 'zero' is not a finite number");
  write("trace.csv", "kind,op,device\n");
  EXPECT_EQ(error_of([&] { load_trace_csv(csv); }),
            csv + ":1: expected the header 'kind,op,name,device,src,stream,start,end,bytes'");
  write("trace.csv", "kind,op,name,device,src,stream,start,end,bytes\ncompute,0,x,0,,0,2,1,0\n");
  EXPECT_EQ(error_of([&] { load_trace_csv(csv); }), csv + ":2: end 1 is before start 2");
  write("trace.csv", "kind,op,name,device,src,stream,start,end,bytes\ntransfer,0,x,1,1,,0,1,8\n");
  EXPECT_EQ(error_of([&] { load_trace_csv(csv); }), csv + ":2: a transfer's src and device must differ");
}

TEST_F(TracedRunFiles, LaunchTimesBesideTheTraceAreReadAndChecked) {
  const std::string csv = run_dir() + "/launches.csv";
  EXPECT_TRUE(load_traced_run(run_dir()).launches.empty());
  write("launches.csv", "kind,op,device,src,launched\ncompute,0,1,,0.000002\ntransfer,0,0,1,0.000004\n");
  const TracedRun run = load_traced_run(run_dir());
  ASSERT_EQ(run.launches.size(), 2u);
  EXPECT_EQ(run.launches[1].kind, TraceRecord::Kind::transfer);
  EXPECT_EQ(run.launches[1].device, 0u);
  EXPECT_EQ(run.launches[1].src, 1u);
  EXPECT_DOUBLE_EQ(run.launches[1].launched, 4e-6);
  EXPECT_TRUE(std::isnan(run.launches[1].submitted));  // a file from before the column
  // Since 2026-11-28: when the launch call returned; empty where nothing was launched.
  write("launches.csv",
        "kind,op,device,src,launched,submitted\ncompute,0,1,,0.000002,\ntransfer,0,0,1,0.000004,"
        "0.000006\n");
  const TracedRun submitted = load_traced_run(run_dir());
  ASSERT_EQ(submitted.launches.size(), 2u);
  EXPECT_TRUE(std::isnan(submitted.launches[0].submitted));
  EXPECT_DOUBLE_EQ(submitted.launches[1].submitted, 6e-6);
  write("launches.csv", "kind,op,device,src,launched,submitted\ncompute,0,1,,0.000002,0.000001\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            csv + ":2: submitted 0.000001 is before launched 0.000002");
  write("launches.csv", "kind,op,device,src,launched,submitted\ncompute,0,1,,0.000002\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            csv + ":2: expected 6 columns (kind,op,device,src,launched,submitted), got 5");
  write("launches.csv", "kind,op,device,src,launched\ncompute,0,7,,0.000002\n");
  EXPECT_EQ(error_of([&] { check_traced_run(load_traced_run(run_dir()), graph_); }),
            csv + ":2: device 7 is not one of the run's 2 devices");
  const DeviceId other = 1 - plan_.device[0];
  write("launches.csv", "kind,op,device,src,launched\ncompute,0," + std::to_string(other) + ",,0.000002\n");
  EXPECT_EQ(error_of([&] { check_traced_run(load_traced_run(run_dir()), graph_); }),
            csv + ":2: op '" + graph_.op(0).name + "' was launched on device " + std::to_string(other) +
                " but " + run_dir() + "/plan.yaml places it on device " + std::to_string(plan_.device[0]));
  write("launches.csv", "kind,op,device,src,launched\ntransfer,0,1,1,0.000002\n");
  EXPECT_EQ(error_of([&] { check_traced_run(load_traced_run(run_dir()), graph_); }),
            csv + ":2: a transfer's src and device must differ");
  write("launches.csv", "kind,op,device,src,launched\ncompute,0,0,,soon\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            csv + ":2: column 'launched' = 'soon' is not a finite number");
  write("launches.csv", "kind,op,device\n");
  EXPECT_EQ(error_of([&] { load_traced_run(run_dir()); }),
            csv + ":1: expected the header 'kind,op,device,src,launched'");
}

TEST_F(TracedRunFiles, TraceOpsMustMatchTheGraph) {
  const std::string csv = run_dir() + "/trace.csv";
  write("trace.csv", "kind,op,name,device,src,stream,start,end,bytes\ncompute,0,not-x,0,,0,0,1,0\n");
  const TracedRun run = load_traced_run(run_dir());
  EXPECT_EQ(error_of([&] { check_traced_run(run, graph_); }),
            csv + ":2: op 0 is 'not-x' here but '" + graph_.op(0).name + "' in the graph of " + run.config);
}

// Names with commas are written RFC 4180-quoted (pandas and spreadsheets read them); unquoted ones
// from older files still read.
TEST(TraceCsv, ReadsBackTheWriterIncludingCommasInNamesAndHostCopies) {
  TaskGraph g;
  g.add_op({"a[i0,j1]", "join", {}, {}, 1, 1, 1, 8});
  Trace trace;
  trace.records.push_back({TraceRecord::Kind::compute, 0, 1, 1, 2, 0.5, 0.75, 0});
  trace.records.push_back({TraceRecord::Kind::transfer, 0, 0, 1, 0, 0.75, 1.0 / 3, 8});
  trace.records.back().end = 1.0 + 1.0 / 3;
  const TraceCsv back = parse_trace_csv(trace_to_csv(trace, g), "t.csv");
  ASSERT_EQ(back.trace.records.size(), 2u);
  EXPECT_EQ(back.names[0], "a[i0,j1]");
  EXPECT_EQ(back.trace.records[0].stream, 2);
  EXPECT_EQ(back.trace.records[1].end, 1.0 + 1.0 / 3);
  EXPECT_EQ(back.lines[1], 3u);
  const TraceCsv host = parse_trace_csv(
      "kind,op,name,device,src,stream,start,end,bytes\ntransfer,0,a,0,host,,0,1,8\n", "h.csv");
  EXPECT_EQ(host.trace.records[0].src, kHostDevice);
  const std::string csv = trace_to_csv(trace, g);
  EXPECT_NE(csv.find(",\"a[i0,j1]\","), std::string::npos) << csv;
  const TraceCsv legacy = parse_trace_csv(
      "kind,op,name,device,src,stream,start,end,bytes\ncompute,0,a[i0,j1],1,,2,0.5,0.75,0\n", "l.csv");
  EXPECT_EQ(legacy.names[0], "a[i0,j1]");
  EXPECT_EQ(legacy.trace.records[0].stream, 2);
  TaskGraph quotes;
  quotes.add_op({"say \"hi\", twice", "join", {}, {}, 1, 1, 1, 8});
  Trace one;
  one.records.push_back(trace.records[0]);
  EXPECT_EQ(parse_trace_csv(trace_to_csv(one, quotes), "q.csv").names[0], "say \"hi\", twice");
}

}  // namespace
