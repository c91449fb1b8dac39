#pragma once
// Test helper: runs the `doppler` binary from the repository root in a fresh temporary directory,
// capturing stdout, stderr and the exit code; checks the one-line error contract.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace doppler::test_support {

inline const std::string kRoot = DOPPLER_SOURCE_DIR;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "doppler-cli-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ / name, std::ios::binary) << content;
    return path(name);
  }

  // Runs `doppler ARGS` from the repository root, capturing stdout, stderr and the exit code.
  Result run(const std::string& args) const {
    const std::filesystem::path out = dir_ / ".stdout", err = dir_ / ".stderr";
    const std::string command = "cd '" + kRoot + "' && '" + DOPPLER_CLI + "' " + args + " >'" + out.string() +
                                "' 2>'" + err.string() + "'";
    const int status = std::system(command.c_str());
    Result result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(out);
    result.err = slurp(err);
    std::filesystem::remove(out);
    std::filesystem::remove(err);
    return result;
  }

  nlohmann::json run_json(const std::string& args) const {
    const Result r = run(args);
    EXPECT_EQ(r.code, 0) << args << "\n" << r.err;
    EXPECT_EQ(r.err, "");
    return nlohmann::json::parse(r.out);
  }

  // Exit code 2 and exactly one stderr line, "doppler: error: ...", containing every `part`.
  void expect_error(const std::string& args, const std::vector<std::string>& parts) const {
    const Result r = run(args);
    EXPECT_EQ(r.code, 2) << args << "\nstdout: " << r.out << "\nstderr: " << r.err;
    EXPECT_EQ(r.err.rfind("doppler: error: ", 0), 0u) << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
    for (const std::string& part : parts)
      EXPECT_NE(r.err.find(part), std::string::npos) << "'" << part << "' not in: " << r.err;
  }

  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::filesystem::path dir_;
};

}  // namespace doppler::test_support
