// The launch-ahead engine (sim/issue_engine.hpp): a calibrated machine with issue_depth k > 0
// replays the CUDA backend, which enqueues an op once its inputs are enqueued and runs each
// stream in issue order. Every expected number here is worked out by hand.
#include <gtest/gtest.h>

#include <random>

#include <string>
#include <utility>
#include <vector>

#include "doppler/error.hpp"
#include "doppler/machine.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler {
namespace {

// Two devices: 10 flop/s, 100 B/s, launch overhead 1; links 4 B/s with latency 2; the calibration
// adds `extra` (e.g. issue_depth) and no task kinds (roofline times).
Machine machine(const std::string& extra) {
  return parse_machine_yaml(
      "name: t\ndevices:\n  count: 2\n  template: {flops: 10, memory_bandwidth: 100, streams: 1, "
      "launch_overhead: 1}\ninterconnect:\n  default: {bandwidth: 4, latency: 2}\ncalibration: {" +
          extra + "}\n",
      "t.yaml");
}

Op op(double flops, double bytes_out) {
  Op o;
  o.flops = flops;
  o.output_bytes = bytes_out;
  return o;
}

// a (device 0, 10) sends 40 bytes (12) to c (device 1, 10); b (device 1, 10) is independent.
TaskGraph fork() {
  TaskGraph g("g");
  g.add_op(op(90, 40));  // a
  g.add_op(op(90, 0));   // b
  g.add_op(op(90, 0));   // c
  g.add_edge(0, 2);
  return g;
}

TEST(IssueEngine, AnOpIssuedAheadHoldsItsStreamUntilItsInputArrives) {
  const TaskGraph g = fork();
  Plan plan;
  plan.device = {0, 1, 1};
  plan.priority = {0, 2, 1};  // c before b on device 1
  // Ideal engine: b runs 0..10 while a's copy runs 10..22; c 22..32.
  sim::Simulator ideal(g, machine(""), sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(ideal.run(plan).makespan, 32);
  // Launch-ahead: c is issued at 0 (its copy is enqueued behind a) ahead of b, waits for the copy
  // 22..32 and b queues behind it on the one stream: 32..42.
  sim::Simulator ahead(g, machine("issue_depth: 2"), sim::CostModelKind::roofline);
  const sim::SimResult r = ahead.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 42);
  EXPECT_EQ(r.transfers, 1u);
  // b first: b 0..10, c 22..32 as in the ideal engine.
  plan.priority = {0, 1, 2};
  EXPECT_DOUBLE_EQ(ahead.run(plan).makespan, 32);
}

TEST(IssueEngine, ArrivalLatencyAndStartLatencyDelayTheConsumer) {
  const TaskGraph g = fork();
  Plan plan;
  plan.device = {0, 1, 1};
  plan.priority = {0, 1, 2};
  // Start 5: a 5..15, copy 15..27, c after b (5..15) and the copy's arrival 27 + 3: 30..40.
  sim::Simulator s(g, machine("issue_depth: 4, arrival_latency: 3, start_latency: 5"),
                   sim::CostModelKind::roofline);
  const sim::SimResult r = s.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 40);
  for (const TraceRecord& rec : r.trace.records) {
    if (rec.kind == TraceRecord::Kind::compute && rec.op == 2) {
      EXPECT_DOUBLE_EQ(rec.start, 30);
    }
  }
}

TEST(IssueEngine, DepthOneIssuesTheNextOpOnlyWhenTheStreamEmpties) {
  // Chain a -> b on device 0 and an independent d on device 0: depth 1 runs them one by one in
  // priority order, with no gaps (a 0..10, b 10..20, d 20..30); device 1 idles.
  TaskGraph g("g");
  g.add_op(op(90, 0));
  g.add_op(op(90, 0));
  g.add_op(op(90, 0));
  g.add_edge(0, 1);
  Plan plan;
  plan.device = {0, 0, 0};
  plan.priority = {0, 1, 2};
  sim::Simulator s(g, machine("issue_depth: 1"), sim::CostModelKind::roofline);
  const sim::SimResult r = s.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 30);
  EXPECT_DOUBLE_EQ(r.busy[0], 30);
}

