#include "bar_chart_svg.hpp"

#include <algorithm>
#include <cstdio>

#include "svg_text.hpp"

namespace doppler::cli {
namespace {

constexpr double kWidth = 760, kLabelWidth = 150, kValueWidth = 130, kTop = 44, kRow = 28, kBar = 18,
                 kBottom = 40;

}  // namespace

std::string bar_chart_svg(const std::string& title, const std::vector<Bar>& bars, double reference,
                          const std::string& reference_label) {
  const double plot_width = kWidth - kLabelWidth - kValueWidth;
  double largest = reference;
  for (const Bar& bar : bars) largest = std::max(largest, bar.value);
  const double scale = largest > 0 ? plot_width / largest : 0;
  const double height = kTop + kRow * static_cast<double>(bars.size()) + kBottom;

  std::string svg = svg_open(kWidth, height, 13, title, 24);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double y = kTop + kRow * static_cast<double>(i);
    const double length = bars[i].value * scale;
    svg += "<text x=\"" + svg_number(kLabelWidth - 8) + "\" y=\"" + svg_number(y + kBar - 4) +
           "\" text-anchor=\"end\">" + svg_escape(bars[i].label) + "</text>\n";
    svg += "<rect x=\"" + svg_number(kLabelWidth) + "\" y=\"" + svg_number(y) + "\" width=\"" +
           svg_number(length) + "\" height=\"" + svg_number(kBar) + "\" fill=\"#4878a8\"/>\n";
    svg += "<text x=\"" + svg_number(kLabelWidth + length + 6) + "\" y=\"" + svg_number(y + kBar - 4) +
           "\">" + svg_escape(bars[i].value_text) + "</text>\n";
  }
  const double x = kLabelWidth + reference * scale;
  const double bottom = kTop + kRow * static_cast<double>(bars.size());
  svg += "<line x1=\"" + svg_number(x) + "\" y1=\"" + svg_number(kTop - 6) + "\" x2=\"" + svg_number(x) +
         "\" y2=\"" + svg_number(bottom) +
         "\" stroke=\"#c03030\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n";
  svg += "<text x=\"" + svg_number(x) + "\" y=\"" + svg_number(bottom + 18) +
         "\" text-anchor=\"middle\" fill=\"#c03030\">" + svg_escape(reference_label) + "</text>\n";
  svg += "</svg>\n";
  return svg;
}

}  // namespace doppler::cli
