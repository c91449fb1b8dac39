#pragma once
// Contract: a self-contained SVG horizontal bar chart (no dependencies): one bar per entry, in the
// given order, scaled so the largest value or the reference fits; a dashed vertical line marks the
// reference value (e.g. the makespan lower bound). Text is XML-escaped.
#include <string>
#include <vector>

namespace doppler::cli {

struct Bar {
  std::string label;
  double value = 0;
  std::string value_text;  // printed at the end of the bar
};

std::string bar_chart_svg(const std::string& title, const std::vector<Bar>& bars, double reference,
                          const std::string& reference_label);

}  // namespace doppler::cli
