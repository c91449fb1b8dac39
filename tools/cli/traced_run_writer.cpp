#include "traced_run_writer.hpp"

#include <filesystem>

#include "doppler/error.hpp"
#include "doppler/file_io.hpp"
#include "doppler/number_format.hpp"

namespace doppler::cli {
namespace {

namespace fs = std::filesystem;

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Letters, digits, '.', '_' and '-' only (directory names must survive any tool).
std::string safe_name(const std::string& text) {
  std::string out;
  for (const char c : text)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

}  // namespace

std::string write_traced_run(const std::string& dir, const Experiment& e, const EinsumOrigin& origin,
                             const TaskGraph& graph, const Plan& plan, const Trace& trace,
                             const TracedRunInfo& info) {
  const fs::path run = fs::path(dir) / safe_name(info.workload + "-" + info.placement);
  std::error_code ec;
  fs::create_directories(run, ec);
  if (ec) throw Error("--trace: cannot create '" + run.string() + "': " + ec.message());
  std::string file_as_written;
  if (!e.einsum->file.empty()) {
    file_as_written = "einsum.yaml";
    write_file_atomically((run / file_as_written).string(), read_text_file(e.einsum->file));
  }
  write_file_atomically((run / "config.yaml").string(),
                        "# Rebuilds the task graph of this traced run (written by doppler execute).\n"
                        "name: " +
                            info.workload +
                            "\neinsum: " + einsum::einsum_workload_yaml(*e.einsum, file_as_written) +
                            "\ndecompose: " + einsum::decompose_yaml(origin.options) +
                            "\ndevices: " + std::to_string(info.devices) + "\n");
  save_plan(plan, (run / "plan.yaml").string());
  save_trace(trace, graph, (run / "trace.csv").string());
  save_trace(trace, graph, (run / "trace.json").string());
  std::string gpu = "{name: " + quoted(info.gpu.name.empty() ? std::string("unknown") : info.gpu.name);
  for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"driver", info.gpu.driver},
                                   {"cuda", info.gpu.cuda},
                                   {"cublas", info.gpu.cublas},
                                   {"clocks", info.gpu.clocks}}) {
    if (!value.empty()) gpu += std::string(", ") + key + ": " + quoted(value);
  }
  if (!info.gpu.names.empty()) {
    gpu += ", names: [";
    for (std::size_t d = 0; d < info.gpu.names.size(); ++d)
      gpu += (d ? ", " : "") + quoted(info.gpu.names[d]);
    gpu += "]";
  }
  write_file_atomically(
      (run / "run.yaml").string(),
      "workload: " + info.workload + "\nplacement: " + info.placement +
          "\nconfig: config.yaml\nplan: plan.yaml\ntrace: trace.csv\nmakespan: " +
          format_number(info.makespan) + "\ndevices: " + std::to_string(info.devices) +
          (info.queue_depth > 0 ? "\nqueue_depth: " + std::to_string(info.queue_depth) : "") +
          "\ngpu: " + gpu + "}\n");
  return run.string();
}

}  // namespace doppler::cli
