// Executing memory graphs in the simulator: peak memory within the budget, determinism, the lower
// bound, event-driven order against the fixed-order variant, budget violations caught, traces.
#include <gtest/gtest.h>

#include <array>

#include <cmath>
#include <iostream>
#include <random>
#include <stdexcept>

#include "doppler/error.hpp"
#include "doppler/memory/memory_plan.hpp"
#include "doppler/random_dag.hpp"
#include "doppler/sim/calibration.hpp"
#include "doppler/sim/memory_graph_engine.hpp"
#include "doppler/sim/memory_run_fit.hpp"
#include "doppler/trace.hpp"

namespace doppler::sim {
namespace {

using memory::CompileOrder;
using memory::MemNodeKind;
using memory::MemoryGraph;
using memory::MemoryPlanOptions;

struct Case {
  TaskGraph graph;
  Plan plan;
  Machine machine;
  MemoryPlanOptions options;
};

// Abstract devices (1 flop and 1 byte per unit); host links 4 bytes per unit with latency 1.
Case random_case(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Case c{random_dag({.num_ops = 60 + rng() % 60,
                     .mean_fan_in = 1.5,
                     .window = 10,
                     .max_compute = 400,
                     .max_comm = 300,
                     .seed = seed}),
         {},
         abstract_machine(1 + rng() % 2),
         {}};
  c.machine.host_to_device.assign(c.machine.num_devices(), LinkSpec{4, 1});
  c.machine.device_to_host.assign(c.machine.num_devices(), LinkSpec{4, 1});
  for (OpId v = 0; v < c.graph.num_ops(); ++v)
    c.plan.device.push_back(static_cast<DeviceId>(rng() % c.machine.num_devices()));
  c.options.alignment = 8;
  c.options.host_input.assign(c.graph.num_ops(), false);
  for (OpId v = 0; v < c.graph.num_ops(); ++v) c.options.host_input[v] = c.graph.predecessors(v).empty();
  const std::uint64_t need = memory::largest_op_need(c.graph, c.options).bytes;
  const std::uint64_t full = memory::working_set_bytes(c.graph, c.plan, c.options);
  c.options.budget = std::max(need, full * (25 + rng() % 60) / 100);
  return c;
}

TEST(MemoryGraphSim, PeakWithinBudgetDeterministicAndAboveTheLowerBound) {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Case c = random_case(seed);
    const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
    const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
    const MemoryRunResult a = run_memory_graph(mg, c.graph, c.machine, costs, true);
    const MemoryRunResult b = run_memory_graph(mg, c.graph, c.machine, costs, true);
    for (const std::uint64_t peak : a.peak_bytes) EXPECT_LE(peak, c.options.budget);
    EXPECT_GE(a.makespan, a.lower_bound * (1 - 1e-12));
    EXPECT_GT(a.lower_bound, 0);
    EXPECT_EQ(a.makespan, b.makespan);
    ASSERT_EQ(a.trace.records.size(), b.trace.records.size());
    for (std::size_t i = 0; i < a.trace.records.size(); ++i) {
      EXPECT_EQ(a.trace.records[i].start, b.trace.records[i].start);
      EXPECT_EQ(a.trace.records[i].end, b.trace.records[i].end);
      EXPECT_EQ(a.trace.records[i].op, b.trace.records[i].op);
    }
    EXPECT_EQ(a.bytes_loaded, mg.bytes_of(MemNodeKind::kLoad));
    EXPECT_EQ(a.bytes_evicted, mg.bytes_of(MemNodeKind::kEvict));
    EXPECT_EQ(a.trace.records.size(), mg.count(MemNodeKind::kOp) + mg.count(MemNodeKind::kLoad) +
                                          mg.count(MemNodeKind::kEvict) + mg.count(MemNodeKind::kCopy));
  }
}

// Event-driven execution of a memory graph against the same graph with one order imposed per
// resource. Not a theorem: a greedy, non-preemptive runtime can start a transfer that delays a
// more urgent one (a list-scheduling anomaly), so a single graph may come out slightly slower.
// Over random graphs: never more than 1% slower, strictly faster on many, faster on average.
TEST(MemoryGraphSim, EventDrivenOrderBeatsTheFixedOrder) {
  int faster = 0;
  double log_ratio = 0;
  const int seeds = 60;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Case c = random_case(seed);
    c.options.order =
        std::array{CompileOrder::kPlan, CompileOrder::kMinGrowth, CompileOrder::kLookahead}[seed % 3];
    const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
    const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
    const double event_driven = run_memory_graph(mg, c.graph, c.machine, costs).makespan;
    const double fixed = run_memory_graph(memory::with_fixed_order(mg), c.graph, c.machine, costs).makespan;
    EXPECT_LE(event_driven, fixed * 1.01);
    faster += event_driven < fixed;
    log_ratio += std::log(event_driven / fixed);
  }
  EXPECT_GT(faster, seeds / 2);
  EXPECT_LT(std::exp(log_ratio / seeds), 0.98) << "geometric mean of event-driven / fixed";
  std::cout << "event-driven / fixed: faster on " << faster << " of " << seeds << ", geometric mean "
            << std::exp(log_ratio / seeds) << "\n";
}

