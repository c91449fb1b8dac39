// The committed calibrated machines and the figures docs/PERFORMANCE.md quotes for them: `doppler
// calibrate` on each committed trace folder (traces/GPU-Ngpu, placements 3, 6, ... held out) writes
// exactly the committed configs/machines/GPU-N-calibrated.yaml, and `doppler validate` of those traces
// on it gives the recorded MAPE and Kendall tau (overall and held out). A change to the fitting or to
// the simulator's replay shows up here as a stale machine file or a stale figure.
#include <gtest/gtest.h>

#include <string>

#include "cli_fixture.hpp"

namespace {

using doppler::test_support::Cli;
using doppler::test_support::slurp;

struct Committed {
  std::string name;  // GPU-N
  int gpus;
  double mape, tau;  // all runs; tau < 0: not defined (every workload's placements predicted alike)
  double held_out_mape, held_out_tau;  // tau < 0: not defined (too few held-out runs per workload)
};

const Committed kCommitted[] = {
    {"h100-1", 1, 1.3429, 0.6708, 1.3604, -1},     {"h100-2", 2, 4.2446, 0.7944, 5.2558, 0.6905},
    {"h100-4", 4, 6.8577, 0.6580, 7.3896, 0.3810}, {"h200-1", 1, 1.9420, -1, 2.2337, -1},
    {"h200-2", 2, 4.9847, 0.8074, 5.4317, 0.7143}, {"h200-4", 4, 6.7320, 0.6623, 6.6228, 0.3333},
};

class CommittedCalibration : public Cli, public ::testing::WithParamInterface<Committed> {};

TEST_P(CommittedCalibration, CalibrateReproducesTheMachineFileAndValidateTheFigures) {
  const Committed& c = GetParam();
  const std::string gpu = c.name.substr(0, c.name.find('-'));
  const std::string traces = "traces/" + gpu + "-" + std::to_string(c.gpus) + "gpu";
  const std::string committed = "configs/machines/" + c.name + "-calibrated.yaml";
  const std::string fitted = path("fitted.yaml");
  const auto r = run("calibrate --traces " + traces + " --base configs/machines/" + c.name +
                     ".yaml --holdout 3 --out " + fitted);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(fitted), slurp(doppler::test_support::kRoot + "/" + committed))
      << committed << " is not what `doppler calibrate` makes from " << traces;

  const auto v = run_json("validate --traces " + traces + " --machine " + committed + " --json");
  EXPECT_NEAR(v["mape"].get<double>(), c.mape, 1e-3);
  if (c.tau >= 0) {
    EXPECT_NEAR(v["kendall_tau"].get<double>(), c.tau, 1e-3);
  } else {
    EXPECT_TRUE(v["kendall_tau"].is_null()) << v["kendall_tau"];
  }
  EXPECT_NEAR(v["held_out"]["mape"].get<double>(), c.held_out_mape, 1e-3);
  if (c.held_out_tau >= 0) {
    EXPECT_NEAR(v["held_out"]["kendall_tau"].get<double>(), c.held_out_tau, 1e-3);
  }
}

std::string test_name(const ::testing::TestParamInfo<Committed>& param_info) {
  std::string name = param_info.param.name;
  name.erase(name.find('-'), 1);
  return name;
}

INSTANTIATE_TEST_SUITE_P(Machines, CommittedCalibration, ::testing::ValuesIn(kCommitted), test_name);

}  // namespace
