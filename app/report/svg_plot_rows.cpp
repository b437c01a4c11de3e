#include "app/report/svg_plot_rows.h"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "app/report/svg_plot_axis.h"
#include "app/text/text_format.h"

namespace qt {

namespace {

constexpr double kFont = 12, kRow = 20, kMaxLabel = 380;

bool has_interval(const PlotRow& r) {
  return std::isfinite(r.lo) && std::isfinite(r.hi);
}

}  // namespace

bool has_points(const RowPlot& plot) {
  for (auto& r : plot.rows)
    if (has_interval(r) || std::isfinite(r.mark)) return true;
  return false;
}

std::string render_svg(const RowPlot& p) {
  if (!has_points(p))
    throw std::logic_error("render_svg: the plot '" + p.title + "' has no rows to draw");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto add = [&](double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  };
  for (auto& r : p.rows) add(r.lo), add(r.hi), add(r.mark);
  add(p.x_min), add(p.x_max);

  double label_w = 0, note_w = 0;
  for (auto& r : p.rows) {
    label_w = std::max(label_w, std::min(text_width(r.label, kFont - 1), kMaxLabel));
    note_w = std::max(note_w, text_width(r.note, kFont - 1));
  }
  const double top = 30, left = label_w + 14, right = note_w + (note_w > 0 ? 16 : 12);
  const double width = p.width > 0 ? p.width : std::clamp(left + right + 420, 640.0, 1000.0);
  const double plot_w = std::max(120.0, width - left - right);
  const double plot_h = kRow * static_cast<double>(p.rows.size());
  const double total_h = top + plot_h + 44;
  const Scale xs = linear_scale(lo, hi, left, left + plot_w, 6, p.integer_x);

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 " + px(width) + " " +
       px(total_h) + "\" width=\"" + px(width) + "\" height=\"" + px(total_h) +
       "\" role=\"img\" aria-label=\"" + xml_escape(p.title) +
       "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"" + px(kFont) + "\">\n";
  o += "<title>" + xml_escape(p.title) + "</title>\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + px(width) + "\" height=\"" + px(total_h) +
       "\" fill=\"#ffffff\"/>\n";
  o += "<text x=\"" + px(width / 2) +
       "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">" +
       xml_escape(fit_text(p.title, 13, width - 20)) + "</text>\n";
  o += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double t : xs.ticks)
    o += "<line x1=\"" + px(xs(t)) + "\" x2=\"" + px(xs(t)) + "\" y1=\"" + px(top) + "\" y2=\"" +
         px(top + plot_h) + "\"/>\n";
  for (size_t i = 1; i < p.rows.size(); i += 2)
    o += "<rect x=\"" + px(left) + "\" y=\"" + px(top + kRow * static_cast<double>(i)) +
         "\" width=\"" + px(plot_w) + "\" height=\"" + px(kRow) +
         "\" fill=\"#f6f6f6\" stroke=\"none\"/>\n";
  o += "</g>\n<g class=\"axes\" fill=\"#333333\" font-size=\"" + px(kFont - 1) + "\">\n";
  o += "<rect x=\"" + px(left) + "\" y=\"" + px(top) + "\" width=\"" + px(plot_w) + "\" height=\"" +
       px(plot_h) + "\" fill=\"none\" stroke=\"#888888\"/>\n";
  for (size_t i = 0; i < xs.ticks.size(); ++i)
    o += "<text x=\"" + px(xs(xs.ticks[i])) + "\" y=\"" + px(top + plot_h + 15) +
         "\" text-anchor=\"middle\">" + xml_escape(xs.labels[i]) + "</text>\n";
  if (!p.x_label.empty())
    o += "<text x=\"" + px(left + plot_w / 2) + "\" y=\"" + px(top + plot_h + 34) +
         "\" text-anchor=\"middle\" font-size=\"" + px(kFont) + "\">" + xml_escape(p.x_label) +
         "</text>\n";
  for (size_t i = 0; i < p.rows.size(); ++i) {
    const double y = top + kRow * (static_cast<double>(i) + 0.5) + 4;
    o += "<text x=\"" + px(left - 6) + "\" y=\"" + px(y) + "\" text-anchor=\"end\">" +
         xml_escape(fit_text(p.rows[i].label, kFont - 1, kMaxLabel)) + "</text>\n";
    if (!p.rows[i].note.empty())
      o += "<text x=\"" + px(left + plot_w + 6) + "\" y=\"" + px(y) + "\">" +
           xml_escape(p.rows[i].note) + "</text>\n";
  }
  o += "</g>\n<g class=\"data\">\n";
  for (size_t i = 0; i < p.rows.size(); ++i) {
    const PlotRow& r = p.rows[i];
    const double y = top + kRow * (static_cast<double>(i) + 0.5);
    const std::string color = series_color(r.color);
    if (has_interval(r))
      o += "<path class=\"line\" d=\"M" + px(xs(r.lo)) + " " + px(y) + " L" + px(xs(r.hi)) + " " +
           px(y) + "\" stroke=\"" + color + "\" stroke-width=\"" + px(p.bar_width) +
           "\" stroke-linecap=\"butt\" fill=\"none\"><title>" + xml_escape(r.label) +
           "</title></path>\n";
    if (std::isfinite(r.mark))
      o += "<circle class=\"marker\" cx=\"" + px(xs(r.mark)) + "\" cy=\"" + px(y) +
           "\" r=\"4\" fill=\"" + color + "\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n";
  }
  o += "</g>\n</svg>\n";
  return o;
}

}  // namespace qt