// Jitter: seeded per node, so a run repeats exactly, another seed differs, and the event-driven
// and fixed-order runs of one graph draw the same durations (equal compute and link bounds).
TEST(MemoryGraphSim, JitterIsSeededPerNodeAndKeepsTheBounds) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Case c = random_case(seed);
    const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
    const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
    const MemoryRunOptions jittered{.jitter = 0.3, .seed = seed};
    const MemoryRunResult a = run_memory_graph(mg, c.graph, c.machine, costs, jittered);
    const MemoryRunResult b = run_memory_graph(mg, c.graph, c.machine, costs, jittered);
    const MemoryRunResult other =
        run_memory_graph(mg, c.graph, c.machine, costs, {.jitter = 0.3, .seed = seed + 100});
    const MemoryRunResult plain = run_memory_graph(mg, c.graph, c.machine, costs);
    const MemoryRunResult fixed =
        run_memory_graph(memory::with_fixed_order(mg), c.graph, c.machine, costs, jittered);
    EXPECT_EQ(a.makespan, b.makespan);
    EXPECT_NE(a.makespan, other.makespan);
    EXPECT_NE(a.makespan, plain.makespan);
    EXPECT_GE(a.makespan, a.lower_bound * (1 - 1e-12));
    EXPECT_GE(fixed.makespan, fixed.lower_bound * (1 - 1e-12));
    EXPECT_NEAR(a.compute_bound, fixed.compute_bound, 1e-9 * a.compute_bound);
    EXPECT_NEAR(a.host_link_bound, fixed.host_link_bound, 1e-9 * a.host_link_bound);
    for (const std::uint64_t peak : a.peak_bytes) EXPECT_LE(peak, c.options.budget);
  }
  const Case c = random_case(1);
  const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
  const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
  EXPECT_THROW(run_memory_graph(mg, c.graph, c.machine, costs, {.jitter = 1.0}), std::logic_error);
}

