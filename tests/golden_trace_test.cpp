// Golden traces: small graphs simulated in each model, the CSV trace compared byte for byte with
// tests/golden/traces/. After an intended change, regenerate with DOPPLER_UPDATE_GOLDEN=1 and
// review the diff like code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "doppler/file_io.hpp"
#include "doppler/machine.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler {
namespace {

const std::string kGolden = std::string(DOPPLER_SOURCE_DIR) + "/tests/golden/traces/";

// A diamond 0 -> {1, 2} -> 3 plus a long independent op 4. Placed {0, 1, 1, 0, 1}, ops 1 and 2
// both arrive on device 1 at 15 while op 4 holds it until 20: a tie the ready queue decides.
const char* kDiamond =
    "6\n"
    "0\n"
    "0 0 1 2\n"
    "1 2 3 3\n"
    "10,5\n"
    "4,1\n"
    "4,1\n"
    "2,0\n"
    "20,0\n";

void expect_golden(const std::string& name, const std::string& csv) {
  const std::string path = kGolden + name + ".csv";
  if (std::getenv("DOPPLER_UPDATE_GOLDEN")) write_file_atomically(path, csv);
  EXPECT_EQ(csv, read_text_file(path)) << "golden trace " << path << " differs";
}

TEST(GoldenTrace, DiamondPaperModelTwoDevices) {
  const TaskGraph g = parse_paper_graph(kDiamond, "diamond.txt");
  sim::Simulator s(g, abstract_machine(2), sim::CostModelKind::paper);
  Plan plan;
  plan.device = {0, 1, 1, 0, 1};
  const auto r = s.run(plan, true);
  // Hand-worked: op0 0..10 and op4 0..20; op1, op2 queue on dev1 at 15 in arrival order ->
  // op1 20..24, op2 24..28; op3 needs op1 (arrives 25) and op2 (arrives 29) -> 29..31.
  EXPECT_EQ(r.makespan, 31);
  expect_golden("diamond_paper_2dev", trace_to_csv(r.trace, g));
}

TEST(GoldenTrace, DiamondPaperModelPriorityReordersTheTie) {
  const TaskGraph g = parse_paper_graph(kDiamond, "diamond.txt");
  sim::Simulator s(g, abstract_machine(2), sim::CostModelKind::paper);
  Plan plan;
  plan.device = {0, 1, 1, 0, 1};
  plan.priority = {0, 2, 1, 3, 0};
  const auto r = s.run(plan, true);
  // op2 (priority 1) now runs before op1 (priority 2): op2 20..24, op1 24..28, op3 29..31.
  EXPECT_EQ(r.makespan, 31);
  EXPECT_EQ(r.trace.records[3].op, 2u);
  expect_golden("diamond_paper_2dev_priority", trace_to_csv(r.trace, g));
}

TEST(GoldenTrace, ChainMMRooflineOnTwoH100) {
  const TaskGraph g = read_paper_graph(std::string(DOPPLER_SOURCE_DIR) +
                                       "/configs/workloads/doppler-paper/chain_mm_112nodes.txt");
  const Machine m = load_machine(std::string(DOPPLER_SOURCE_DIR) + "/configs/machines/h100-2.yaml");
  sim::Simulator s(g, m, sim::CostModelKind::roofline);
  Plan plan;
  for (OpId v = 0; v < g.num_ops(); ++v) plan.device.push_back(v % 2);
  expect_golden("chainmm_roofline_h100x2", trace_to_csv(s.run(plan, true).trace, g));
}

}  // namespace
}  // namespace doppler
