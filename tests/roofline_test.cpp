// The roofline model: op times from flops / bandwidth / launch overhead, transfers holding their
// directed link, concurrent streams. Every expected number here is worked out by hand.
#include <gtest/gtest.h>

#include "doppler/error.hpp"
#include "doppler/machine.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler {
namespace {

Machine two_devices(int streams) {
  Machine m = parse_machine_yaml(
      "name: t\ndevices:\n  count: 2\n  template: {flops: 10, memory_bandwidth: 100, streams: " +
          std::to_string(streams) +
          ", launch_overhead: 1}\ninterconnect:\n  default: {bandwidth: 4, latency: 2}\n",
      "t.yaml");
  return m;
}

Op op(double flops, double bytes_out, double bytes_read = 0) {
  Op o;
  o.flops = flops;
  o.output_bytes = bytes_out;
  o.bytes_read = bytes_read;
  return o;
}

TEST(Roofline, ComputeIsMaxOfFlopsAndBytesPlusLaunch) {
  TaskGraph g("g");
  g.add_op(op(100, 0));       // 100/10 = 10, +1
  g.add_op(op(10, 0, 5000));  // max(1, 5000/100 = 50) + 1
  g.add_edge(0, 1);
  sim::Simulator s(g, two_devices(1), sim::CostModelKind::roofline);
  EXPECT_DOUBLE_EQ(s.costs().compute(0, 0), 11);
  EXPECT_DOUBLE_EQ(s.costs().compute(1, 1), 51);
  Plan plan;
  plan.device = {0, 0};
  EXPECT_DOUBLE_EQ(s.run(plan).makespan, 62);
}

TEST(Roofline, CrossDeviceEdgePaysLatencyPlusBytesOverBandwidth) {
  TaskGraph g("g");
  g.add_op(op(90, 40));  // 10 on device 0, output 40 bytes -> 2 + 40/4 = 12
  g.add_op(op(90, 0));   // 10
  g.add_edge(0, 1);
  sim::Simulator s(g, two_devices(1), sim::CostModelKind::roofline);
  Plan plan;
  plan.device = {0, 1};
  const auto r = s.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 10 + 12 + 10);
  EXPECT_EQ(r.transfers, 1u);
  EXPECT_DOUBLE_EQ(r.transfer_bytes, 40);
}

TEST(Roofline, TransfersOnOneLinkSerialise) {
  // a, b on device 0 (10 each, back to back); c on device 1 needs both. a's transfer runs 10..22,
  // b's is ready at 20 but waits for the link: 22..34. c runs 34..44.
  TaskGraph g("g");
  g.add_op(op(90, 40));
  g.add_op(op(90, 40));
  g.add_op(op(90, 0));
  g.add_edge(0, 2);
  g.add_edge(1, 2);
  sim::Simulator s(g, two_devices(1), sim::CostModelKind::roofline);
  Plan plan;
  plan.device = {0, 0, 1};
  EXPECT_DOUBLE_EQ(s.run(plan).makespan, 44);
  // Both producers at once on 2 streams: transfers ready at 10 together, serialised 10..22..34.
  sim::Simulator s2(g, two_devices(2), sim::CostModelKind::roofline);
  const auto r = s2.run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 44);
  int overlapping = 0;
  for (const auto& rec : r.trace.records)
    if (rec.kind == TraceRecord::Kind::compute && rec.device == 0 && rec.start == 0) ++overlapping;
  EXPECT_EQ(overlapping, 2);
}

TEST(Roofline, OppositeDirectionsDoNotContend) {
  // a on 0 feeds d on 1; b on 1 feeds c on 0: the two transfers use different directed links.
  TaskGraph g("g");
  g.add_op(op(90, 40));  // a
  g.add_op(op(90, 40));  // b
  g.add_op(op(90, 0));   // c needs b
  g.add_op(op(90, 0));   // d needs a
  g.add_edge(1, 2);
  g.add_edge(0, 3);
  sim::Simulator s(g, two_devices(1), sim::CostModelKind::roofline);
  Plan plan;
  plan.device = {0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(s.run(plan).makespan, 32);
}

// a on device 0 feeds b on 1 and c on 2 (transfers 12 each). Links on their own: both copies run
// 10..22, b and c 22..32. One copy engine on device 0 (copy_engines: 1): 10..22 then 22..34, the
// second consumer runs 34..44; the machine file round-trips the field.
TEST(Roofline, OneCopyEnginePerDeviceSerialisesItsOutgoingCopies) {
  TaskGraph g("g");
  g.add_op(op(90, 40));
  g.add_op(op(90, 0));
  g.add_op(op(90, 0));
  g.add_edge(0, 1);
  g.add_edge(0, 2);
  const std::string text =
      "name: t\ndevices:\n  count: 3\n  template: {flops: 10, memory_bandwidth: 100, launch_overhead: 1";
  const std::string links = "}\ninterconnect:\n  default: {bandwidth: 4, latency: 2}\n";
  Plan plan;
  plan.device = {0, 1, 2};
  const Machine independent = parse_machine_yaml(text + links, "t.yaml");
  EXPECT_DOUBLE_EQ(sim::Simulator(g, independent, sim::CostModelKind::roofline).run(plan).makespan, 32);
  const Machine shared = parse_machine_yaml(text + ", copy_engines: 1" + links, "t.yaml");
  EXPECT_EQ(shared.devices[0].copy_engines, 1);
  const auto r = sim::Simulator(g, shared, sim::CostModelKind::roofline).run(plan, true);
  EXPECT_DOUBLE_EQ(r.makespan, 44);
  EXPECT_EQ(parse_machine_yaml(machine_to_yaml(shared), "back.yaml").devices[2].copy_engines, 1);
  EXPECT_THROW(parse_machine_yaml(text + ", copy_engines: -1" + links, "t.yaml"), Error);
}

TEST(Roofline, AbstractMachineChargesPaperCosts) {
  // On the abstract machine a paper op's comp_cost is its time and comm_cost its transfer time.
  TaskGraph g("g");
  Op a;
  a.fixed_cost = 5;
  a.comm_cost = 3;
  a.flops = 5;
  a.output_bytes = 3;
  g.add_op(a);
  g.add_op(a);
  g.add_edge(0, 1);
  sim::Simulator s(g, abstract_machine(2), sim::CostModelKind::roofline);
  Plan plan;
  plan.device = {0, 1};
  EXPECT_DOUBLE_EQ(s.run(plan).makespan, 13);
  sim::Simulator p(g, abstract_machine(2), sim::CostModelKind::paper);
  EXPECT_DOUBLE_EQ(p.run(plan).makespan, 13);
}

}  // namespace
}  // namespace doppler
