// The paper model breaks same-time ties exactly as the Doppler paper's SimPy simulator does, on
// graphs built to have many ties (tools/scripts/make_tie_vectors.py): golden makespans in
// tests/golden/paper-ties/, and, where SimPy is installed, live ones on freshly generated graphs.
// A vector file NAME.<N>dev.reference.tsv holds `placement<TAB>makespan` lines for graph NAME.txt
// on N devices.
#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "doppler/machine.hpp"
#include "doppler/number_format.hpp"
#include "doppler/paper_graph_format.hpp"
#include "doppler/plan.hpp"
#include "doppler/sim/simulator.hpp"

namespace doppler {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = DOPPLER_SOURCE_DIR;
const std::string kPython = "/usr/bin/python3";
constexpr std::string_view kSuffix = "dev.reference.tsv";

struct Totals {
  std::size_t files = 0, vectors = 0, mismatches = 0;
};

// Checks every vector file in `dir` against the paper engine; every mismatch names file:line.
Totals check_directory(const fs::path& dir) {
  Totals totals;
  std::map<std::string, std::unique_ptr<TaskGraph>> graphs;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    // NAME.<N>dev.reference.tsv -> graph NAME.txt, N devices
    const std::string name = file.filename().string();
    const std::string head = name.substr(0, name.size() - kSuffix.size());
    const auto dot = head.rfind('.');
    if (dot == std::string::npos) {
      ADD_FAILURE() << file << ": name is not NAME.<N>dev.reference.tsv";
      continue;
    }
    const std::string graph_name = head.substr(0, dot);
    const std::size_t ndev = std::stoul(head.substr(dot + 1));
    auto& graph = graphs[graph_name];
    if (!graph) graph = std::make_unique<TaskGraph>(read_paper_graph((dir / (graph_name + ".txt")).string()));
    sim::Simulator simulator(*graph, abstract_machine(ndev), sim::CostModelKind::paper);

    std::ifstream in(file);
    std::string line;
    std::size_t lines = 0;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
      const auto tab = line.find('\t');
      if (tab == std::string::npos) {
        ADD_FAILURE() << file.string() << ":" << number << ": no tab";
        continue;
      }
      const Plan plan = parse_placement_line(line.substr(0, tab), file.string(), number);
      const std::string expected = line.substr(tab + 1);
      const std::string got = format_number(simulator.run(plan).makespan);
      if (got != expected) {
        ++totals.mismatches;
        ADD_FAILURE() << file.string() << ":" << number << " (graph " << graph_name << ".txt, " << ndev
                      << " devices): makespan " << got << ", SimPy reference " << expected;
      }
      ++lines;
    }
    EXPECT_GT(lines, 0u) << file;
    totals.vectors += lines;
    ++totals.files;
  }
  return totals;
}

// DOPPLER_TIES_SEED when set, else a new seed from the clock.
long long live_seed() {
  if (const char* fixed = std::getenv("DOPPLER_TIES_SEED")) return std::atoll(fixed);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000007;
}

TEST(PaperTies, GoldenVectorsExactly) {
  const Totals totals = check_directory(kSourceDir / "tests/golden/paper-ties");
  EXPECT_EQ(totals.files, 150u);
  EXPECT_EQ(totals.vectors, 6030u);
  EXPECT_EQ(totals.mismatches, 0u);
}

// No free ops (comp >= 1): exercises the engine's direct path for instants with one timed event.
TEST(PaperTies, GoldenVectorsWithPositiveComputeExactly) {
  const Totals totals = check_directory(kSourceDir / "tests/golden/paper-ties-positive");
  EXPECT_EQ(totals.files, 100u);
  EXPECT_EQ(totals.vectors, 3220u);
  EXPECT_EQ(totals.mismatches, 0u);
}

// Fresh graphs every run (seed printed; DOPPLER_TIES_SEED=S repeats one), referenced by SimPy live.
void check_live(const std::string& options, std::size_t graphs) {
  if (std::system((kPython + " -c 'import simpy, networkx' >/dev/null 2>&1").c_str()) != 0) {
    GTEST_SKIP() << kPython << " cannot import simpy and networkx (Debian: python3-simpy3 python3-networkx)";
  }
  const long long seed = live_seed();
  std::string pattern = (fs::temp_directory_path() / "doppler-ties-XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "cannot create a temporary directory";
  const fs::path dir = pattern;
  const std::string command = kPython + " '" + (kSourceDir / "tools/scripts/make_tie_vectors.py").string() +
                              "' --out '" + dir.string() + "' --seed " + std::to_string(seed) + " --graphs " +
                              std::to_string(graphs) + " --placements 25 --ndev 1,2,3,4,8 " + options +
                              " >'" + (dir / "log").string() + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command << " failed; see " << (dir / "log");
  const Totals totals = check_directory(dir);
  std::cout << "seed " << seed << ": " << totals.vectors << " live vectors, " << totals.mismatches
            << " mismatches\n";
  EXPECT_EQ(totals.files, 5 * graphs);
  EXPECT_EQ(totals.mismatches, 0u) << "seed " << seed << "; vectors kept in " << dir;
  if (totals.mismatches == 0) fs::remove_all(dir);
}

TEST(PaperTies, LiveSimPyOnFreshGraphs) {
  check_live("", 12);
}

TEST(PaperTies, LiveSimPyOnFreshGraphsWithPositiveCompute) {
  check_live("--positive-compute", 8);
}

}  // namespace
}  // namespace doppler
