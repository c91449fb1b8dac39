#pragma once
// Contract: what the SVG chart writers share: XML-escaped text and coordinates with one decimal.
#include <string>

namespace doppler::cli {

std::string svg_escape(const std::string& text);  // & < > " as entities
std::string svg_number(double value);             // "%.1f"

}  // namespace doppler::cli
