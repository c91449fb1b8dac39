#pragma once
// Contract: how well predicted makespans match measured ones. mape(): mean absolute percentage
// error, in percent. RankAgreement: Kendall's tau-b between the predicted and the measured
// ranking; pairs may be added from several groups (each workload's placements) and pooled.
#include <optional>
#include <span>

namespace doppler::sim {

double mape(std::span<const double> predicted, std::span<const double> measured);

class RankAgreement {
 public:
  // Adds every pair of the group (predicted[i], measured[i]).
  void add_group(std::span<const double> predicted, std::span<const double> measured);
  RankAgreement& operator+=(const RankAgreement& other);
  // tau-b in [-1, 1]; nullopt with no pair ranked by both (fewer than two runs, or all ties).
  std::optional<double> tau() const;

 private:
  double concordant_ = 0, discordant_ = 0;
  double tied_predicted_ = 0, tied_measured_ = 0;  // pairs tied in one ranking only
};

}  // namespace doppler::sim