TEST(IssueEngine, LowerBoundAndUtilisationCountStreamsNotIssueSlots) {
  // Four independent ops of 10: 40 of work over 2 devices x 1 stream, not over 2 x 3 slots.
  TaskGraph g("g");
  for (int i = 0; i < 4; ++i) g.add_op(op(90, 0));
  Plan plan;
  plan.device = {0, 0, 1, 1};
  sim::Simulator s(g, machine("issue_depth: 3"), sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(s.lower_bound(), 20);
  const sim::SimResult r = s.run(plan);
  EXPECT_DOUBLE_EQ(r.makespan, 20);
  EXPECT_DOUBLE_EQ(r.utilisation[0], 1.0);
}

TEST(IssueEngine, LowerBoundCountsTheHostThreads) {
  // Four ops of kind a (launch 30) and four of kind b (launch 10), each taking 10, and one of kind z
  // that takes no time (a load: host_load 2), on 2 devices, start latency 5: the busiest thread
  // launches at least 162 / 2 = 81, its last launch no earlier than 5 + 81 - 30 (the longest
  // launch) = 56, so that is the bound (the work bound is 40). Random placements, one device left
  // empty among them, end no earlier.
  TaskGraph g("g");
  for (int i = 0; i < 8; ++i) {
    Op o = op(90, 0);
    o.kind = i < 4 ? "a" : "b";
    g.add_op(o);
  }
  Op load = op(0, 0);
  load.kind = "z";  // a kind without limits: takes no time
  g.add_op(load);
  const std::string a = "a: {flop_rate: 10, bandwidth: 100, overhead: 1",
                    b = "b: {flop_rate: 10, bandwidth: 100, overhead: 1";
  const std::string host = "format: 2, issue_depth: 4, start_latency: 5, host_load: 2, kinds: {" + a +
                           ", host_launch: 30}, " + b + ", host_launch: 10}, z: {}}";
  sim::Simulator s(g, machine(host), sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(s.lower_bound(), 56);
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    Plan plan;
    for (OpId i = 0; i < g.num_ops(); ++i)
      plan.device.push_back(trial == 0 ? 0 : trial == 1 ? i % 2 : static_cast<DeviceId>(rng() % 2));
    EXPECT_GE(s.run(plan).makespan, s.lower_bound()) << trial;
  }
  const std::string no_host =
      "format: 2, issue_depth: 4, start_latency: 5, kinds: {" + a + "}, " + b + "}, z: {}}";
  EXPECT_DOUBLE_EQ(sim::Simulator(g, machine(no_host), sim::CostModelKind::roofline).lower_bound(), 40);
  const TaskGraph empty("empty");
  EXPECT_DOUBLE_EQ(sim::Simulator(empty, machine(host), sim::CostModelKind::roofline).lower_bound(), 0);
}

TEST(IssueEngine, SameSeedSameTrace) {
  const TaskGraph g = fork();
  Plan plan;
  plan.device = {0, 1, 1};
  sim::Simulator s(g, machine("issue_depth: 3"), sim::CostModelKind::roofline);
  const sim::SimResult first = s.run(plan, true);
  const sim::SimResult second = s.run(plan, true);
  ASSERT_EQ(first.trace.records.size(), second.trace.records.size());
  for (std::size_t i = 0; i < first.trace.records.size(); ++i) {
    EXPECT_EQ(first.trace.records[i].op, second.trace.records[i].op);
    EXPECT_EQ(first.trace.records[i].start, second.trace.records[i].start);
    EXPECT_EQ(first.trace.records[i].end, second.trace.records[i].end);
  }
}

// N devices like machine()'s, each with one copy engine (and shared_ingress when asked).
Machine engines_machine(int devices, bool shared_ingress, const std::string& calibration) {
  return parse_machine_yaml(
      "name: t\ndevices:\n  count: " + std::to_string(devices) +
          "\n  template: {flops: 10, memory_bandwidth: 100, streams: 1, launch_overhead: 1, "
          "copy_engines: 1" +
          (shared_ingress ? ", shared_ingress: true" : "") +
          "}\ninterconnect:\n  default: {bandwidth: 4, latency: 2}\ncalibration: {" + calibration + "}\n",
      "t.yaml");
}

// a -> c and b -> d; a and b take 10 and send 40 bytes (12 on a link), c and d take 10.
TaskGraph two_pairs() {
  TaskGraph g("g");
  g.add_op(op(90, 40));  // a
  g.add_op(op(90, 40));  // b
  g.add_op(op(90, 0));   // c
  g.add_op(op(90, 0));   // d
  g.add_edge(0, 2);
  g.add_edge(1, 3);
  return g;
}

TEST(IssueEngine, CopyDispatchAfterTheProducerAndCopyGapAfterThePreviousCopy) {
  // a, b on device 0 (10 each, 40 bytes out: 12 on the link) feed c, d on device 1.
  const TaskGraph g = two_pairs();
  Plan plan;
  plan.device = {0, 0, 1, 1};
  plan.priority = {0, 1, 2, 3};
  // a 0..10, b 10..20; a's copy from 10 + 3 (dispatch) to 25; b's copy from max(20 + 3, 25 + 1
  // (gap)) = 26 to 38; c 25..35, d 38..48.
  sim::Simulator s(g, engines_machine(2, false, "issue_depth: 4, copy_dispatch: 3, copy_gap: 1"),
                   sim::CostModelKind::roofline);
  const sim::SimResult r = s.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 48);
  std::vector<std::pair<double, double>> copies;
  for (const TraceRecord& rec : r.trace.records)
    if (rec.kind == TraceRecord::Kind::transfer) copies.push_back({rec.start, rec.end});
  EXPECT_EQ(copies, (std::vector<std::pair<double, double>>{{13, 25}, {26, 38}}));
  // A file without copy_gap charges the dispatch to every copy (as before copy_gap existed).
  EXPECT_DOUBLE_EQ(engines_machine(2, false, "issue_depth: 4, copy_dispatch: 3").calibration->copy_gap, 3);
}

