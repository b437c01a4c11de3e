#include "app/report/report_sweep.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "app/report/report_format.h"
#include "app/report/svg_plot.h"
#include "app/report/svg_plot_rows.h"
#include "app/sweep/sweep_spec.h"

namespace qt {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

enum class Result { Final, Best, Max };

SeedStats result_stats(const PointData& p, Result which) {
  std::vector<double> v;
  for (const RunData* r : counted_runs(p)) {
    const RunNumbers n = run_numbers(*r);
    v.push_back(which == Result::Final  ? n.final_test
                : which == Result::Best ? n.best_test
                                        : n.max_test);
  }
  return seed_stats(v);
}

std::vector<std::string> point_keys(const SweepData& sweep) {
  std::vector<std::string> keys;
  for (auto& k : sweep.varied)
    if (k != "seed") keys.push_back(k);
  return keys;
}

std::string param_value(const PointData& p, const std::string& key) {
  return p.params.contains(key) ? value_text(p.params[key]) : "";
}

// The key that splits the learning curves into panels: the model, else the dataset, when they vary.
std::string facet_key(const SweepData& sweep) {
  for (const char* k : {"model", "data.name"})
    if (std::find(sweep.varied.begin(), sweep.varied.end(), k) != sweep.varied.end()) return k;
  return "";
}

ojson without(const ojson& params, const std::string& key) {
  ojson r = ojson::object();
  for (auto it = params.begin(); it != params.end(); ++it)
    if (it.key() != key) r[it.key()] = it.value();
  return r;
}

}  // namespace

DocTable points_table(const SweepData& sweep, const std::vector<PointData>& points) {
  DocTable t;
  const std::vector<std::string> keys = point_keys(sweep);
  for (auto& k : keys) t.header.push_back(short_key(k));
  for (const char* h : {"runs finished", "epochs", "test acc at best val", "final test acc",
                        "max test acc", "time per run"})
    t.header.push_back(h);
  t.right.assign(t.header.size(), true);
  for (size_t i = 0; i < keys.size(); ++i) t.right[i] = false;
  double best = -1;
  size_t best_row = points.size();
  for (size_t i = 0; i < points.size(); ++i) {
    const PointData& p = points[i];
    std::vector<std::string> row;
    for (auto& k : keys) row.push_back(param_value(p, k));
    int finished = 0, done = 0, planned = 0;
    std::vector<double> seconds;
    for (const RunData* r : p.runs) {
      finished += r->state == RunState::Finished;
      done = std::max(done, static_cast<int>(r->epochs.size()));
      planned = std::max(planned, r->planned_epochs());
    }
    for (const RunData* r : counted_runs(p)) seconds.push_back(run_numbers(*r).seconds);
    row.push_back(std::to_string(finished) + " of " + std::to_string(p.runs.size()));
    row.push_back(std::to_string(done) + " / " + std::to_string(planned));
    const SeedStats fin = result_stats(p, Result::Final);
    row.push_back(percent_stats(result_stats(p, Result::Best)));
    row.push_back(percent_stats(fin));
    row.push_back(percent_stats(result_stats(p, Result::Max)));
    row.push_back(duration(seed_stats(seconds).mean));
    if (fin.n && fin.mean > best) best = fin.mean, best_row = i;
    t.rows.push_back(std::move(row));
  }
  t.emphasis.assign(t.rows.size(), false);
  if (best_row < t.rows.size() && t.rows.size() > 1) t.emphasis[best_row] = true;
  return t;
}

std::vector<DocFigure> accuracy_by_point(const std::vector<PointData>& points) {
  RowPlot p;
  p.title = "Final test accuracy per point (dot: mean over seeds, bar: min–max)";
  p.x_label = "final test accuracy (%)";
  std::map<std::string, size_t> colors;
  for (const PointData& pt : points) {
    const SeedStats s = result_stats(pt, Result::Final);
    // Points that share their first parameter share a colour.
    const std::string group = pt.params.empty() ? "" : value_text(pt.params.begin().value());
    const size_t color = colors.emplace(group, colors.size()).first->second;
    p.rows.push_back(
        {pt.label, 100 * s.min, 100 * s.max, 100 * s.mean, color,
         s.n ? percent_stats(s) + (s.n > 1 ? " (" + std::to_string(s.n) + " seeds)" : "")
             : "no result yet"});
  }
  if (!has_points(p)) return {};
  return {DocFigure{render_svg(p)}};
}

