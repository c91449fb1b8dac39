// The `doppler` command line (CLI11). Subcommands are added in tools/cli/.
#include <CLI/CLI.hpp>
#include <iostream>

#include "doppler/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"doppler: place ML dataflow graphs on multi-GPU machines"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const doppler::Error& e) {
    std::cerr << "doppler: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
