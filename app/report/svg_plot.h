#pragma once
// A line plot as one self-contained inline SVG element: axes with round ticks, a title, axis
// labels, one line per series (with a shaded band, or error bars, from lo to hi), dots where a
// series has few points, and a legend below the plot. Styles are attributes, not CSS, so the
// SVG reads the same inside report.html or saved on its own.
#include <string>
#include <vector>

namespace qt {

struct PlotSeries {
  std::string label = {};
  std::vector<double> x = {}, y = {};  // a NaN y leaves a gap in the line
  std::vector<double> lo = {},
                      hi = {};  // the band (min–max or mean ± std over seeds); empty = none
  bool markers = false;         // a dot at every point (isolated points always get one)
};

struct LinePlot {
  std::string title, x_label, y_label;
  // Non-empty: a categorical x axis; the series' x are indices into these names.
  std::vector<std::string> categories;
  bool integer_x = false;  // ticks at whole numbers only (epochs)
  bool log_x = false, log_y = false;
  bool error_bars = false;           // draw lo–hi as bars at each point instead of a band
  double width = 640, height = 260;  // the plotting area with its axes, without the legend
  std::vector<PlotSeries> series;
};

// True when some series has a finite point: an empty plot is not drawn at all.
bool has_points(const LinePlot& plot);
// True when every finite value is > 0 and they span at least `decades` powers of ten.
bool spans_decades(const std::vector<double>& values, double decades);
// The <svg> element. The plot must have points (has_points).
std::string render_svg(const LinePlot& plot);

}  // namespace qt