TEST(IssueEngine, ASharedIngressSlowsTheSecondOfTwoIncomingCopies) {
  // a (device 0) and b (device 1), 10 each, send 40 bytes (12 on a link) to c and d on device 2;
  // d first. Both copies start at 10. Independent links: both land at 22, d 22..32, c 32..42.
  // Shared ingress: a's copy (placed first) keeps 10..22; b's advances at 1/2 until 22 (6 of 12),
  // then alone: lands at 28; d 28..38, c 38..48.
  const TaskGraph g = two_pairs();
  Plan plan;
  plan.device = {0, 1, 2, 2};
  plan.priority = {0, 1, 3, 2};
  for (const bool shared : {false, true}) {
    sim::Simulator s(g, engines_machine(3, shared, "issue_depth: 4"), sim::CostModelKind::roofline);
    const sim::SimResult r = s.run(plan, true);
    EXPECT_DOUBLE_EQ(r.makespan, shared ? 48 : 42);
    for (const TraceRecord& rec : r.trace.records)
      if (rec.kind == TraceRecord::Kind::transfer && rec.op == 1) {
        EXPECT_DOUBLE_EQ(rec.end, shared ? 28 : 22);
      }
  }
  EXPECT_THROW(
      parse_machine_yaml("name: t\ndevices:\n  count: 2\n  template: {flops: 1, shared_ingress: yes}\n"
                         "interconnect:\n  default: {bandwidth: 4, latency: 2}\n",
                         "bad.yaml"),
      Error);
}

TEST(IssueEngine, FormatTwoChargesTheDispatchGapBetweenKernelsAndSlowsKernelsUnderCopies) {
  // a (device 0) feeds b (device 0) and c (device 1); every op takes 10 + the dispatch gap 2.
  TaskGraph g("g");
  g.add_op(op(90, 40));  // a
  g.add_op(op(90, 0));   // b
  g.add_op(op(90, 0));   // c
  g.add_edge(0, 1);
  g.add_edge(0, 2);
  Plan plan;
  plan.device = {0, 0, 1};
  const auto ends = [&](const std::string& calibration) {
    sim::Simulator s(g, machine("issue_depth: 4, dispatch_gap: 2, " + calibration),
                     sim::CostModelKind::roofline);
    std::vector<double> end(3, 0);
    for (const TraceRecord& rec : s.run(plan, true).trace.records)
      if (rec.kind == TraceRecord::Kind::compute) end[rec.op] = rec.end;
    return end;
  };
  // Format 1: a 0..12, b 12..24; a's copy 12..24, c from its arrival 24 to 36 (the gap inside).
  EXPECT_EQ(ends(""), (std::vector<double>{12, 24, 36}));
  // Format 2: a 2..12, b 14..24 (the gap between them); c waited for the copy: 24..34.
  EXPECT_EQ(ends("format: 2"), (std::vector<double>{12, 24, 34}));
  // With concurrency_slowdown 2, b runs while a's copy leaves device 0 (12..24): 5 of its 10 by
  // 24, the rest alone: ends at 29. c starts as the copy ends: not slowed.
  EXPECT_EQ(ends("format: 2, concurrency_slowdown: 2"), (std::vector<double>{12, 29, 34}));
  EXPECT_EQ(ends("concurrency_slowdown: 2"), (std::vector<double>{12, 24, 36}));  // format 1: none
  EXPECT_THROW(machine("format: 3"), Error);
}

