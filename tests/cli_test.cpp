// The `doppler` CLI end to end: each subcommand's happy path (JSON parsed and checked), exact
// reproduction of the Doppler paper's reference makespans through `simulate --placements`, and every
// bad-input path: exit code 2, one line on stderr naming the file and line or the op, no file left.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_fixture.hpp"

namespace {

namespace fs = std::filesystem;
using doppler::test_support::Cli;
using doppler::test_support::lines_of;
using doppler::test_support::Result;
using doppler::test_support::slurp;
using nlohmann::json;

using doppler::test_support::kRoot;
const std::string kPaper = kRoot + "/configs/workloads/doppler-paper/";
const std::string kFfnn = kPaper + "ffnn_192nodes.txt";
const std::string kLlamaLayer = kPaper + "full_transformer_layer_261nodes.txt";
const std::vector<std::string> kHeuristics = {"random", "round_robin", "critical_path", "heft",
                                              "etf",    "metis",       "eindecomp"};

void expect_simulation(const json& j, std::size_t devices) {
  for (const char* key : {"makespan", "lower_bound", "devices", "transfer_bytes", "transfers", "method"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_GT(j["lower_bound"].get<double>(), 0);
  EXPECT_GE(j["makespan"].get<double>(), j["lower_bound"].get<double>());
  EXPECT_GE(j["transfer_bytes"].get<double>(), 0);
  ASSERT_EQ(j["devices"].size(), devices);
  double busy = 0;
  for (const json& d : j["devices"]) {
    EXPECT_GE(d["busy"].get<double>(), 0);
    EXPECT_GE(d["utilisation"].get<double>(), 0);
    EXPECT_LE(d["utilisation"].get<double>(), 1);
    busy += d["busy"].get<double>();
  }
  EXPECT_GT(busy, 0);
}

// ---- happy paths ----

TEST_F(Cli, HelpForEverySubcommand) {
  for (const char* command :
       {"--help", "simulate --help", "compare --help", "graph --help", "bench sim --help"}) {
    const Result r = run(command);
    EXPECT_EQ(r.code, 0) << command;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << command;
  }
}

TEST_F(Cli, SimulateWithFlagsJson) {
  const json j =
      run_json("simulate --graph " + kFfnn + " --devices 4 --placement critical_path --model paper --json");
  expect_simulation(j, 4);
  EXPECT_EQ(j["method"], "critical_path");
  EXPECT_EQ(j["model"], "paper");
  EXPECT_EQ(j["ops"], 180);
}

TEST_F(Cli, SimulateTable) {
  const Result r = run("simulate --graph " + kFfnn + " --devices 4 --placement round_robin");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"makespan", "lower bound", "transfers", "utilisation", "dev3"}) {
    EXPECT_NE(r.out.find(part), std::string::npos) << part;
  }
}

TEST_F(Cli, SimulateConfigWritesTraceAndPlanThatReplays) {
  const json j = run_json("simulate configs/quickstart.yaml --placement heft --json --trace " +
                          path("t.json") + " --save-plan " + path("plan.yaml"));
  expect_simulation(j, 4);
  EXPECT_EQ(j["ops"], 229);
  const json trace = json::parse(slurp(path("t.json")));
  EXPECT_GT(trace["traceEvents"].size(), 229u);
  const json replay =
      run_json("simulate configs/quickstart.yaml --placement " + path("plan.yaml") + " --json");
  EXPECT_EQ(replay["makespan"], j["makespan"]);

  ASSERT_EQ(run("simulate configs/quickstart.yaml --placement etf --trace " + path("t.csv")).code, 0);
  EXPECT_GT(lines_of(slurp(path("t.csv"))).size(), 229u);
}

TEST_F(Cli, SimulateOnMachineFileDefaultsToRoofline) {
  const json j = run_json("simulate --graph " + kFfnn +
                          " --machine configs/machines/h100-2.yaml --placement heft --json");
  expect_simulation(j, 2);
  EXPECT_EQ(j["model"], "roofline");
}

TEST_F(Cli, PlacementsReproduceEveryReferenceMakespanExactly) {
  for (const std::string graph : {"chain_mm_112nodes", "ffnn_192nodes", "transformer_block_215nodes",
                                  "full_transformer_layer_261nodes"}) {
    const std::vector<std::string> reference = lines_of(slurp(kPaper + graph + ".4dev.reference.tsv"));
    ASSERT_EQ(reference.size(), 100u) << graph;
    std::string placements, expected;
    for (const std::string& line : reference) {
      const auto tab = line.find('\t');
      placements += line.substr(0, tab) + "\n";
      expected += line.substr(tab + 1) + "\n";
    }
    const std::string file = write(graph + ".placements", placements);
    const Result r =
        run("simulate --graph " + kPaper + graph + ".txt --devices 4 --model paper --placements " + file);
    ASSERT_EQ(r.code, 0) << r.err;
    const std::vector<std::string> got = lines_of(r.out), want = lines_of(expected);
    ASSERT_EQ(got.size(), 100u) << graph;
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << graph << " line " << i + 1;
  }
  // The reference file itself is accepted: TAB and the rest of each line are ignored.
  const std::string tsv = kPaper + "chain_mm_112nodes.4dev.reference.tsv";
  const Result r =
      run("simulate --graph " + kPaper + "chain_mm_112nodes.txt --devices 4 --placements " + tsv);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<std::string> got = lines_of(r.out), reference = lines_of(slurp(tsv));
  ASSERT_EQ(got.size(), reference.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(got[i], reference[i].substr(reference[i].find('\t') + 1));
}

TEST_F(Cli, CompareQuickstartJsonCsvPlot) {
  const json j =
      run_json("compare configs/quickstart.yaml --json --csv " + path("r.csv") + " --plot " + path("r.svg"));
  const double lower_bound = j["lower_bound"].get<double>();
  EXPECT_GT(lower_bound, 0);
  ASSERT_EQ(j["results"].size(), kHeuristics.size());
  double best = j["results"][0]["makespan"].get<double>();
  for (std::size_t i = 0; i < kHeuristics.size(); ++i) {
    const json& r = j["results"][i];
    EXPECT_EQ(r["method"], kHeuristics[i]);
    EXPECT_GE(r["makespan"].get<double>(), lower_bound) << kHeuristics[i];
    EXPECT_GE(r["ratio_to_best"].get<double>(), 1.0);
    best = std::min(best, r["makespan"].get<double>());
  }
  bool best_found = false;
  for (const json& r : j["results"])
    best_found = best_found || (r["method"] == j["best"] && r["makespan"] == best);
  EXPECT_TRUE(best_found);

  const std::vector<std::string> csv = lines_of(slurp(path("r.csv")));
  ASSERT_EQ(csv.size(), kHeuristics.size() + 1);
  EXPECT_EQ(csv[0].rfind("method,makespan,lower_bound,", 0), 0u);
  const std::string svg = slurp(path("r.svg"));
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("lower bound"), std::string::npos);
  for (const std::string& method : kHeuristics) EXPECT_NE(svg.find(">" + method + "<"), std::string::npos);
}

TEST_F(Cli, CompareTableAndMethodsFlag) {
  const Result table = run("compare configs/paper/chainmm.yaml");
  ASSERT_EQ(table.code, 0) << table.err;
  for (const std::string& method : kHeuristics)
    EXPECT_NE(table.out.find(method), std::string::npos) << method;
  EXPECT_NE(table.out.find("lower bound"), std::string::npos);

  const json j = run_json("compare --graph " + kFfnn + " --devices 4 --methods heft,round_robin --json");
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][0]["method"], "heft");
  EXPECT_EQ(j["results"][1]["method"], "round_robin");
}

