// The least-squares steps of calibration: a per-kind roofline, a link, the overlap slowdown.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>

#include "doppler/sim/calibration.hpp"

namespace doppler::sim {
namespace {

using Row = std::array<double, 3>;

// Weighted least squares of y on the active columns of x (the others fixed at 0). Columns are
// scaled to unit size first so that flops (1e12) and a constant (1) solve together. Nullopt when
// the active columns are (near) dependent.
std::optional<Row> least_squares(std::span<const Row> x, std::span<const double> y, std::span<const double> w,
                                 std::array<bool, 3> active) {
  std::array<std::size_t, 3> cols{};
  std::size_t k = 0;
  for (std::size_t c = 0; c < 3; ++c)
    if (active[c]) cols[k++] = c;
  Row scale{1, 1, 1};
  for (std::size_t j = 0; j < k; ++j) {
    double largest = 0;
    for (const Row& r : x) largest = std::max(largest, std::abs(r[cols[j]]));
    if (largest == 0) return std::nullopt;
    scale[j] = largest;
  }
  double a[3][4] = {};
  for (std::size_t i = 0; i < x.size(); ++i) {
    for (std::size_t p = 0; p < k; ++p) {
      const double xp = x[i][cols[p]] / scale[p];
      for (std::size_t q = 0; q < k; ++q) a[p][q] += w[i] * xp * x[i][cols[q]] / scale[q];
      a[p][k] += w[i] * xp * y[i];
    }
  }
  for (std::size_t p = 0; p < k; ++p) {
    std::size_t pivot = p;
    for (std::size_t r = p + 1; r < k; ++r)
      if (std::abs(a[r][p]) > std::abs(a[pivot][p])) pivot = r;
    std::swap(a[p], a[pivot]);
    if (std::abs(a[p][p]) < 1e-12 * std::max(1.0, std::abs(a[0][0]))) return std::nullopt;
    for (std::size_t r = 0; r < k; ++r) {
      if (r == p) continue;
      const double f = a[r][p] / a[p][p];
      for (std::size_t c = p; c <= k; ++c) a[r][c] -= f * a[p][c];
    }
  }
  Row beta{0, 0, 0};
  for (std::size_t p = 0; p < k; ++p) beta[cols[p]] = a[p][k] / a[p][p] / scale[p];
  return beta;
}

double relative_weight(double seconds) {
  const double t = std::max(seconds, std::numeric_limits<double>::min());
  return 1.0 / (t * t);
}

constexpr std::array<std::array<bool, 3>, 7> kSubsets{{{true, true, true},
                                                       {true, true, false},
                                                       {true, false, true},
                                                       {false, true, true},
                                                       {true, false, false},
                                                       {false, true, false},
                                                       {false, false, true}}};

}  // namespace

KindFit fit_kind_roofline(std::span<const ShapeTime> shapes) {
  const std::size_t m = shapes.size();
  if (m == 0) return {};
  // The memory-bound shapes of a roofline are those below an arithmetic intensity: try each split
  // of the shapes sorted by intensity, each with every non-negative subset of (overhead, 1/rate,
  // 1/bandwidth), and keep the least relative squared error of the max() model.
  std::vector<ShapeTime> sorted(shapes.begin(), shapes.end());
  auto intensity = [](const ShapeTime& s) {
    return s.bytes > 0 ? s.flops / s.bytes : std::numeric_limits<double>::infinity();
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const ShapeTime& a, const ShapeTime& b) { return intensity(a) < intensity(b); });
  std::vector<double> y(m), w(m);
  for (std::size_t i = 0; i < m; ++i) y[i] = sorted[i].time, w[i] = relative_weight(sorted[i].time);
  std::vector<Row> x(m);
  Row best{0, 0, 0};
  double best_error = std::numeric_limits<double>::infinity();
  for (std::size_t split = 0; split <= m; ++split) {
    for (std::size_t i = 0; i < m; ++i)
      x[i] = i < split ? Row{1, 0, sorted[i].bytes} : Row{1, sorted[i].flops, 0};
    for (const auto& subset : kSubsets) {
      const std::optional<Row> beta = least_squares(x, y, w, subset);
      if (!beta || (*beta)[0] < 0 || (*beta)[1] < 0 || (*beta)[2] < 0) continue;
      double error = 0;
      for (std::size_t i = 0; i < m; ++i) {
        const double predicted =
            (*beta)[0] + std::max((*beta)[1] * sorted[i].flops, (*beta)[2] * sorted[i].bytes);
        error += w[i] * (predicted - y[i]) * (predicted - y[i]);
      }
      if (error < best_error * (1 - 1e-12)) best_error = error, best = *beta;
    }
  }
  return {best[1] > 0 ? 1 / best[1] : 0, best[2] > 0 ? 1 / best[2] : 0, best[0]};
}

LinkSpec fit_link(std::span<const std::pair<double, double>> samples, const LinkSpec& fallback) {
  if (samples.empty()) return fallback;
  std::vector<Row> x;
  std::vector<double> y, w;
  double smallest = samples[0].first, largest = samples[0].first;
  for (const auto& [bytes, seconds] : samples) {
    x.push_back({1, bytes, 0});
    y.push_back(seconds);
    w.push_back(relative_weight(seconds));
    smallest = std::min(smallest, bytes);
    largest = std::max(largest, bytes);
  }
  if (largest > smallest) {
    const std::optional<Row> both = least_squares(x, y, w, {true, true, false});
    if (both && (*both)[0] >= 0 && (*both)[1] > 0) return {1 / (*both)[1], (*both)[0]};
    const std::optional<Row> slope = least_squares(x, y, w, {false, true, false});
    if (slope && (*slope)[1] > 0) return {1 / (*slope)[1], 0};
  }
  // One size: the fallback's latency when the durations leave room for it, and the bandwidth.
  std::vector<double> durations = y;
  std::nth_element(durations.begin(), durations.begin() + durations.size() / 2, durations.end());
  const double median = durations[durations.size() / 2];
  if (largest == 0) return {fallback.bandwidth, median};
  const double latency = median > fallback.latency ? fallback.latency : 0.0;
  return median > latency ? LinkSpec{largest / (median - latency), latency} : fallback;
}

double fit_concurrency_slowdown(std::span<const double> measured, std::span<const double> predicted,
                                std::span<const double> overlapped) {
  double numerator = 0, denominator = 0;
  for (std::size_t i = 0; i < measured.size(); ++i) {
    numerator += (measured[i] - predicted[i]) * overlapped[i];
    denominator += overlapped[i] * overlapped[i];
  }
  if (denominator <= 0) return 1;
  const double k = numerator / denominator;  // 1 - 1/s
  if (k <= 0) return 1;
  return k >= 0.99 ? 100.0 : 1 / (1 - k);
}

}  // namespace doppler::sim
