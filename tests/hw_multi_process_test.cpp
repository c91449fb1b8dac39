// Multi-process mode of the hw backend: two `doppler execute --multi-process` processes (one GPU
// each, DOPPLER_RANK / DOPPLER_WORLD_SIZE as a launcher would set them) run a Llama training step
// under two placements; rank 0 reports outputs equal to the CPU reference and the gathered
// timings, rank 1 prints nothing. Without a launcher environment the flag fails in one line.
// Skips with the reason when fewer than two GPUs are visible.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "doppler/hw/executor.hpp"

extern char** environ;

namespace doppler::hw {
namespace {

// The doppler binary beside this test (as when the binaries are carried to a GPU machine), else
// the one the build made; configs from the source tree, else the current directory.
std::string cli() {
  const std::filesystem::path beside =
      std::filesystem::read_symlink("/proc/self/exe").parent_path() / "doppler";
  return std::filesystem::exists(beside) ? beside.string() : std::string(DOPPLER_CLI);
}

std::string root() {
  return std::filesystem::exists(DOPPLER_SOURCE_DIR) ? std::string(DOPPLER_SOURCE_DIR) : std::string(".");
}

const std::string kCli = cli();
const std::string kRoot = root();

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts `doppler args...` with extra environment variables, stdout/stderr to files.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out,
            const std::string& err) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&files, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv{const_cast<char*>(kCli.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> all(env);
  for (char** e = environ; *e; ++e) all.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : all) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, kCli.c_str(), &files, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&files);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(HwMultiProcess, TwoProcessesEqualTheReference) {
  if (const std::string missing = missing_gpus(2); !missing.empty()) GTEST_SKIP() << missing;
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("doppler-mp-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::vector<std::string> args{"execute",         kRoot + "/configs/einsum/gpu/verify_small.yaml",
                                      "--placements",    "critical_path,round_robin",
                                      "--repetitions",   "2",
                                      "--verify",        "--json",
                                      "--multi-process", "--rendezvous",
                                      dir.string()};
  std::array<pid_t, 2> pids{};
  for (int rank = 0; rank < 2; ++rank) {
    const std::string r = std::to_string(rank);
    pids[static_cast<std::size_t>(rank)] = spawn(
        args, {"DOPPLER_RANK=" + r, "DOPPLER_WORLD_SIZE=2", "DOPPLER_LOCAL_RANK=" + r, "DOPPLER_JOB_ID=test"},
        (dir / ("out" + r)).string(), (dir / ("err" + r)).string());
  }
  for (int rank = 0; rank < 2; ++rank) {
    const std::string r = std::to_string(rank);
    EXPECT_EQ(wait_for(pids[static_cast<std::size_t>(rank)]), 0)
        << "rank " << r << ": " << slurp(dir / ("err" + r));
  }
  EXPECT_EQ(slurp(dir / "out1"), "");
  const std::string out0 = slurp(dir / "out0");
  const nlohmann::json j = nlohmann::json::parse(out0, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << "rank 0 printed no JSON:\n"
                                 << out0 << "\nstderr:\n"
                                 << slurp(dir / "err0");
  EXPECT_EQ(j["processes"], 2);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& result : j["results"]) {
    EXPECT_GE(result["max_relative_error"].get<double>(), 0.0);
    EXPECT_LT(result["max_relative_error"].get<double>(), 1e-4) << result["placement"];
    EXPECT_GT(result["makespan_ms"].get<double>(), 0.0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace doppler::hw
