#pragma once
// Contract: what the SVG chart writers share: XML-escaped text, coordinates with one decimal, the
// chart's opening.
#include <string>

namespace doppler::cli {

std::string svg_escape(const std::string& text);  // & < > " as entities
std::string svg_number(double value);             // "%.1f"
// The opening of a chart: the <svg> element (width x height, sans-serif at font_size), a white
// background and the centred title at height title_y.
std::string svg_open(double width, double height, int font_size, const std::string& title, int title_y);

}  // namespace doppler::cli
