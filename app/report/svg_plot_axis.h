#pragma once
// What every SVG plot of the report shares: axis scales with round ticks, number labels, the
// colour palette and a text-width estimate for laying out labels.
#include <string>
#include <vector>

namespace qt {

// A linear or base-10 logarithmic scale from data values [lo, hi] to pixels [p0, p1].
struct Scale {
  double lo = 0, hi = 1;  // the domain, widened to round tick values
  double p0 = 0, p1 = 1;  // the pixel range (p1 < p0 for a y axis)
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;

  double operator()(double v) const;  // pixel of v, clamped to the pixel range
};

// Round ticks covering [lo, hi] (about `target` of them); a degenerate range is widened.
// `integer`: ticks only at whole numbers (epochs).
Scale linear_scale(double lo, double hi, double p0, double p1, int target = 5,
                   bool integer = false);
// Ticks at powers of ten (every k-th when there are many decades); lo must be > 0.
Scale log_scale(double lo, double hi, double p0, double p1);
// Categories 0..n−1 placed at the centres of n equal slots.
Scale category_scale(const std::vector<std::string>& names, double p0, double p1);

// The step 1, 2 or 5 × 10^k nearest to span / target.
double nice_step(double span, int target);
// A tick label: as few digits as `step` needs ("0.25", "1200", "1e-05").
std::string tick_label(double v, double step);
// A number in a table or tooltip: 4 significant digits, no exponent for ordinary magnitudes.
std::string short_number(double v);

// The i-th series colour (a 10-colour palette, colour-blind safe) and its dash pattern
// ("" solid; series 10–19 dashed, 20–29 dotted …).
std::string series_color(size_t i);
std::string series_dash(size_t i);

// A coordinate or a length in an SVG attribute: one decimal ("12.5").
std::string px(double v);
// Width in pixels of `s` at `font_px` (a generous estimate for a sans-serif font).
double text_width(const std::string& s, double font_px);
// `s` cut to `max_px` with "…" when it is longer.
std::string fit_text(const std::string& s, double font_px, double max_px);

}  // namespace qt