std::vector<DocFigure> accuracy_vs_parameters(const SweepData& sweep,
                                              const std::vector<PointData>& points) {
  std::vector<DocFigure> out;
  for (const std::string& key : point_keys(sweep)) {
    // The key's values in order of appearance, and whether they are all numbers.
    std::vector<ojson> values;
    for (const PointData& p : points)
      if (p.params.contains(key) &&
          std::find(values.begin(), values.end(), p.params[key]) == values.end())
        values.push_back(p.params[key]);
    if (values.size() < 2) continue;
    const bool numeric =
        std::all_of(values.begin(), values.end(), [](const ojson& v) { return v.is_number(); });
    LinePlot plot;
    plot.title = "Final test accuracy vs " + short_key(key) + " (mean over seeds, bars: min–max)";
    plot.x_label = key;
    plot.y_label = "final test accuracy (%)";
    plot.error_bars = true;
    if (!numeric)
      for (auto& v : values) plot.categories.push_back(value_text(v));
    std::vector<double> xs_all;
    std::map<std::string, size_t> series_of;
    bool some_line = false;
    for (const PointData& p : points) {
      if (!p.params.contains(key)) continue;
      const SeedStats s = result_stats(p, Result::Final);
      if (!s.n) continue;
      const std::string label = params_label(without(p.params, key));
      auto [it, fresh] = series_of.emplace(label, plot.series.size());
      if (fresh)
        plot.series.push_back(PlotSeries{label == "base" ? "" : label, {}, {}, {}, {}, true});
      PlotSeries& ser = plot.series[it->second];
      const double x =
          numeric ? p.params[key].get<double>()
                  : static_cast<double>(std::find(values.begin(), values.end(), p.params[key]) -
                                        values.begin());
      ser.x.push_back(x);
      ser.y.push_back(100 * s.mean);
      ser.lo.push_back(100 * s.min);
      ser.hi.push_back(100 * s.max);
      xs_all.push_back(x);
      some_line |= ser.x.size() >= 2;
    }
    if (!some_line || !has_points(plot)) continue;
    // Lines join the values in increasing order.
    for (PlotSeries& ser : plot.series) {
      std::vector<size_t> idx(ser.x.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return ser.x[a] < ser.x[b]; });
      PlotSeries sorted = ser;
      for (size_t i = 0; i < idx.size(); ++i)
        sorted.x[i] = ser.x[idx[i]], sorted.y[i] = ser.y[idx[i]], sorted.lo[i] = ser.lo[idx[i]],
        sorted.hi[i] = ser.hi[idx[i]];
      ser = sorted;
    }
    plot.log_x = numeric && spans_decades(xs_all, 1.0);
    if (plot.log_x) plot.x_label += " (log scale)";
    out.push_back(DocFigure{render_svg(plot)});
  }
  return out;
}

std::vector<DocSection> sweep_curves(const SweepData& sweep, const std::vector<PointData>& points,
                                     BandKind band) {
  const std::string facet = facet_key(sweep);
  std::vector<std::string> facet_values;
  for (const PointData& p : points) {
    const std::string v = facet.empty() ? "" : param_value(p, facet);
    if (std::find(facet_values.begin(), facet_values.end(), v) == facet_values.end())
      facet_values.push_back(v);
  }
  struct Metric {
    std::string title, y_label;
    std::vector<std::string> path;
    double scale;
  };
  const std::vector<Metric> metrics = {
      {"Test accuracy", "accuracy (%)", {"test_acc"}, 100},
      {"Validation accuracy", "accuracy (%)", {"val_acc"}, 100},
      {"Train accuracy (running, over the epoch)", "accuracy (%)", {"train_acc"}, 100},
      {"Test loss", "loss", {"test_loss"}, 1},
      {"Validation loss", "loss", {"val_loss"}, 1},
      {"Train loss", "loss", {"train_loss"}, 1}};
  const std::string spread =
      band == BandKind::MinMax ? "band: min–max over seeds" : "band: mean ± std over seeds";
  std::vector<DocSection> out;
  for (const std::string& fv : facet_values) {
    DocSection s{facet.empty() ? "Learning curves" : short_key(facet) + " = " + fv,
                 "curves-" + std::to_string(out.size() + 1)};
    s.in_markdown = false;
    for (const Metric& m : metrics) {
      LinePlot plot;
      plot.title = m.title + (facet.empty() ? "" : " — " + fv) + " (" + spread + ")";
      plot.x_label = "epoch";
      plot.y_label = m.y_label;
      plot.integer_x = true;
      for (const PointData& p : points) {
        if (!facet.empty() && param_value(p, facet) != fv) continue;
        std::vector<const RunData*> runs;
        for (const RunData* r : p.runs)
          if (!r->epochs.empty()) runs.push_back(r);
        const EpochBand b = epoch_band(runs, m.path, band, m.scale);
        PlotSeries ser;
        ser.label = facet.empty() ? p.label : params_label(without(p.params, facet));
        ser.x = b.x;
        ser.y = b.mean;
        if (runs.size() > 1) ser.lo = b.lo, ser.hi = b.hi;
        ser.markers = b.x.size() <= 25;
        plot.series.push_back(
            std::move(ser));  // kept when empty: colours stay the same in every plot
      }
      if (!has_points(plot)) continue;
      std::vector<double> all;
      for (auto& ser : plot.series) all.insert(all.end(), ser.y.begin(), ser.y.end());
      plot.log_y = m.scale == 1 && spans_decades(all, 1.5);
      s.items.push_back(DocFigure{render_svg(plot)});
    }
    if (!s.items.empty()) out.push_back(std::move(s));
  }
  if (out.size() == 1 && !facet.empty()) out[0].title = "Learning curves (" + out[0].title + ")";
  return out;
}

DocTable shared_config_table(const SweepData& sweep) {
  std::vector<std::map<std::string, json>> flat;
  std::function<void(const json&, const std::string&, std::map<std::string, json>&)> walk =
      [&](const json& j, const std::string& prefix, std::map<std::string, json>& out) {
        for (auto it = j.begin(); it != j.end(); ++it) {
          const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
          if (it.value().is_object())
            walk(it.value(), key, out);
          else
            out[key] = it.value();
        }
      };
  for (const RunData& r : sweep.runs)
    if (r.config.is_object()) {
      flat.emplace_back();
      walk(r.config, "", flat.back());
    }
  DocTable t;
  t.header = {"key", "value"};
  if (flat.empty()) return t;
  for (auto& [key, value] : flat.front()) {
    if (key == "threads" || key == "seed") continue;
    const bool shared = std::all_of(flat.begin(), flat.end(), [&](auto& f) {
      auto it = f.find(key);
      return it != f.end() && it->second == value;
    });
    if (shared) t.rows.push_back({key, json_text(value)});
  }
  return t;
}

}  // namespace qt
