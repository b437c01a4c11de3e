#include "app/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "app/report/svg_plot_axis.h"
#include "app/text/text_format.h"

namespace qt {

namespace {

constexpr double kFont = 12, kTitleFont = 13, kLegendRow = 18;

bool usable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity(),
         hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return lo > hi; }
};

// The legend's grid: as many columns as the widest label allows.
struct LegendLayout {
  int cols = 1, rows = 0;
  double col_width = 0;
};

LegendLayout legend_layout(const LinePlot& p) {
  LegendLayout l;
  const bool show = p.series.size() > 1 || (p.series.size() == 1 && !p.series[0].label.empty());
  if (!show) return l;
  double widest = 0;
  for (auto& s : p.series)
    widest = std::max(widest, std::min(text_width(s.label, kFont), p.width - 60));
  l.col_width = widest + 34;
  l.cols = std::max(1, static_cast<int>((p.width - 20) / l.col_width));
  l.rows = static_cast<int>((p.series.size() + l.cols - 1) / l.cols);
  return l;
}

std::string stroke_attrs(size_t i, double width) {
  std::string a = " stroke=\"" + series_color(i) + "\" stroke-width=\"" + px(width) + "\"";
  const std::string dash = series_dash(i);
  if (!dash.empty()) a += " stroke-dasharray=\"" + dash + "\"";
  return a;
}

}  // namespace

bool has_points(const LinePlot& plot) {
  for (auto& s : plot.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (usable(s.x[i], plot.log_x) && usable(s.y[i], plot.log_y)) return true;
  return false;
}

bool spans_decades(const std::vector<double>& values, double decades) {
  Range r;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v <= 0) return false;
    r.add(v);
  }
  return !r.empty() && std::log10(r.hi) - std::log10(r.lo) >= decades;
}

