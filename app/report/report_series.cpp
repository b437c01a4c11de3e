#include "app/report/report_series.h"

#include <algorithm>
#include <cmath>

#include "app/run/best_epoch.h"

namespace qt {

using json = nlohmann::json;

double record_value(const json& rec, const std::vector<std::string>& path) {
  const json* j = &rec;
  for (const std::string& k : path) {
    if (!j->is_object()) return NAN;
    auto it = j->find(k);
    if (it == j->end()) return NAN;
    j = &*it;
  }
  return j->is_number() ? j->get<double>() : NAN;
}

EpochBand epoch_band(const std::vector<const RunData*>& runs, const std::vector<std::string>& path,
                     BandKind kind, double scale) {
  EpochBand b;
  size_t epochs = 0;
  for (const RunData* r : runs) epochs = std::max(epochs, r->epochs.size());
  for (size_t e = 0; e < epochs; ++e) {
    std::vector<double> v;
    for (const RunData* r : runs)
      if (e < r->epochs.size()) v.push_back(record_value(r->epochs[e], path) * scale);
    const SeedStats s = seed_stats(v);
    b.x.push_back(static_cast<double>(e + 1));
    b.mean.push_back(s.mean);
    if (kind == BandKind::MinMax) {
      b.lo.push_back(s.min);
      b.hi.push_back(s.max);
    } else {
      b.lo.push_back(s.mean - s.std);
      b.hi.push_back(s.mean + s.std);
    }
    b.any |= s.n > 0;
  }
  return b;
}

std::vector<std::string> record_keys(const std::vector<const RunData*>& runs,
                                     const std::vector<std::string>& path) {
  std::vector<std::string> keys;
  for (const RunData* r : runs)
    for (const json& rec : r->epochs) {
      const json* j = &rec;
      for (const std::string& k : path) {
        if (!j->is_object() || !j->contains(k)) {
          j = nullptr;
          break;
        }
        j = &(*j)[k];
      }
      if (!j || !j->is_object()) continue;
      for (auto it = j->begin(); it != j->end(); ++it)
        if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
    }
  return keys;
}

RunNumbers run_numbers(const RunData& run) {
  RunNumbers n;
  n.epochs = static_cast<int>(run.epochs.size());
  if (!run.epochs.empty()) {
    n.final_test = record_value(run.epochs.back(), {"test_acc"});
    const BestEpoch b = best_epoch(run.epochs);
    n.selected_by = b.selected_by;
    if (b.index) {
      const json& r = run.epochs[*b.index];
      const double epoch = record_value(r, {"epoch"});
      n.best_epoch = std::isfinite(epoch) ? static_cast<int>(epoch) : 0;
      // Without a validation split the best epoch is the best test accuracy: max_test says it.
      if (b.selected_by == "val_acc") {
        n.best_test = record_value(r, {"test_acc"});
        n.best_val = record_value(r, {"val_acc"});
      }
    }
    if (b.max_test) n.max_test = *b.max_test;
    double sum_ips = 0;
    int n_ips = 0;
    for (const json& r : run.epochs) {
      const double ips = record_value(r, {"timing", "images_per_second"});
      if (std::isfinite(ips)) sum_ips += ips, ++n_ips;
    }
    if (n_ips) n.images_per_second = sum_ips / n_ips;
  }
  if (run.summary.is_object()) {
    n.seconds = record_value(run.summary, {"timing", "seconds"});
  }
  if (!std::isfinite(n.seconds) && !run.epochs.empty()) {
    double s = 0;
    for (const json& r : run.epochs) {
      const double a = record_value(r, {"timing", "train_seconds"}),
                   b = record_value(r, {"timing", "eval_seconds"});
      s += (std::isfinite(a) ? a : 0) + (std::isfinite(b) ? b : 0);
    }
    if (s > 0) n.seconds = s;
  }
  return n;
}

SeedStats seed_stats(const std::vector<double>& values) {
  SeedStats s;
  double sum = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    s.min = s.n ? std::min(s.min, v) : v;
    s.max = s.n ? std::max(s.max, v) : v;
    sum += v;
    ++s.n;
  }
  if (!s.n) return s;
  s.mean = sum / static_cast<double>(s.n);
  double ss = 0;
  for (double v : values)
    if (std::isfinite(v)) ss += (v - s.mean) * (v - s.mean);
  s.std = s.n > 1 ? std::sqrt(ss / static_cast<double>(s.n - 1)) : 0;
  return s;
}

std::vector<const RunData*> counted_runs(const PointData& point) {
  std::vector<const RunData*> done, started;
  for (const RunData* r : point.runs) {
    if (r->state == RunState::Finished && !r->epochs.empty()) done.push_back(r);
    if (!r->epochs.empty()) started.push_back(r);
  }
  return done.empty() ? started : done;
}

}  // namespace qt
