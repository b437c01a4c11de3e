#include "app/report/svg_plot_axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/text/text_format.h"

namespace qt {

double Scale::operator()(double v) const {
  double t;
  if (log) {
    t = (std::log10(std::max(v, 1e-300)) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
  } else {
    t = (v - lo) / (hi - lo);
  }
  t = std::clamp(t, 0.0, 1.0);
  return p0 + t * (p1 - p0);
}

double nice_step(double span, int target) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double m = r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10;
  return m * mag;
}

std::string tick_label(double v, double step) {
  char b[48];
  if (std::fabs(v) < step * 1e-6) v = 0;  // -0 and rounding noise
  const double a = std::fabs(v);
  if (v != 0 && (a >= 1e6 || a < 1e-4)) {
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
  }
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 8);
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "–" : (v > 0 ? "∞" : "−∞");
  char b[48];
  const double a = std::fabs(v);
  if (v != 0 && (a >= 1e6 || a < 1e-3))
    std::snprintf(b, sizeof b, "%.3g", v);
  else
    std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

Scale linear_scale(double lo, double hi, double p0, double p1, int target, bool integer) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.05;
    lo -= pad, hi += pad;
  }
  double step = nice_step(hi - lo, target);
  if (integer) step = std::max(1.0, std::round(step));
  Scale s;
  s.p0 = p0, s.p1 = p1;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  s.lo = first * step, s.hi = last * step;
  if (s.hi == s.lo) s.hi = s.lo + step;
  for (double k = first; k <= last + 1e-9; k += 1) {
    s.ticks.push_back(k * step);
    s.labels.push_back(tick_label(k * step, step));
  }
  return s;
}

Scale log_scale(double lo, double hi, double p0, double p1) {
  Scale s;
  s.log = true;
  s.p0 = p0, s.p1 = p1;
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  s.lo = std::pow(10.0, e0), s.hi = std::pow(10.0, e1);
  const int every = std::max(1, (e1 - e0 + 5) / 6);
  for (int e = e0; e <= e1; e += every) {
    const double v = std::pow(10.0, e);
    s.ticks.push_back(v);
    char b[32];
    if (e >= -3 && e <= 5)
      std::snprintf(b, sizeof b, "%g", v);
    else
      std::snprintf(b, sizeof b, "1e%d", e);
    s.labels.push_back(b);
  }
  return s;
}

Scale category_scale(const std::vector<std::string>& names, double p0, double p1) {
  Scale s;
  const double n = static_cast<double>(std::max<size_t>(1, names.size()));
  // Slot i spans [i − 0.5, i + 0.5]: the domain is [−0.5, n − 0.5].
  s.lo = -0.5, s.hi = n - 0.5;
  s.p0 = p0, s.p1 = p1;
  for (size_t i = 0; i < names.size(); ++i) {
    s.ticks.push_back(static_cast<double>(i));
    s.labels.push_back(names[i]);
  }
  return s;
}

std::string series_color(size_t i) {
  // Tableau 10.
  static const char* palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#5a5a5a"};
  return palette[i % 10];
}

std::string series_dash(size_t i) {
  static const char* dashes[] = {"", "6 3", "2 2", "8 3 2 3"};
  return dashes[(i / 10) % 4];
}

std::string px(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

double text_width(const std::string& s, double font_px) {
  return static_cast<double>(display_width(s)) * font_px * 0.6;
}

std::string fit_text(const std::string& s, double font_px, double max_px) {
  if (text_width(s, font_px) <= max_px + 0.5) return s;
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if ((c & 0xC0) != 0x80 && text_width(r + "…", font_px) + font_px * 0.6 > max_px) break;
    r += s[i];
  }
  return r + "…";  // the loop stops only before a code point's first byte
}

}  // namespace qt
