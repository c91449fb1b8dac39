// Task graph, graph files (paper format and YAML), machine and plan files: contents and every
// bad-input message (file, line or op named).
#include <gtest/gtest.h>

#include "doppler/error.hpp"
#include "doppler/graph_yaml.hpp"
#include "doppler/machine.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/plan.hpp"
#include "error_of.hpp"

namespace doppler {
namespace {

using doppler::test_support::error_of;

const char* kDiamond =
    "6\n"
    "0, 1\n"
    "0, 0, 1, 2, 0\n"
    "1, 2, 3, 3, 1\n"
    "10,5\n"
    "20,6\n"
    "30,7\n"
    "40,8\n";

TEST(PaperFormat, ReadsOpsEdgesAndCosts) {
  const TaskGraph g = parse_paper_graph(kDiamond, "diamond.txt");
  ASSERT_EQ(g.num_ops(), 4u);
  EXPECT_EQ(g.num_edges(), 4u);  // the repeated 0->1 is one dependency
  EXPECT_EQ(*g.op(2).fixed_cost, 30);
  EXPECT_EQ(*g.op(2).comm_cost, 7);
  EXPECT_EQ(g.successors(0), (std::vector<OpId>{1, 2}));
  EXPECT_EQ(g.predecessors(3), (std::vector<OpId>{1, 2}));
}

TEST(PaperFormat, ReadsTheFourPaperGraphs) {
  const std::string dir = std::string(DOPPLER_SOURCE_DIR) + "/configs/workloads/doppler-paper/";
  EXPECT_EQ(read_paper_graph(dir + "chain_mm_112nodes.txt").num_ops(), 76u);
  EXPECT_EQ(read_paper_graph(dir + "ffnn_192nodes.txt").num_ops(), 180u);
  EXPECT_EQ(read_paper_graph(dir + "transformer_block_215nodes.txt").num_ops(), 182u);
  EXPECT_EQ(read_paper_graph(dir + "full_transformer_layer_261nodes.txt").num_edges(), 284u);
}

TEST(PaperFormat, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0,1\n1\n10,5\n20,x\n30,7\n40,8\n", "g.txt"); }),
            "g.txt:4: edge destinations (1) and edge sources on line 3 (2) differ in length");
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0\n1\n10,5\n20,x\n30,7\n40,8\n", "g.txt"); }),
            "g.txt:6: op 1: comm_cost 'x' is not a number");
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0\n1\n10,5\n20,-6\n30,7\n40,8\n", "g.txt"); }),
            "g.txt:6: op 1: comm_cost -6 is out of range (0..9e15)");
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0\n9\n10,5\n20,6\n30,7\n40,8\n", "g.txt"); }),
            "g.txt:4: edge 0 (0->9) names an op id >= 4");
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0\n1\n10,5\n20,6\n30,7\n", "g.txt"); }),
            "g.txt:8: file ends early: expected 4 op lines, found 3");
  EXPECT_EQ(error_of([] { parse_paper_graph("6\n0,1\n0\n1\n10,5\n20,6\n30,7\n40,8\n50,9\n", "g.txt"); }),
            "g.txt:9: unexpected line after the last op (4 ops = 6 nodes - 2 inputs)");
  EXPECT_EQ(error_of([] { parse_paper_graph("abc\n", "g.txt"); }),
            "g.txt:2: file ends early: expected 4 header lines (node count, inputs, edge sources, edge "
            "destinations)");
}

TEST(PaperFormat, CycleIsRejectedNamingAnOp) {
  EXPECT_EQ(error_of([] { parse_paper_graph("3\n\n0 1 2\n1 2 0\n1,1\n1,1\n1,1\n", "cyc.txt"); }),
            "cyc.txt: the graph has a cycle through op 'op0' (id 0)");
}

TEST(TaskGraph, RejectsSelfLoopsUnknownIdsAndBadCosts) {
  TaskGraph g("t");
  for (const char* name : {"a", "b"}) {
    Op op;
    op.name = name;
    g.add_op(op);
  }
  EXPECT_EQ(error_of([&] { g.add_edge(0, 0); }), "t: op 'a' depends on itself (self loop)");
  EXPECT_EQ(error_of([&] { g.add_edge(0, 5); }),
            "t: edge 0->5 names an op that does not exist (graph has 2 ops)");
  g.op(1).flops = -1;
  EXPECT_EQ(error_of([&] { g.validate(); }),
            "t: op 'b' (id 1) has flops = -1.000000; costs must be finite and >= 0");
}

