#pragma once
// A plot of labelled rows, each an interval on a shared x axis with an optional dot: the
// timeline of Iterative Training (one row per layer, a bar from the epoch it became binary),
// and the dot plot of a sweep (one row per grid point, the spread over seeds and its mean).
#include <cmath>
#include <string>
#include <vector>

namespace qt {

struct PlotRow {
  std::string label;
  double lo = NAN, hi = NAN;  // the interval; NaN = nothing drawn on this row
  double mark = NAN;          // a dot (NaN = none)
  size_t color = 0;           // palette index
  std::string note = {};      // text right of the plot ("89.2 ± 0.3 %")
};

struct RowPlot {
  std::string title, x_label;
  std::vector<PlotRow> rows;
  bool integer_x = false;
  double x_min = NAN, x_max = NAN;  // included in the x range when finite
  double bar_width = 3;             // the interval's thickness in pixels
  double width = 0;                 // 0: wide enough for the labels and notes (640 to 1000 pixels)
};

bool has_points(const RowPlot& plot);  // some row has a finite interval or dot
std::string render_svg(const RowPlot& plot);

}  // namespace qt