TEST_F(Cli, ConfigPlanFilesAreRelativeToTheConfig) {
  fs::create_directory(dir_ / "plans");
  ASSERT_EQ(run("simulate --graph " + kFfnn + " --devices 4 --placement heft --save-plan " +
                path("plans/heft.json"))
                .code,
            0);
  const std::string config = write("exp.yaml", "name: mine\ngraph: " + kFfnn +
                                                   "\ndevices: 4\nplacements: [heft, plans/heft.json]\n"
                                                   "output: {csv: " +
                                                   path("r.csv") + "}\n");
  const json j = run_json("compare " + config + " --json");
  EXPECT_EQ(j["name"], "mine");
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["results"][1]["method"], "plans/heft.json");
  EXPECT_EQ(j["results"][1]["makespan"], j["results"][0]["makespan"]);
  EXPECT_TRUE(fs::exists(path("r.csv")));

  const std::string generated =
      write("random.yaml", "graph: random:40\ndevices: 3\nplacements: round_robin\nseed: 5\n");
  const json r = run_json("simulate " + generated + " --json");
  EXPECT_EQ(r["ops"], 40);
  EXPECT_EQ(r["method"], "round_robin");
  const std::string zero = write("zero.yaml", "graph: random:0\ndevices: 3\n");
  expect_error("simulate " + zero, {zero + ":1:", "'graph'", "random:N"});
}

