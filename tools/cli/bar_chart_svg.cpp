#include "bar_chart_svg.hpp"

#include <algorithm>
#include <cstdio>

namespace doppler::cli {
namespace {

constexpr double kWidth = 760, kLabelWidth = 150, kValueWidth = 130, kTop = 44, kRow = 28, kBar = 18,
                 kBottom = 40;

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

}  // namespace

std::string bar_chart_svg(const std::string& title, const std::vector<Bar>& bars, double reference,
                          const std::string& reference_label) {
  const double plot_width = kWidth - kLabelWidth - kValueWidth;
  double largest = reference;
  for (const Bar& bar : bars) largest = std::max(largest, bar.value);
  const double scale = largest > 0 ? plot_width / largest : 0;
  const double height = kTop + kRow * static_cast<double>(bars.size()) + kBottom;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
                    num(height) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(height) +
                    "\" font-family=\"sans-serif\" font-size=\"13\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num(kWidth / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
         escape(title) + "</text>\n";
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double y = kTop + kRow * static_cast<double>(i);
    const double length = bars[i].value * scale;
    svg += "<text x=\"" + num(kLabelWidth - 8) + "\" y=\"" + num(y + kBar - 4) + "\" text-anchor=\"end\">" +
           escape(bars[i].label) + "</text>\n";
    svg += "<rect x=\"" + num(kLabelWidth) + "\" y=\"" + num(y) + "\" width=\"" + num(length) +
           "\" height=\"" + num(kBar) + "\" fill=\"#4878a8\"/>\n";
    svg += "<text x=\"" + num(kLabelWidth + length + 6) + "\" y=\"" + num(y + kBar - 4) + "\">" +
           escape(bars[i].value_text) + "</text>\n";
  }
  const double x = kLabelWidth + reference * scale;
  const double bottom = kTop + kRow * static_cast<double>(bars.size());
  svg += "<line x1=\"" + num(x) + "\" y1=\"" + num(kTop - 6) + "\" x2=\"" + num(x) + "\" y2=\"" +
         num(bottom) + "\" stroke=\"#c03030\" stroke-width=\"2\" stroke-dasharray=\"6,4\"/>\n";
  svg += "<text x=\"" + num(x) + "\" y=\"" + num(bottom + 18) +
         "\" text-anchor=\"middle\" fill=\"#c03030\">" + escape(reference_label) + "</text>\n";
  svg += "</svg>\n";
  return svg;
}

}  // namespace doppler::cli
