#include "svg_text.hpp"

#include <cstdio>
#include <string>

namespace doppler::cli {

std::string svg_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
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

std::string svg_number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

std::string svg_open(double width, double height, int font_size, const std::string& title, int title_y) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + svg_number(width) + "\" height=\"" +
         svg_number(height) + "\" viewBox=\"0 0 " + svg_number(width) + " " + svg_number(height) +
         "\" font-family=\"sans-serif\" font-size=\"" + std::to_string(font_size) + "\">\n" +
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + "<text x=\"" + svg_number(width / 2) +
         "\" y=\"" + std::to_string(title_y) + "\" text-anchor=\"middle\" font-size=\"15\">" +
         svg_escape(title) + "</text>\n";
}

}  // namespace doppler::cli