std::string render_svg(const LinePlot& p) {
  if (!has_points(p))
    throw std::logic_error("render_svg: the plot '" + p.title + "' has no points");
  Range xr, yr;
  for (auto& s : p.series) {
    const bool band = !s.lo.empty() && !s.hi.empty();
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], p.log_x) || !usable(s.y[i], p.log_y)) continue;
      xr.add(s.x[i]);
      yr.add(s.y[i]);
      if (band && i < s.lo.size() && usable(s.lo[i], p.log_y)) yr.add(s.lo[i]);
      if (band && i < s.hi.size() && usable(s.hi[i], p.log_y)) yr.add(s.hi[i]);
    }
  }

  // Vertical layout: title, plot area, x ticks (maybe slanted category names), x label, legend.
  const double top = 30, plot_h = p.height - 30 - 44;
  Scale ys = p.log_y ? log_scale(yr.lo, yr.hi, top + plot_h, top)
                     : linear_scale(yr.lo, yr.hi, top + plot_h, top);
  double label_w = 0;
  for (auto& l : ys.labels) label_w = std::max(label_w, text_width(l, kFont - 1));
  const double left = label_w + 14 + (p.y_label.empty() ? 0 : 18), right = 16;
  const double plot_w = p.width - left - right;

  Scale xs;
  bool slanted = false;
  double x_label_extra = 0;
  if (!p.categories.empty()) {
    xs = category_scale(p.categories, left, left + plot_w);
    double widest = 0;
    for (auto& c : p.categories) widest = std::max(widest, text_width(c, kFont - 1));
    slanted = widest > plot_w / static_cast<double>(p.categories.size()) - 6;
    if (slanted) x_label_extra = std::min(widest, 140.0) * 0.6;
  } else if (p.log_x) {
    xs = log_scale(xr.lo, xr.hi, left, left + plot_w);
  } else {
    xs = linear_scale(xr.lo, xr.hi, left, left + plot_w, 6, p.integer_x);
  }
  const LegendLayout legend = legend_layout(p);
  const double axis_bottom = top + plot_h;
  const double legend_top = axis_bottom + 44 + x_label_extra;
  const double total_h = legend_top + legend.rows * kLegendRow + (legend.rows ? 6 : 0);

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 " + px(p.width) +
       " " + px(total_h) + "\" width=\"" + px(p.width) + "\" height=\"" + px(total_h) +
       "\" role=\"img\" aria-label=\"" + xml_escape(p.title) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"" + px(kFont) + "\">\n";
  o += "<title>" + xml_escape(p.title) + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + px(p.width) + "\" height=\"" + px(total_h) +
       "\" fill=\"#ffffff\"/>\n";
  o += "<text x=\"" + px(p.width / 2) + "\" y=\"18\" text-anchor=\"middle\" font-size=\"" +
       px(kTitleFont) + "\" font-weight=\"bold\">" +
       xml_escape(fit_text(p.title, kTitleFont, p.width - 20)) + "</text>\n";

  // Grid and ticks.
  o += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double t : ys.ticks)
    o += "<line x1=\"" + px(left) + "\" x2=\"" + px(left + plot_w) + "\" y1=\"" + px(ys(t)) +
         "\" y2=\"" + px(ys(t)) + "\"/>\n";
  for (double t : xs.ticks)
    o += "<line x1=\"" + px(xs(t)) + "\" x2=\"" + px(xs(t)) + "\" y1=\"" + px(top) + "\" y2=\"" +
         px(axis_bottom) + "\"/>\n";
  o += "</g>\n<g class=\"axes\" fill=\"#333333\" font-size=\"" + px(kFont - 1) + "\">\n";
  o += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(plot_w) + "\" height=\"" +
       px(plot_h) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  for (size_t i = 0; i < ys.ticks.size(); ++i)
    o += "<text x=\"" + px(left - 5) + "\" y=\"" + px(ys(ys.ticks[i]) + 4) +
         "\" text-anchor=\"end\">" + xml_escape(ys.labels[i]) + "</text>\n";
  for (size_t i = 0; i < xs.ticks.size(); ++i) {
    const double x = xs(xs.ticks[i]), y = axis_bottom + 15;
    if (slanted)
      o += "<text x=\"" + px(x) + "\" y=\"" + px(y) +
           "\" text-anchor=\"end\" transform=\"rotate(-35 " + px(x) + " " + px(y) + ")\">" +
           xml_escape(fit_text(xs.labels[i], kFont - 1, 140)) + "</text>\n";
    else
      o += "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" text-anchor=\"middle\">" +
           xml_escape(xs.labels[i]) + "</text>\n";
  }
  if (!p.x_label.empty())
    o += "<text x=\"" + px(left + plot_w / 2) + "\" y=\"" + px(axis_bottom + 34 + x_label_extra) +
         "\" text-anchor=\"middle\" font-size=\"" + px(kFont) + "\">" + xml_escape(p.x_label) +
         "</text>\n";
  if (!p.y_label.empty()) {
    const double cy = top + plot_h / 2;
    o += "<text x=\"14\" y=\"" + px(cy) + "\" text-anchor=\"middle\" font-size=\"" + px(kFont) +
         "\" transform=\"rotate(-90 14 " + px(cy) + ")\">" +
         xml_escape(fit_text(p.y_label, kFont, plot_h)) + "</text>\n";
  }
  o += "</g>\n<g class=\"data\">\n";

  // Bands first (under every line), then lines, dots and error bars.
  for (size_t si = 0; si < p.series.size() && !p.error_bars; ++si) {
    const PlotSeries& s = p.series[si];
    if (s.lo.empty() || s.hi.empty()) continue;
    std::vector<size_t> run;
    auto flush = [&] {
      if (run.size() >= 2) {
        std::string d;
        for (size_t k : run) d += (d.empty() ? "M" : " L") + px(xs(s.x[k])) + " " + px(ys(s.hi[k]));
        for (auto it = run.rbegin(); it != run.rend(); ++it)
          d += " L" + px(xs(s.x[*it])) + " " + px(ys(s.lo[*it]));
        o += "<path class=\"band\" d=\"" + d + " Z\" fill=\"" + series_color(si) +
             "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
      }
      run.clear();
    };
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      const bool ok = usable(s.x[i], p.log_x) && i < s.lo.size() && i < s.hi.size() &&
                      usable(s.lo[i], p.log_y) && usable(s.hi[i], p.log_y);
      if (ok)
        run.push_back(i);
      else
        flush();
    }
    flush();
  }
  for (size_t si = 0; si < p.series.size(); ++si) {
    const PlotSeries& s = p.series[si];
    std::string d, dots, bars;
    const size_t n = std::min(s.x.size(), s.y.size());
    auto ok = [&](size_t i) { return i < n && usable(s.x[i], p.log_x) && usable(s.y[i], p.log_y); };
    bool pen_down = false;
    for (size_t i = 0; i < n; ++i) {
      if (!ok(i)) {
        pen_down = false;
        continue;
      }
      const double x = xs(s.x[i]), y = ys(s.y[i]);
      d += (pen_down ? " L" : (d.empty() ? "M" : " M")) + px(x) + " " + px(y);
      pen_down = true;
      const bool isolated = (i == 0 || !ok(i - 1)) && !ok(i + 1);
      if (s.markers || isolated)
        dots += "<circle class=\"marker\" cx=\"" + px(x) + "\" cy=\"" + px(y) +
                "\" r=\"2.8\" fill=\"" + series_color(si) + "\"/>\n";
      if (p.error_bars && i < s.lo.size() && i < s.hi.size() && usable(s.lo[i], p.log_y) &&
          usable(s.hi[i], p.log_y)) {
        const double a = ys(s.lo[i]), b = ys(s.hi[i]);
        bars += " M" + px(x) + " " + px(a) + " L" + px(x) + " " + px(b) + " M" + px(x - 3) + " " +
                px(a) + " L" + px(x + 3) + " " + px(a) + " M" + px(x - 3) + " " + px(b) + " L" +
                px(x + 3) + " " + px(b);
      }
    }
    if (d.empty()) continue;
    o += "<path class=\"line\" d=\"" + d + "\" fill=\"none\"" + stroke_attrs(si, 1.8) +
         " stroke-linejoin=\"round\" stroke-linecap=\"round\"><title>" + xml_escape(s.label) +
         "</title></path>\n";
    if (!bars.empty())
      o += "<path class=\"errorbar\" d=\"" + bars.substr(1) + "\" fill=\"none\" stroke=\"" +
           series_color(si) + "\" stroke-width=\"1.2\"/>\n";
    o += dots;
  }
  o += "</g>\n";

  if (legend.rows > 0) {
    o += "<g class=\"legend\">\n";
    for (size_t i = 0; i < p.series.size(); ++i) {
      const double x = 12 + static_cast<double>(i % legend.cols) * legend.col_width;
      const double y = legend_top + static_cast<double>(i / legend.cols) * kLegendRow + 9;
      o += "<path d=\"M" + px(x) + " " + px(y) + " L" + px(x + 22) + " " + px(y) + "\"" +
           stroke_attrs(i, 2.5) + "/>\n";
      o += "<text x=\"" + px(x + 28) + "\" y=\"" + px(y + 4) + "\">" +
           xml_escape(fit_text(p.series[i].label, kFont, legend.col_width - 34)) + "</text>\n";
    }
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace qt
