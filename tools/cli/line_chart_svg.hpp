#pragma once
// Contract: a self-contained SVG line chart (no dependencies): one polyline per series over a
// shared x and y range (y from the smallest to the largest value of all series), axis ticks at
// both ends, a legend. Dashed series draw as horizontal reference lines. Text is XML-escaped.
#include <string>
#include <vector>

namespace doppler::cli {

struct LineSeries {
  std::string label;
  std::string colour;  // any SVG colour
  std::vector<double> x, y;
  bool dashed = false;
};

std::string line_chart_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<LineSeries>& series);

}  // namespace doppler::cli
