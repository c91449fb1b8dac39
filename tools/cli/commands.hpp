#pragma once
// Contract: the `doppler` subcommands. Each add_*_command registers one subcommand (its flags,
// --help text and callback) on the top-level app. Callbacks report bad input by throwing
// doppler::Error; main() turns that into one line on stderr and exit code 2.
#include <CLI/CLI.hpp>

namespace doppler::cli {

void add_simulate_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_graph_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_decompose_command(CLI::App& app);
void add_execute_command(CLI::App& app);
void add_calibrate_command(CLI::App& app);
void add_validate_command(CLI::App& app);
void add_offload_command(CLI::App& app);
#ifdef DOPPLER_HAVE_TORCH
// The learned policies (built with LibTorch only).
void add_train_command(CLI::App& app);
void add_place_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_bench_learn_commands(CLI::App& bench);  // bench train, bench place
#endif

}  // namespace doppler::cli
