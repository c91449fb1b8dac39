#pragma once
// Contract: where a process stands in a multi-process launch, read from the environment a
// launcher sets: DOPPLER_RANK / DOPPLER_WORLD_SIZE / DOPPLER_LOCAL_RANK / DOPPLER_JOB_ID (any
// launcher, or by hand), else Open MPI's mpirun (OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK), else
// PMI (PMI_RANK, PMI_SIZE), else Slurm (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). The job id
// (DOPPLER_JOB_ID, OMPI_MCA_ess_base_jobid, SLURM_JOB_ID, else the parent process id, which the
// ranks one launcher starts on a host share) tells jobs sharing a rendezvous directory apart.
// No launcher variables, or inconsistent ones: an Error naming the variables.
#include <string>

namespace doppler::cli {

struct LaunchRank {
  int rank = 0;
  int size = 1;
  int local_rank = 0;  // this process's GPU on its host
  std::string job_id;
};

LaunchRank launch_rank_from_environment();

}  // namespace doppler::cli
