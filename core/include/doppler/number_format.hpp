#pragma once
// Contract: numbers for humans and scripts. format_number() prints a double exactly enough to
// round-trip, in fixed notation (never an exponent): integral values print as integers in full.
#include <string>

namespace doppler {

std::string format_number(double value);
// Fixed notation with `digits` significant digits for tables (e.g. 3 -> "0.0123", "1234").
std::string format_short(double value, int digits = 4);

}  // namespace doppler
