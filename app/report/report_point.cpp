#include "app/report/report_point.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "app/report/report_format.h"
#include "app/report/svg_plot.h"
#include "app/report/svg_plot_axis.h"
#include "app/report/svg_plot_rows.h"
#include "app/text/text_format.h"

namespace qt {

using json = nlohmann::json;

namespace {

struct Field {
  std::string label;
  std::vector<std::string> path;
  double scale = 1;
};

PlotSeries band_series(const std::string& label, const EpochBand& b, bool band) {
  PlotSeries s;
  s.label = label;
  s.x = b.x;
  s.y = b.mean;
  if (band) s.lo = b.lo, s.hi = b.hi;
  s.markers = b.x.size() <= 25;
  return s;
}

// A plot over epochs of `fields` (one line each); nothing when no field has a value.
std::optional<DocFigure> epoch_plot(const std::string& title, const std::string& y_label,
                                    const std::vector<Field>& fields,
                                    const std::vector<const RunData*>& runs, BandKind band,
                                    bool log_when_spread = false) {
  LinePlot p;
  p.title = title;
  p.x_label = "epoch";
  p.y_label = y_label;
  p.integer_x = true;
  std::vector<double> values;
  for (const Field& f : fields) {
    const EpochBand b = epoch_band(runs, f.path, band, f.scale);
    if (!b.any) continue;
    p.series.push_back(band_series(f.label, b, runs.size() > 1));
    values.insert(values.end(), b.mean.begin(), b.mean.end());
  }
  if (!has_points(p)) return std::nullopt;
  p.log_y = log_when_spread && spans_decades(values, 1.5);
  if (p.log_y) p.y_label += " (log scale)";
  return DocFigure{render_svg(p)};
}

std::vector<Field> keyed_fields(const std::vector<const RunData*>& runs,
                                const std::vector<std::string>& path) {
  std::vector<Field> fields;
  for (const std::string& k : record_keys(runs, path)) {
    Field f{k, path};
    f.path.push_back(k);
    fields.push_back(f);
  }
  return fields;
}

// Iterative Training: one row per layer, from the epoch it became binary to the last epoch.
std::optional<DocFigure> binary_layers_plot(const RunData& run, bool several_seeds,
                                            std::vector<DocItem>& texts) {
  std::vector<std::pair<std::string, int>> first;
  for (const json& rec : run.epochs) {
    const json* a = rec.contains("algorithm") ? &rec["algorithm"] : nullptr;
    if (!a || !a->is_object() || !a->contains("binary_layers") || !(*a)["binary_layers"].is_array())
      continue;
    for (const json& name : (*a)["binary_layers"]) {
      if (!name.is_string()) continue;
      const std::string n = name.get<std::string>();
      if (std::none_of(first.begin(), first.end(), [&](auto& f) { return f.first == n; }))
        first.emplace_back(n, rec["epoch"].get<int>());
    }
  }
  if (first.empty()) return std::nullopt;
  const int last = run.epochs.back()["epoch"].get<int>();
  RowPlot p;
  p.title = "Binary layers: each layer's bar starts at the epoch it became binary" +
            std::string(several_seeds ? " (" + run.name + ")" : "");
  p.x_label = "epoch";
  p.integer_x = true;
  p.x_min = 0;
  p.x_max = std::max(last, run.planned_epochs());
  p.bar_width = 9;
  for (auto& [name, epoch] : first)
    p.rows.push_back({name, static_cast<double>(epoch - 1), static_cast<double>(last), NAN, 0,
                      "from epoch " + std::to_string(epoch)});
  const size_t now = first.size();  // Iterative Training never turns a binary layer back to float
  texts.push_back(DocText{std::to_string(now) + " layer" + (now == 1 ? "" : "s") +
                          " binary at epoch " + std::to_string(last) + " (binarization order: " +
                          [&] {
                            std::string s;
                            for (auto& f : first) s += (s.empty() ? "" : ", ") + f.first;
                            return s;
                          }() +
                          ")."});
  return DocFigure{render_svg(p)};
}

// A value that stays the same in every epoch is said in words rather than drawn.
bool constant_field(const std::vector<const RunData*>& runs, const std::vector<std::string>& path,
                    double& value) {
  bool seen = false;
  for (const RunData* r : runs)
    for (const json& rec : r->epochs) {
      const double v = record_value(rec, path);
      if (!std::isfinite(v)) continue;
      if (seen && v != value) return false;
      value = v, seen = true;
    }
  return seen;
}

void add(std::vector<DocItem>& items, std::optional<DocFigure> f) {
  if (f) items.push_back(std::move(*f));
}

}  // namespace

namespace {

DocSection curves_section(const PointData& point, const std::vector<const RunData*>& runs,
                          BandKind band) {
  const std::string spread =
      runs.size() > 1
          ? (band == BandKind::MinMax ? ", band: min–max over " : ", band: mean ± std over ") +
                std::to_string(runs.size()) + " seeds"
          : "";
  DocSection s{"Learning curves", point.anchor + "-curves"};
  add(s.items,
      epoch_plot("Accuracy" + spread, "accuracy (%)",
                 {{"train", {"train_acc"}, 100},
                  {"validation", {"val_acc"}, 100},
                  {"test", {"test_acc"}, 100},
                  {"validation at Q(w)", {"algorithm", "eval", "quantized", "val_acc"}, 100},
                  {"test at Q(w)", {"algorithm", "eval", "quantized", "test_acc"}, 100}},
                 runs, band));
  add(s.items, epoch_plot("Loss (cross-entropy)" + spread, "loss",
                          {{"train", {"train_loss"}},
                           {"validation", {"val_loss"}},
                           {"test", {"test_loss"}},
                           {"test at Q(w)", {"algorithm", "eval", "quantized", "test_loss"}}},
                          runs, band, true));
  add(s.items, epoch_plot("Learning rate", "learning rate", {{"", {"lr"}}}, runs, band, true));
  return s;
}

// BinaryRelax's phase II, and its best test accuracy there: what the paper reports (its code
// resets "best" when phase II starts).
void phase2_texts(const std::vector<const RunData*>& runs, std::vector<DocItem>& texts) {
  int phase2 = 0;
  for (const json& rec : runs.front()->epochs)
    if (record_value(rec, {"algorithm", "phase"}) == 2) {
      phase2 = rec["epoch"].get<int>();
      break;
    }
  if (!phase2) return;
  texts.push_back(DocText{
      "BinaryRelax phase II (forward, backward and evaluation at Q(w) exactly) from epoch " +
      std::to_string(phase2) + "."});
  std::vector<double> best;
  int best_epoch = 0;
  for (const RunData* r : runs) {
    double b = NAN;
    for (const json& rec : r->epochs) {
      const double t = record_value(rec, {"test_acc"});
      if (record_value(rec, {"algorithm", "phase"}) == 2 && std::isfinite(t) && !(t <= b))
        b = t, best_epoch = rec["epoch"].get<int>();
    }
    best.push_back(b);
  }
  const SeedStats s = seed_stats(best);
  if (s.n)
    texts.push_back(DocText{
        "Best phase-II test accuracy (what the BinaryRelax paper reports): " + percent_stats(s) +
        (s.n == 1 ? " at epoch " + std::to_string(best_epoch)
                  : " over " + std::to_string(s.n) + " seeds") +
        "."});
}

DocSection schedules_section(const PointData& point, const std::vector<const RunData*>& runs,
                             BandKind band) {
  std::vector<DocItem> texts, figs;
  phase2_texts(runs, texts);
  const json& cfg = runs.front()->config;
  const bool linear = cfg.is_object() && cfg.contains("algo") && cfg["algo"].is_object() &&
                      cfg["algo"].value("lambda_schedule", std::string()) == "linear";
  if (linear)
    add(figs, epoch_plot("BinaryRelax θ: u = (1 − θ)·w + θ·Q(w), at the end of each epoch", "θ",
                         {{"", {"algorithm", "theta"}}}, runs, band));
  else
    add(figs, epoch_plot("BinaryRelax λ: u = (λ·Q(w) + w) / (1 + λ)", "λ",
                         {{"", {"algorithm", "lambda"}}}, runs, band, true));
  double rho = 0;
  if (constant_field(runs, {"algorithm", "rho"}, rho))
    texts.push_back(DocText{"BCGD blending ρ = " + short_number(rho) + " in every epoch."});
  else
    add(figs, epoch_plot("BCGD blending ρ", "ρ", {{"", {"algorithm", "rho"}}}, runs, band, true));
  add(figs, epoch_plot("BCGD relaxation η", "η", {{"", {"algorithm", "eta"}}}, runs, band, true));
  add(figs, epoch_plot("α of each activation quantizer", "α",
                       keyed_fields(runs, {"algorithm", "alpha"}), runs, band));
  add(figs, binary_layers_plot(*runs.front(), runs.size() > 1, texts));
  DocSection s{"The algorithm's schedules", point.anchor + "-algorithm"};
  s.items = texts;
  s.items.insert(s.items.end(), figs.begin(), figs.end());
  return s;
}

DocSection layers_section(const PointData& point, const std::vector<const RunData*>& runs,
                          BandKind band) {
  DocSection s{"Quantized layers", point.anchor + "-layers"};
  add(s.items, epoch_plot("Projection error ‖w − Q(w)‖ / ‖w‖ per layer", "relative error",
                          keyed_fields(runs, {"algorithm", "proj_error"}), runs, band));
  // The layers first, in the colours of the projection error plot, then all weights together.
  std::vector<Field> flips = keyed_fields(runs, {"algorithm", "flip_ratio"});
  flips.push_back({"all quantized weights", {"algorithm", "flip_ratio_total"}});
  add(s.items, epoch_plot("Flip ratio: share of weights whose quantized value changed in the epoch",
                          "flip ratio", flips, runs, band));
  return s;
}

}  // namespace

std::vector<DocSection> point_figures(const PointData& point, BandKind band) {
  std::vector<const RunData*> runs;  // the runs with at least one epoch
  for (const RunData* r : point.runs)
    if (!r->epochs.empty()) runs.push_back(r);
  std::vector<DocSection> out;
  if (runs.empty()) return out;
  for (DocSection s : {curves_section(point, runs, band), schedules_section(point, runs, band),
                       layers_section(point, runs, band)})
    if (std::any_of(s.items.begin(), s.items.end(),
                    [](const DocItem& i) { return std::holds_alternative<DocFigure>(i); }))
      out.push_back(std::move(s));
  return out;
}

DocTable results_table(const std::vector<const RunData*>& runs, bool with_names) {
  DocTable t;
  if (with_names) t.header.push_back("run");
  for (const char* h :
       {"status", "epochs", "best epoch", "selected by", "best val acc", "test acc at best val",
        "final test acc", "max test acc", "time", "images/s"})
    t.header.push_back(h);
  t.right.assign(t.header.size(), true);
  if (with_names) t.right[0] = false;
  t.right[with_names ? 1 : 0] = false;
  t.right[with_names ? 4 : 3] = false;
  for (const RunData* r : runs) {
    const RunNumbers n = run_numbers(*r);
    std::vector<std::string> row;
    if (with_names) row.push_back(r->name);
    row.push_back(status_text(*r));
    row.push_back(std::to_string(n.epochs) + " / " + std::to_string(r->planned_epochs()));
    row.push_back(n.best_epoch ? std::to_string(n.best_epoch) : "–");
    row.push_back(n.selected_by.empty() ? "–" : n.selected_by);
    row.push_back(percent(n.best_val));
    row.push_back(percent(n.best_test));
    row.push_back(percent(n.final_test));
    row.push_back(percent(n.max_test));
    row.push_back(duration(n.seconds));
    row.push_back(std::isfinite(n.images_per_second) ? fixed(n.images_per_second, 0) : "–");
    t.rows.push_back(std::move(row));
  }
  return t;
}

DocTable epoch_table(const RunData& run) {
  struct Col {
    std::string name;
    std::vector<std::string> path;
    int kind;  // 0 number, 1 percent, 2 count of a list
  };
  std::vector<Col> cols = {{"lr", {"lr"}, 0},
                           {"train loss", {"train_loss"}, 0},
                           {"train acc", {"train_acc"}, 1},
                           {"val loss", {"val_loss"}, 0},
                           {"val acc", {"val_acc"}, 1},
                           {"test loss", {"test_loss"}, 0},
                           {"test acc", {"test_acc"}, 1},
                           {"test acc at Q(w)", {"algorithm", "eval", "quantized", "test_acc"}, 1},
                           {"phase", {"algorithm", "phase"}, 0},
                           {"λ", {"algorithm", "lambda"}, 0},
                           {"θ", {"algorithm", "theta"}, 0},
                           {"ρ", {"algorithm", "rho"}, 0},
                           {"η", {"algorithm", "eta"}, 0},
                           {"binary layers", {"algorithm", "binary_layers"}, 2},
                           {"flip ratio", {"algorithm", "flip_ratio_total"}, 0},
                           {"images/s", {"timing", "images_per_second"}, 0}};
  auto present = [&](const Col& c) {
    for (const json& rec : run.epochs) {
      if (c.kind == 2) {
        const json* j = &rec;
        for (auto& k : c.path) j = j->is_object() && j->contains(k) ? &(*j)[k] : nullptr;
        if (j && j->is_array()) return true;
      } else if (std::isfinite(record_value(rec, c.path))) {
        return true;
      }
    }
    return false;
  };
  std::vector<Col> used;
  for (auto& c : cols)
    if (present(c)) used.push_back(c);
  DocTable t;
  t.header.push_back("epoch");
  for (auto& c : used) t.header.push_back(c.name);
  t.right.assign(t.header.size(), true);
  for (const json& rec : run.epochs) {
    std::vector<std::string> row = {rec["epoch"].dump()};
    for (auto& c : used) {
      if (c.kind == 2) {
        const json* j = &rec;
        for (auto& k : c.path) j = j->is_object() && j->contains(k) ? &(*j)[k] : nullptr;
        row.push_back(j && j->is_array() ? std::to_string(j->size()) : "–");
      } else {
        const double v = record_value(rec, c.path);
        row.push_back(c.kind == 1            ? percent(v)
                      : c.name == "images/s" ? fixed(v, 0)
                                             : short_number(v));
      }
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

DocTable config_table(const json& config) {
  DocTable t;
  t.header = {"key", "value"};
  std::function<void(const json&, const std::string&)> walk = [&](const json& j,
                                                                  const std::string& prefix) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (it.value().is_object())
        walk(it.value(), key);
      else
        t.rows.push_back({key, json_text(it.value())});
    }
  };
  if (config.is_object()) walk(config, "");
  return t;
}

}  // namespace qt
