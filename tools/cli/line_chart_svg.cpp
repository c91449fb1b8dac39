#include "line_chart_svg.hpp"

#include <algorithm>
#include <cstdio>

#include <limits>
#include "svg_text.hpp"

#include "report.hpp"

namespace doppler::cli {
namespace {

constexpr double kWidth = 760, kHeight = 420, kLeft = 70, kRight = 20, kTop = 40, kBottom = 80;

std::string text(double x, double y, const std::string& anchor, const std::string& content) {
  return "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(y) + "\" text-anchor=\"" + anchor + "\">" +
         svg_escape(content) + "</text>\n";
}

}  // namespace

std::string line_chart_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<LineSeries>& series) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const LineSeries& s : series) {
    for (double x : s.x) x0 = std::min(x0, x), x1 = std::max(x1, x);
    for (double y : s.y) y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (!(x0 <= x1)) x0 = 0, x1 = 1;
  if (!(y0 <= y1)) y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const double w = kWidth - kLeft - kRight, h = kHeight - kTop - kBottom;
  const auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * w; };
  const auto py = [&](double y) { return kTop + (1 - (y - y0) / (y1 - y0)) * h; };

  std::string svg = svg_open(kWidth, kHeight, 12, title, 22);
  svg += "<rect x=\"" + svg_number(kLeft) + "\" y=\"" + svg_number(kTop) + "\" width=\"" + svg_number(w) +
         "\" height=\"" + svg_number(h) + "\" fill=\"none\" stroke=\"#888\"/>\n";
  svg += text(kLeft, kTop + h + 16, "middle", g4(x0)) + text(kLeft + w, kTop + h + 16, "middle", g4(x1));
  svg += text(kLeft - 6, kTop + h + 4, "end", g4(y0)) + text(kLeft - 6, kTop + 4, "end", g4(y1));
  svg += text(kLeft + w / 2, kTop + h + 34, "middle", x_label);
  svg += "<text transform=\"translate(16," + svg_number(kTop + h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + svg_escape(y_label) + "</text>\n";
  for (const LineSeries& s : series) {
    std::string points;
    for (std::size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      points += svg_number(px(s.x[i])) + "," + svg_number(py(s.y[i])) + " ";
    }
    svg += "<polyline fill=\"none\" stroke=\"" + svg_escape(s.colour) + "\" stroke-width=\"1.2\"" +
           (s.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + points + "\"/>\n";
  }
  double legend_x = kLeft;
  for (const LineSeries& s : series) {
    const double y = kHeight - 18;
    svg += "<line x1=\"" + svg_number(legend_x) + "\" y1=\"" + svg_number(y - 4) + "\" x2=\"" +
           svg_number(legend_x + 24) + "\" y2=\"" + svg_number(y - 4) + "\" stroke=\"" +
           svg_escape(s.colour) + "\" stroke-width=\"2\"" + (s.dashed ? " stroke-dasharray=\"6,4\"" : "") +
           "/>\n";
    svg += text(legend_x + 30, y, "start", s.label);
    legend_x += 40 + 7.0 * static_cast<double>(s.label.size());
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace doppler::cli