TEST_F(Cli, EveryPaperConfigCompares) {
  for (const char* name : {"chainmm", "ffnn", "llama_block", "llama_layer"}) {
    const json j = run_json(std::string("compare configs/paper/") + name + ".yaml --json");
    EXPECT_EQ(j["results"].size(), kHeuristics.size()) << name;
    EXPECT_EQ(j["num_devices"], 4) << name;
    EXPECT_EQ(j["model"], "paper") << name;
  }
}

TEST_F(Cli, GraphJsonAndDot) {
  const json j = run_json("graph " + kLlamaLayer + " --json --dot " + path("g.dot"));
  EXPECT_EQ(j["ops"], 229);
  for (const char* key :
       {"edges", "depth", "sources", "sinks", "total_work", "critical_path", "critical_path_with_comm"}) {
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  EXPECT_LE(j["critical_path"].get<double>(), j["critical_path_with_comm"].get<double>());
  EXPECT_LE(j["critical_path"].get<double>(), j["total_work"].get<double>());
  EXPECT_EQ(j["model"], "paper");
  const std::string dot = slurp(path("g.dot"));
  EXPECT_EQ(dot.rfind("digraph", 0), 0u);
  EXPECT_NE(dot.find(" -> "), std::string::npos);

  const Result to_stdout = run("graph " + kFfnn + " --dot -");
  ASSERT_EQ(to_stdout.code, 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out.rfind("digraph", 0), 0u);
  const Result table = run("graph " + kFfnn);
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("critical path"), std::string::npos);
}

TEST_F(Cli, BenchSimJson) {
  const json j =
      run_json("bench sim --graph " + kLlamaLayer + " --devices 4 --episodes 50 --repetitions 3 --json");
  for (const char* key : {"us_per_placement", "us_per_placement_min", "events_per_second",
                          "placements_per_second", "events_per_placement"}) {
    EXPECT_GT(j[key].get<double>(), 0) << key;
  }
  EXPECT_LE(j["us_per_placement_min"].get<double>(), j["us_per_placement"].get<double>());
  EXPECT_EQ(j["ops"], 229);
  EXPECT_EQ(j["devices"], 4);
  EXPECT_EQ(j["model"], "paper");

  const json random =
      run_json("bench sim --graph random:300 --machine configs/machines/h100-2.yaml --episodes 20 --json");
  EXPECT_EQ(random["ops"], 300);
  EXPECT_EQ(random["model"], "roofline");
  EXPECT_GT(random["events_per_second"].get<double>(), 0);
}

// ---- bad input ----

TEST_F(Cli, MalformedYamlConfig) {
  const std::string config = write("bad.yaml", "name: x\ngraph: g.txt\ndevices: [4\n");
  expect_error("simulate " + config, {config + ":"});
}

// yaml-cpp would keep the second of two equal keys; doppler names the repeated one instead, at any depth.
TEST_F(Cli, DuplicateConfigKey) {
  const std::string twice = write("twice.yaml", "graph: " + kFfnn + "\ndevices: 4\nseed: 1\nseed: 2\n");
  expect_error("compare " + twice, {twice + ":4: duplicate key 'seed'"});
  const std::string nested =
      write("nested.yaml", "graph: " + kFfnn + "\ndevices: 4\noutput:\n  csv: a.csv\n  csv: b.csv\n");
  expect_error("compare " + nested, {nested + ":5: duplicate key 'csv'"});
}

TEST_F(Cli, UnknownConfigKey) {
  const std::string config = write("typo.yaml", "name: x\ngraph: " + kFfnn + "\ndevices: 4\nsede: 3\n");
  expect_error("compare " + config, {config + ":4:", "'sede'"});
  const std::string output =
      write("typo2.yaml", "graph: " + kFfnn + "\ndevices: 4\noutput: {csv: a.csv, plto: b.svg}\n");
  expect_error("compare " + output, {output + ":3:", "output.plto"});
}