TEST(GraphYaml, RoundTripsAndNamesBadFields) {
  const TaskGraph g = parse_paper_graph(kDiamond, "diamond.txt");
  const TaskGraph back = parse_graph_yaml(graph_to_yaml(g, "diamond"), "diamond.yaml");
  EXPECT_EQ(back.fingerprint(), g.fingerprint());
  EXPECT_EQ(
      error_of([] { parse_graph_yaml("ops:\n  - {name: a, cost: 1}\n  - {name: b, cots: 2}\n", "g.yaml"); }),
      "g.yaml:3: op 'b': unknown field 'cots'");
  EXPECT_EQ(error_of([] { parse_graph_yaml("ops:\n  - {name: a, cost: -1}\n", "g.yaml"); }),
            "g.yaml:2: op 'a': 'cost' must be >= 0, got -1");
  EXPECT_EQ(error_of([] { parse_graph_yaml("ops:\n  - {name: a}\nedges:\n  - [a, zz]\n", "g.yaml"); }),
            "g.yaml:4: edge names unknown op 'zz'");
  EXPECT_EQ(error_of([] { parse_graph_yaml("ops: [\n", "g.yaml"); }).rfind("g.yaml:", 0), 0u);
  EXPECT_EQ(error_of([] { load_graph("graph.csv"); }),
            "graph.csv: unknown graph format '.csv' (expected .txt for the Doppler-paper format or "
            ".yaml/.yml/.json)");
}

TEST(MachineFile, ReadsShippedMachines) {
  const std::string dir = std::string(DOPPLER_SOURCE_DIR) + "/configs/machines/";
  const Machine paper = load_machine(dir + "paper-4dev.yaml");
  EXPECT_EQ(paper.num_devices(), 4u);
  EXPECT_EQ(paper.time_unit, "units");
  for (int n : {1, 2, 4, 8}) {
    const Machine m = load_machine(dir + "h100-" + std::to_string(n) + ".yaml");
    EXPECT_EQ(m.num_devices(), static_cast<std::size_t>(n));
    EXPECT_DOUBLE_EQ(m.devices[0].flops, 989e12);
    if (n > 1) {
      EXPECT_DOUBLE_EQ(m.link(0, n - 1).bandwidth, 450e9);
    }
    EXPECT_DOUBLE_EQ(m.host_to_device[0].bandwidth, 64e9);
  }
}

TEST(MachineFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of([] {
              parse_machine_yaml("devices:\n  - {flops: 0}\ninterconnect: {default: {bandwidth: 1}}\n",
                                 "m.yaml");
            }),
            "m.yaml:2: device 0: 'flops' must be > 0, got 0");
  EXPECT_EQ(error_of([] { parse_machine_yaml("devices:\n  - {flops: 1}\n  - {flops: 1}\n", "m.yaml"); }),
            "m.yaml:1: missing 'interconnect' (at least 'default: {bandwidth, latency}')");
  EXPECT_EQ(error_of([] {
              parse_machine_yaml("devices:\n  - {flops: 1}\n  - {flops: 1}\ninterconnect:\n  links: []\n",
                                 "m.yaml");
            }),
            "m.yaml:5: no link from device 0 to device 1 (add interconnect.default or a link)");
  EXPECT_EQ(error_of([] { parse_machine_yaml("devices:\n  - {flops: fast}\n", "m.yaml"); }),
            "m.yaml:2: device 0: 'flops' = 'fast' is not a finite number");
}

TEST(PlanFile, ValidatesAgainstGraphAndMachine) {
  const TaskGraph g = parse_paper_graph(kDiamond, "diamond.txt");
  EXPECT_EQ(error_of([&] { validate_plan(parse_plan("devices: [0, 1, 1]\n", "p.yaml"), g, 2); }),
            "p.yaml: plan places 3 ops but graph diamond.txt has 4 (a plan for another graph?)");
  EXPECT_EQ(error_of([&] { validate_plan(parse_plan("devices: [0, 1, 2, 1]\n", "p.yaml"), g, 2); }),
            "p.yaml: op 'op2' (index 2) is placed on device 2 but the machine has 2 devices (0..1)");
  EXPECT_EQ(error_of([&] { parse_plan("devices: [0, x]\n", "p.yaml"); }),
            "p.yaml:1: devices[1] = 'x' is not a device index");
  EXPECT_EQ(error_of([&] {
              validate_plan(parse_plan("devices: [0,0,0,0]\ngraph_fingerprint: 0x1\n", "p.yaml"), g, 2);
            }).rfind("p.yaml: plan was made for another graph (fingerprint 0x1, diamond.txt has 0x", 0),
            0u);
  EXPECT_EQ(error_of([&] { parse_placement_line("0,1,,2", "list.txt", 7); }),
            "list.txt:7: placement entry 2 '' is not a device index");
}

TEST(PlanFile, RoundTripsYamlAndJson) {
  Plan plan;
  plan.device = {0, 1, 1, 0};
  plan.priority = {3, 1, 2, 0.5};
  plan.graph_fingerprint = 0xabcdef;
  plan.method = "heft";
  for (const std::string& text : {plan_to_yaml(plan), plan_to_json(plan)}) {
    const Plan back = parse_plan(text, "p");
    EXPECT_EQ(back.device, plan.device);
    EXPECT_EQ(back.priority, plan.priority);
    EXPECT_EQ(back.graph_fingerprint, plan.graph_fingerprint);
    EXPECT_EQ(back.method, "heft");
  }
}

}  // namespace
}  // namespace doppler