TEST(MemoryGraphSim, TimesFollowTheHostLinks) {
  // One op reading a host input of 400 bytes: load (1 + 400/4) then compute (flops 50).
  TaskGraph graph;
  Op x;
  x.name = "x";
  x.output_bytes = 400;
  Op y;
  y.name = "y";
  y.flops = 50;
  y.output_bytes = 8;
  graph.add_op(x);
  graph.add_op(y);
  graph.add_edge(0, 1);
  Machine machine = abstract_machine(1);
  machine.host_to_device = {LinkSpec{4, 1}};
  Plan plan;
  plan.device = {0, 0};
  MemoryPlanOptions options;
  options.host_input = {true, false};
  options.alignment = 8;
  const MemoryGraph mg = memory::compile_memory_graph(graph, plan, options);
  const CostTable costs(graph, machine, CostModelKind::roofline);
  const MemoryRunResult r = run_memory_graph(mg, graph, machine, costs, true);
  EXPECT_DOUBLE_EQ(r.makespan, 101 + 50);
  EXPECT_DOUBLE_EQ(r.lower_bound, 100);  // host bytes / bandwidth; compute is 50
  ASSERT_EQ(r.trace.records.size(), 2u);
  EXPECT_EQ(r.trace.records[0].src, kHostDevice);
  EXPECT_NE(trace_to_csv(r.trace, graph).find("transfer,0,x,0,host,,0,101,400"), std::string::npos)
      << trace_to_csv(r.trace, graph);
  EXPECT_NE(trace_to_chrome_json(r.trace, graph).find("host -> "), std::string::npos);
  // The same records without device names (a trace built by hand): an error, not a crash.
  Trace unnamed = r.trace;
  unnamed.device_names.clear();
  EXPECT_THROW(trace_to_chrome_json(unnamed, graph), doppler::Error);
  // memory::node_trace_record gives the simulator's rows: the load is a host -> device transfer.
  const auto load = memory::node_trace_record(mg.nodes[1], 0, 101);
  ASSERT_TRUE(load.has_value());
  EXPECT_EQ(load->kind, TraceRecord::Kind::transfer);
  EXPECT_EQ(load->src, kHostDevice);
  EXPECT_EQ(load->device, 0u);
  EXPECT_FALSE(memory::node_trace_record(mg.nodes[0], 0, 0).has_value());  // the alloc
}

struct OpSpec {
  const char* name;
  double flops;
  double output_bytes;
};

// A graph of these ops, without edges.
TaskGraph graph_of(std::initializer_list<OpSpec> ops) {
  TaskGraph graph;
  for (const OpSpec& spec : ops) {
    Op op;
    op.name = spec.name;
    op.flops = spec.flops;
    op.output_bytes = spec.output_bytes;
    graph.add_op(op);
  }
  return graph;
}

