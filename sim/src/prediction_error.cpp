#include "doppler/sim/prediction_error.hpp"

#include <algorithm>
#include <cmath>

namespace doppler::sim {
namespace {

// Makespans equal to 1e-9 relative are a tie (sums of the same terms in another order).
int compare(double a, double b) {
  if (std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b))) return 0;
  return a < b ? -1 : 1;
}

}  // namespace

double mape(std::span<const double> predicted, std::span<const double> measured) {
  if (measured.empty()) return 0;
  double total = 0;
  for (std::size_t i = 0; i < measured.size(); ++i)
    total += std::abs(predicted[i] - measured[i]) / measured[i];
  return 100 * total / static_cast<double>(measured.size());
}

void RankAgreement::add_group(std::span<const double> predicted, std::span<const double> measured) {
  for (std::size_t i = 0; i < measured.size(); ++i)
    for (std::size_t j = i + 1; j < measured.size(); ++j) {
      const int p = compare(predicted[i], predicted[j]);
      const int m = compare(measured[i], measured[j]);
      if (p == 0 && m == 0) continue;
      if (p == 0) {
        ++tied_predicted_;
      } else if (m == 0) {
        ++tied_measured_;
      } else if (p == m) {
        ++concordant_;
      } else {
        ++discordant_;
      }
    }
}

RankAgreement& RankAgreement::operator+=(const RankAgreement& other) {
  concordant_ += other.concordant_;
  discordant_ += other.discordant_;
  tied_predicted_ += other.tied_predicted_;
  tied_measured_ += other.tied_measured_;
  return *this;
}

std::optional<double> RankAgreement::tau() const {
  const double ranked = concordant_ + discordant_;
  const double denominator = std::sqrt((ranked + tied_predicted_) * (ranked + tied_measured_));
  if (denominator == 0) return std::nullopt;
  return (concordant_ - discordant_) / denominator;
}

}  // namespace doppler::sim
