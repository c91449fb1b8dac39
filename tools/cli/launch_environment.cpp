#include "launch_environment.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <optional>

#include "doppler/error.hpp"

namespace doppler::cli {
namespace {

std::optional<int> integer_variable(const char* name) {
  const char* text = std::getenv(name);
  if (!text) return std::nullopt;
  int value = 0;
  const char* end = text + std::char_traits<char>::length(text);
  const auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || value < 0)
    throw Error(std::string("environment variable ") + name + "='" + text +
                "' is not a non-negative integer");
  return value;
}

struct Scheme {
  const char* rank;
  const char* size;
  const char* local_rank;  // may be null: the rank
};

}  // namespace

LaunchRank launch_rank_from_environment() {
  constexpr Scheme kSchemes[] = {
      {"DOPPLER_RANK", "DOPPLER_WORLD_SIZE", "DOPPLER_LOCAL_RANK"},
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"PMI_RANK", "PMI_SIZE", nullptr},
      {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"}};
  for (const Scheme& scheme : kSchemes) {
    const std::optional<int> rank = integer_variable(scheme.rank);
    if (!rank) continue;
    const std::optional<int> size = integer_variable(scheme.size);
    if (!size || *size < 1 || *rank >= *size) {
      throw Error(std::string(scheme.rank) + "=" + std::to_string(*rank) + " needs " + scheme.size +
                  " set to the number of processes (greater than the rank)");
    }
    LaunchRank launch{*rank, *size, *rank, ""};
    if (scheme.local_rank)
      if (const std::optional<int> local = integer_variable(scheme.local_rank)) launch.local_rank = *local;
    for (const char* job : {"DOPPLER_JOB_ID", "OMPI_MCA_ess_base_jobid", "SLURM_JOB_ID"}) {
      if (const char* id = std::getenv(job)) {
        launch.job_id = id;
        break;
      }
    }
    if (launch.job_id.empty()) launch.job_id = "ppid-" + std::to_string(getppid());
    return launch;
  }
  throw Error(
      "execute --multi-process: no launcher environment (start it with mpirun -np N, srun, or set "
      "DOPPLER_RANK and "
      "DOPPLER_WORLD_SIZE in each process)");
}

}  // namespace doppler::cli