TEST(MemoryGraphSim, KernelsSlowWhileCopiesRun) {
  // x (a 400-byte host input) loads over 0..101 while z (60, independent) computes; y (50) reads x.
  // With concurrency_slowdown 2, z advances at half speed until the load ends: 101 + (60 - 101 / 2).
  TaskGraph graph = graph_of({{"x", 0, 400}, {"y", 50, 8}, {"z", 60, 8}});
  graph.add_edge(0, 1);
  Machine machine = abstract_machine(1);
  machine.host_to_device = {LinkSpec{4, 1}};
  Plan plan;
  plan.device = {0, 0, 0};
  MemoryPlanOptions options;
  options.host_input = {true, false, false};
  options.alignment = 8;
  const MemoryGraph mg = memory::compile_memory_graph(graph, plan, options);
  const CostTable costs(graph, machine, CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(run_memory_graph(mg, graph, machine, costs).makespan, 101 + 50);
  machine.calibration.emplace();
  machine.calibration->concurrency_slowdown = 2;
  const MemoryRunResult r = run_memory_graph(mg, graph, machine, costs, true);
  EXPECT_DOUBLE_EQ(r.makespan, 101 + (60 - 101 / 2.0) + 50);
  EXPECT_DOUBLE_EQ(r.compute_bound, 110);  // kernel times alone
  for (const TraceRecord& t : r.trace.records) {
    if (t.kind == TraceRecord::Kind::compute && t.op == 2) {
      EXPECT_DOUBLE_EQ(t.end - t.start, 110.5);
    }
    if (t.kind == TraceRecord::Kind::compute && t.op == 1) {
      EXPECT_DOUBLE_EQ(t.end - t.start, 50);  // no copy runs
    }
  }
  // Covered for longer than the kernel needs at half speed: twice its time.
  machine.calibration->concurrency_slowdown = 1.5;
  EXPECT_DOUBLE_EQ(run_memory_graph(mg, graph, machine, costs).makespan, 101 + 50);
  // fit_trace_slowdown reads the slowdown back: z took 50.5 more while the load covered 101 of it.
  const std::vector<Trace> traces{r.trace};
  EXPECT_NEAR(fit_trace_slowdown(traces, [&](const TraceRecord& t) { return costs.compute(t.op, t.device); }),
              2, 1e-9);
}

// x and z are 400-byte host inputs; y = f(x) (50 flops), w = g(y, z) (30 flops). With a budget of
// 416 bytes z's load must wait until y has run and x is freed.
struct LatencyCase {
  TaskGraph graph = graph_of({{"x", 0, 400}, {"y", 50, 8}, {"z", 0, 400}, {"w", 30, 8}});
  Machine machine = abstract_machine(1);
  Plan plan;
  MemoryPlanOptions options;
  LatencyCase(std::uint64_t budget) {
    graph.add_edge(0, 1);
    graph.add_edge(1, 3);
    graph.add_edge(2, 3);
    machine.host_to_device = {LinkSpec{4, 1}};
    plan.device = {0, 0, 0, 0};
    options.host_input = {true, false, true, false};
    options.alignment = 8;
    options.budget = budget;
  }
  void set_latencies(double dispatch, double gap, double arrival) {
    if (!machine.calibration) machine.calibration.emplace();
    machine.calibration->copy_dispatch = dispatch;
    machine.calibration->copy_gap = gap;
    machine.calibration->arrival_latency = arrival;
  }
};

// Every timed node's (start, end) from a simulated trace (ops and loads, one record each here).
std::pair<std::vector<double>, std::vector<double>> node_times(const MemoryGraph& mg, const Trace& trace) {
  std::vector<double> start(mg.nodes.size(), 0), end(mg.nodes.size(), 0);
  for (std::size_t i = 0; i < mg.nodes.size(); ++i) {
    const bool load = mg.nodes[i].kind == MemNodeKind::kLoad;
    if (!load && mg.nodes[i].kind != MemNodeKind::kOp) continue;
    for (const TraceRecord& r : trace.records)
      if (r.op == mg.nodes[i].tensor && (r.kind == TraceRecord::Kind::transfer) == load) {
        start[i] = r.start;
        end[i] = r.end;
      }
  }
  return {start, end};
}

TEST(MemoryGraphSim, CalibratedLatenciesDelayStarts) {
  LatencyCase c(416);
  const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
  const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
  // load x 0..101, y 101..151, load z 151..252, w 252..282.
  EXPECT_DOUBLE_EQ(run_memory_graph(mg, c.graph, c.machine, costs).makespan, 282);
  // y and w wait the arrival latency (3) after their loads, z's load the copy dispatch (5) after y.
  c.set_latencies(5, 7, 3);
  const MemoryRunResult r = run_memory_graph(mg, c.graph, c.machine, costs, true);
  EXPECT_DOUBLE_EQ(r.makespan, 282 + 3 + 5 + 3);
  EXPECT_DOUBLE_EQ(r.lower_bound, 200);  // latencies are not in the bound
  // fit_memory_run_latencies reads dispatch and arrival back (no transfer waited for another here).
  const auto [start, end] = node_times(mg, r.trace);
  const MeasuredMemoryRun run{&mg, start, end};
  const MemoryRunLatencies fitted = fit_memory_run_latencies(std::span(&run, 1));
  EXPECT_DOUBLE_EQ(fitted.copy_dispatch, 5);
  EXPECT_DOUBLE_EQ(fitted.arrival_latency, 3);
  EXPECT_DOUBLE_EQ(fitted.copy_gap, 0);

  // Unlimited memory: both loads at once; z's waits the copy gap (7) after x's, not the dispatch.
  LatencyCase free_memory(0);
  const MemoryGraph both =
      memory::compile_memory_graph(free_memory.graph, free_memory.plan, free_memory.options);
  free_memory.set_latencies(5, 7, 3);
  const MemoryRunResult g = run_memory_graph(both, free_memory.graph, free_memory.machine, costs, true);
  // load x 0..101, y 104..154, load z 108..209, w 212..242.
  EXPECT_DOUBLE_EQ(g.makespan, 242);
  const auto [gap_start, gap_end] = node_times(both, g.trace);
  const MeasuredMemoryRun gap_run{&both, gap_start, gap_end};
  const MemoryRunLatencies gap_fit = fit_memory_run_latencies(std::span(&gap_run, 1));
  EXPECT_DOUBLE_EQ(gap_fit.copy_gap, 7);
  EXPECT_DOUBLE_EQ(gap_fit.arrival_latency, 3);
  EXPECT_THROW(fit_memory_run_latencies(std::vector<MeasuredMemoryRun>{{&both, gap_start, {}}}),
               std::logic_error);
}

TEST(MemoryGraphSim, FitsTheGapBetweenBackToBackKernels) {
  // Two independent ops, both ready at once: the second starts 3 after the first ends.
  const TaskGraph graph = graph_of({{"a", 10, 8}, {"b", 10, 8}});
  Plan plan;
  plan.device = {0, 0};
  MemoryPlanOptions options;
  options.alignment = 8;
  const MemoryGraph mg = memory::compile_memory_graph(graph, plan, options);
  std::vector<double> start(mg.nodes.size(), 0), end(mg.nodes.size(), 0);
  double next = 0;
  for (std::size_t i = 0; i < mg.nodes.size(); ++i) {
    if (mg.nodes[i].kind != MemNodeKind::kOp) continue;
    start[i] = next;
    end[i] = next + 10;
    next = end[i] + 3;
  }
  const MeasuredMemoryRun run{&mg, start, end};
  const MemoryRunLatencies fitted = fit_memory_run_latencies(std::span(&run, 1));
  EXPECT_DOUBLE_EQ(fitted.dispatch_gap, 3);
  EXPECT_DOUBLE_EQ(fitted.arrival_latency, 0);
}

TEST(MemoryGraphSim, ReplaysGivenDurations) {
  LatencyCase c(416);
  const MemoryGraph mg = memory::compile_memory_graph(c.graph, c.plan, c.options);
  const CostTable costs(c.graph, c.machine, CostModelKind::roofline);
  std::vector<double> durations(mg.nodes.size(), 10);
  // Four timed nodes in a chain (load x, y, load z, w); allocs and frees stay instant; no slowdown.
  c.machine.calibration.emplace();
  c.machine.calibration->concurrency_slowdown = 3;
  EXPECT_DOUBLE_EQ(run_memory_graph(mg, c.graph, c.machine, costs, {.durations = durations}).makespan, 40);
  durations.pop_back();
  EXPECT_THROW(run_memory_graph(mg, c.graph, c.machine, costs, {.durations = durations}), std::logic_error);
}

TEST(MemoryGraphSim, BudgetViolationsAreInternalErrors) {
  TaskGraph graph;
  Op a;
  a.name = "a";
  a.flops = 1;
  a.output_bytes = 64;
  graph.add_op(a);
  a.name = "b";
  graph.add_op(a);
  Machine machine = abstract_machine(1);
  const CostTable costs(graph, machine, CostModelKind::roofline);
  MemoryGraph mg;
  mg.num_devices = 1;
  mg.budget = 100;
  mg.planned_peak = {0};
  memory::MemNode alloc;
  alloc.kind = MemNodeKind::kAlloc;
  alloc.tensor = 0;
  alloc.region = {0, 0, 64};
  mg.nodes.push_back(alloc);
  alloc.tensor = 1;
  alloc.region = {0, 32, 64};  // overlaps the first region, no reuse edge
  mg.nodes.push_back(alloc);
  EXPECT_THROW(run_memory_graph(mg, graph, machine, costs), std::logic_error);
  mg.nodes[1].region = {0, 64, 64};  // beyond the budget of 100
  EXPECT_THROW(run_memory_graph(mg, graph, machine, costs), std::logic_error);
  mg.budget = 128;
  EXPECT_NO_THROW(run_memory_graph(mg, graph, machine, costs));
}

}  // namespace
}  // namespace doppler::sim