TEST_F(Cli, BadConfigFields) {
  const std::string model = write("model.yaml", "graph: " + kFfnn + "\ndevices: 4\nmodel: fancy\n");
  expect_error("compare " + model, {model + ":3:", "'model'", "fancy"});
  const std::string method =
      write("method.yaml", "graph: " + kFfnn + "\ndevices: 4\nplacements: [heft, hefty]\n");
  expect_error("compare " + method, {method + ":3:", "placements[1]", "hefty"});
  const std::string devices = write("devices.yaml", "graph: " + kFfnn + "\ndevices: 0\n");
  expect_error("compare " + devices, {devices + ":2:", "'devices'"});
  const std::string both = write(
      "both.yaml", "graph: " + kFfnn + "\ndevices: 4\nmachine: " + kRoot + "/configs/machines/h100-2.yaml\n");
  expect_error("compare " + both, {both + ":2:", "not both"});
  const std::string seed = write("seed.yaml", "graph: " + kFfnn + "\ndevices: 4\nseed: -1\n");
  expect_error("compare " + seed, {seed + ":3:", "'seed'"});
}

TEST_F(Cli, MissingGraphFile) {
  const std::string config = write("missing.yaml", "name: x\ngraph: nothere.txt\ndevices: 4\n");
  expect_error("compare " + config, {config + ":2:", "'graph'", "nothere.txt"});
  expect_error("simulate --graph " + path("nothere.txt") + " --devices 4 --placement heft",
               {path("nothere.txt")});
}

TEST_F(Cli, GraphWithCycle) {
  // Paper format: 3 ops, edges 0->1, 1->2, 2->0.
  const std::string graph = write("cycle.txt", "3\n\n0 1 2\n1 2 0\n1,1\n1,1\n1,1\n");
  expect_error("simulate --graph " + graph + " --devices 2 --placement round_robin", {graph, "cycle", "op"});
  expect_error("graph " + graph, {graph, "cycle"});
}

TEST_F(Cli, PlanOfWrongLength) {
  const std::string plan = write("short.yaml", "devices: [0, 1]\n");
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement " + plan, {plan, "2 ops", "180"});
  const std::string placements = write("p.txt", "0,1,2\n");
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placements " + placements, {placements + ":1"});
}

TEST_F(Cli, PlanWithDeviceOutOfRange) {
  std::string devices;
  for (int i = 0; i < 180; ++i) devices += (i ? ", " : "") + std::string(i == 5 ? "7" : "0");
  const std::string plan = write("far.yaml", "devices: [" + devices + "]\n");
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement " + plan,
               {plan, "op 'op5'", "device 7"});

  std::string line;
  for (int i = 0; i < 180; ++i) line += (i ? "," : "") + std::string(i == 9 ? "4" : "1");
  const std::string placements = write("p.txt", line + "\n" + line + "\n");
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placements " + placements,
               {placements + ":1", "op 'op9'", "device 4"});
}

TEST_F(Cli, UnknownPlacementMethod) {
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement hefty", {"hefty", "heft"});
  expect_error("compare --graph " + kFfnn + " --devices 4 --methods heft,hefty", {"hefty"});
}

TEST_F(Cli, UnknownModel) {
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement heft --model fancy",
               {"--model", "fancy"});
  expect_error("graph " + kFfnn + " --model fancy", {"fancy"});
}

TEST_F(Cli, ZeroDevices) {
  expect_error("simulate --graph " + kFfnn + " --devices 0 --placement heft", {"--devices"});
  expect_error("bench sim --graph " + kFfnn + " --devices 0 --episodes 5", {"--devices"});
}

TEST_F(Cli, BadFlagIsAnError) {
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement heft --bogus", {"--bogus"});
  expect_error("simulate --graph " + kFfnn + " --placement heft", {"--devices"});
  expect_error("", {"subcommand"});
}

TEST_F(Cli, TraceInMissingDirectoryLeavesNoFile) {
  const std::vector<std::string> before = files();
  expect_error("simulate --graph " + kFfnn + " --devices 4 --placement heft --trace " + path("nodir/t.json"),
               {"--trace", "nodir"});
  EXPECT_EQ(files(), before);
  // A later output's bad directory stops the run before the earlier, valid output is written.
  expect_error("compare configs/quickstart.yaml --plot " + path("ok.svg") + " --csv " + path("nodir/r.csv"),
               {"--csv", "nodir"});
  EXPECT_EQ(files(), before);
}

}  // namespace
