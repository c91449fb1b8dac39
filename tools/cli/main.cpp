// The `doppler` command line (CLI11): simulate, compare, graph, decompose, bench sim, calibrate,
// validate, offload; with LibTorch also train, place, evaluate, bench train and bench place. Every error ends
// as one line on stderr, "doppler: error: <message>", and exit code 2; --help exits 0.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

#include "commands.hpp"
#include "doppler/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"doppler: place ML dataflow graphs on multi-GPU machines, simulate and compare placements"};
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("doppler: error: ") + e.what() + " (see --help)\n";
  });
  app.require_subcommand(1);
  doppler::cli::add_simulate_command(app);
  doppler::cli::add_compare_command(app);
  doppler::cli::add_graph_command(app);
  doppler::cli::add_decompose_command(app);
  doppler::cli::add_execute_command(app);
  doppler::cli::add_bench_command(app);
  doppler::cli::add_calibrate_command(app);
  doppler::cli::add_validate_command(app);
  doppler::cli::add_offload_command(app);
#ifdef DOPPLER_HAVE_TORCH
  doppler::cli::add_train_command(app);
  doppler::cli::add_place_command(app);
  doppler::cli::add_evaluate_command(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "doppler: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