TEST(IssueEngine, TheHostThreadLaunchesOneOpAfterAnotherThenItsCopies) {
  // a (device 0, 40 bytes out: 12 on the link) feeds c (device 1); b (device 0) is independent.
  // Every task takes 10; launching one holds its device's thread for 20 (the calibrated kind 'x' is
  // not theirs: they take the median over kinds), sending a copy for 3; a kernel starts 1 after
  // its launch. Device 0: a launched at 0 runs 1..11, b at 20 runs 21..31; then a's copy is sent
  // at 40 and runs 41..53; c (device 1, launched at 0) waits for it: 53..63.
  TaskGraph g("g");
  g.add_op(op(90, 40));  // a
  g.add_op(op(90, 0));   // b
  g.add_op(op(90, 0));   // c
  g.add_edge(0, 2);
  Plan plan;
  plan.device = {0, 0, 1};
  plan.priority = {0, 1, 2};
  const std::string host =
      "format: 2, issue_depth: 4, host_copy: 3, launch_latency: 1, kinds: {x: {host_launch: 20}}";
  sim::Simulator s(g, machine(host), sim::CostModelKind::roofline);
  const sim::SimResult r = s.run(plan, true);
  std::vector<std::pair<double, double>> spans(3);
  for (const TraceRecord& rec : r.trace.records) {
    if (rec.kind == TraceRecord::Kind::compute) spans[rec.op] = {rec.start, rec.end};
    if (rec.kind == TraceRecord::Kind::transfer) {
      EXPECT_DOUBLE_EQ(rec.start, 41);
      EXPECT_DOUBLE_EQ(rec.end, 53);
    }
  }
  EXPECT_EQ(spans, (std::vector<std::pair<double, double>>{{1, 11}, {21, 31}, {53, 63}}));
  EXPECT_DOUBLE_EQ(r.makespan, 63);
  // Without the host fields the same machine replays as before: a 0..10 and its copy 10..22,
  // b 10..20, c 22..32.
  sim::Simulator plain(g, machine("format: 2, issue_depth: 4"), sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(plain.run(plan).makespan, 32);
  EXPECT_THROW(machine("issue_depth: 4, host_copy: -1"), Error);
  // A measured shape's own host time wins over its kind's: the ops' kind ("", calibrated with the
  // device's roofline) has host_launch 20 but their shape (90 flops, 0 bytes moved) is in its
  // host_table at 5, so b is launched at 5: a 1..11, b 11..21; a's copy is sent at 10 and runs
  // 11..23; c 23..33.
  sim::Simulator shaped(g,
                        machine("format: 2, issue_depth: 4, host_copy: 3, launch_latency: 1, kinds: {\"\": "
                                "{flop_rate: 10, bandwidth: 100, overhead: 1, host_launch: 20, "
                                "host_table: [[90, 0, 5]]}}"),
                        sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(shaped.run(plan).makespan, 33);
}

TEST(IssueEngine, WithTheHostModelledAResidentLoadHoldsItsStreamForTheDispatchGap) {
  // l (kind L: takes no time, like a resident input) then a (10, + the dispatch gap 2) on one
  // stream. The load's event is reached 2 after the stream starts, a follows it 2 later: 4..14.
  // Without the host model the load costs the stream nothing: a 2..12.
  TaskGraph g("g");
  Op load = op(0, 40);
  load.kind = "L";
  g.add_op(load);
  g.add_op(op(90, 0));
  g.add_edge(0, 1);
  Plan plan;
  plan.device = {0, 0};
  const std::string kinds = "kinds: {L: {overhead: 0}, \"\": {flop_rate: 10, bandwidth: 100, overhead: 1}}";
  sim::Simulator host(g, machine("format: 2, issue_depth: 4, dispatch_gap: 2, launch_latency: 0.5, " + kinds),
                      sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(host.run(plan).makespan, 14);
  sim::Simulator plain(g, machine("format: 2, issue_depth: 4, dispatch_gap: 2, " + kinds),
                       sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(plain.run(plan).makespan, 12);
}

TEST(IssueEngine, BadIssueDepthIsAnError) {
  EXPECT_THROW(machine("issue_depth: -1"), Error);
  EXPECT_THROW(machine("issue_depth: 2.5"), Error);
}

}  // namespace
}  // namespace doppler
