#include "app/sweep/sweep_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/sweep/sweep_status.h"
#include "app/text/text_format.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

std::optional<double> number_at(const json& j, const char* a, const char* b) {
  if (j.is_object() && j.contains(a) && j[a].is_object() && j[a].contains(b) && j[a][b].is_number())
    return j[a][b].get<double>();
  return std::nullopt;
}

ojson opt_json(const std::optional<double>& x) {
  return x ? ojson(*x) : ojson(nullptr);
}

ojson mean_std_json(const std::optional<MeanStd>& m) {
  return m ? ojson{{"mean", m->mean}, {"std", m->std}} : ojson(nullptr);
}

std::string fmt(const std::optional<double>& x, const char* f = "%.6g") {
  if (!x) return "";
  char b[64];
  std::snprintf(b, sizeof b, f, *x);
  return b;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) s += ',';
    s += csv_field(fields[i]);
  }
  s += '\n';
  return s;
}

// Every parameter key in order of first appearance.
std::vector<std::string> param_keys(const std::vector<SweepRow>& rows, bool with_seed) {
  std::vector<std::string> keys;
  for (auto& r : rows)
    for (auto it = r.params.begin(); it != r.params.end(); ++it)
      if ((with_seed || it.key() != "seed") &&
          std::find(keys.begin(), keys.end(), it.key()) == keys.end())
        keys.push_back(it.key());
  return keys;
}

std::string param_text(const ojson& params, const std::string& key) {
  return params.contains(key) ? value_text(params[key]) : "";
}

std::string percent(const std::optional<double>& x) {
  return x ? fmt(100 * *x, "%.2f%%") : "-";
}

std::string percent_ms(const std::optional<MeanStd>& m) {
  if (!m) return "-";
  char b[64];
  // One seed has no spread to show.
  if (m->n < 2)
    std::snprintf(b, sizeof b, "%.2f%%", 100 * m->mean);
  else
    std::snprintf(b, sizeof b, "%.2f ± %.2f%%", 100 * m->mean, 100 * m->std);
  return b;
}

}  // namespace

MeanStd mean_std(const std::vector<double>& xs) {
  MeanStd m;
  m.n = xs.size();
  if (xs.empty()) return m;
  for (double x : xs) m.mean += x;
  m.mean /= static_cast<double>(xs.size());
  if (xs.size() > 1) {
    double ss = 0;
    for (double x : xs) ss += (x - m.mean) * (x - m.mean);
    m.std = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  }
  return m;
}

SweepSummary collect_summary(const Sweep& sweep) {
  SweepSummary s;
  s.name = sweep.name;
  s.dir = sweep.out;
  s.file = sweep.file;
  s.shape = sweep.shape;
  for (auto& run : sweep.runs) {
    const RunStatus st = read_run_status(sweep.out + "/" + run.name);
    SweepRow r;
    r.name = run.name;
    r.point = run.point;
    r.params = run.params;
    r.status = st.state == RunState::New ? RunState::Unfinished : st.state;
    r.error = st.error;
    r.epochs_done = st.epochs_done;
    r.epochs = run.config.value("epochs", 0);
    r.final_test = number_at(st.summary, "final", "test_acc");
    r.final_val = number_at(st.summary, "final", "val_acc");
    r.best_val = number_at(st.summary, "best", "val_acc");
    r.seconds = number_at(st.summary, "timing", "seconds");
    if (auto e = number_at(st.summary, "best", "epoch")) r.best_epoch = static_cast<int>(*e);
    if (st.summary.is_object() && st.summary.contains("best") && st.summary["best"].is_object())
      r.selected_by = st.summary["best"].value("selected_by", std::string());
    // Without a validation split the best epoch is the one of the best test accuracy: that is
    // max_test, not a test accuracy "at the best validation epoch".
    if (r.selected_by == "val_acc") r.test_at_best_val = number_at(st.summary, "best", "test_acc");
    if (st.summary.is_object() && st.summary.contains("max_test_acc") &&
        st.summary["max_test_acc"].is_number())
      r.max_test = st.summary["max_test_acc"].get<double>();
    (r.status == RunState::Finished ? s.finished
     : r.status == RunState::Failed ? s.failed
                                    : s.unfinished) += 1;
    s.rows.push_back(std::move(r));
  }
  for (auto& r : s.rows) {
    auto it = std::find_if(s.points.begin(), s.points.end(),
                           [&](const SweepPoint& p) { return p.point == r.point; });
    if (it == s.points.end()) {
      SweepPoint p;
      p.point = r.point;
      p.params = r.params;
      p.params.erase("seed");
      s.points.push_back(std::move(p));
      it = s.points.end() - 1;
    }
    ++it->runs;
  }
  for (auto& p : s.points) {
    std::vector<double> fin, at_best, max;
    for (auto& r : s.rows) {
      if (r.point != p.point || r.status != RunState::Finished) continue;
      ++p.finished;
      if (r.final_test) fin.push_back(*r.final_test);
      if (r.test_at_best_val) at_best.push_back(*r.test_at_best_val);
      if (r.max_test) max.push_back(*r.max_test);
    }
    if (!fin.empty()) p.final_test = mean_std(fin);
    if (!at_best.empty()) p.test_at_best_val = mean_std(at_best);
    if (!max.empty()) p.max_test = mean_std(max);
  }
  return s;
}

void write_summary(const SweepSummary& s) {
  const auto keys = param_keys(s.rows, true), point_keys = param_keys(s.rows, false);
  std::vector<std::string> head = {"run"};
  head.insert(head.end(), keys.begin(), keys.end());
  for (const char* h :
       {"status", "epochs_done", "epochs", "final_test_acc", "test_at_best_val_acc", "max_test_acc",
        "best_epoch", "best_selected_by", "final_val_acc", "best_val_acc", "seconds", "error"})
    head.push_back(h);
  std::string csv = csv_line(head);
  ojson runs = ojson::array();
  for (auto& r : s.rows) {
    std::vector<std::string> f = {r.name};
    for (auto& k : keys) f.push_back(param_text(r.params, k));
    for (const std::string& x :
         {run_state_name(r.status), std::to_string(r.epochs_done), std::to_string(r.epochs),
          fmt(r.final_test), fmt(r.test_at_best_val), fmt(r.max_test),
          r.best_epoch ? std::to_string(*r.best_epoch) : std::string(), r.selected_by,
          fmt(r.final_val), fmt(r.best_val), fmt(r.seconds, "%.1f"), r.error})
      f.push_back(x);
    csv += csv_line(f);
    runs.push_back({{"name", r.name},
                    {"point", r.point},
                    {"params", r.params},
                    {"status", run_state_name(r.status)},
                    {"epochs_done", r.epochs_done},
                    {"epochs", r.epochs},
                    {"final_test_acc", opt_json(r.final_test)},
                    {"test_at_best_val_acc", opt_json(r.test_at_best_val)},
                    {"max_test_acc", opt_json(r.max_test)},
                    {"best_epoch", r.best_epoch ? ojson(*r.best_epoch) : ojson(nullptr)},
                    {"best_selected_by", r.selected_by},
                    {"final_val_acc", opt_json(r.final_val)},
                    {"best_val_acc", opt_json(r.best_val)},
                    {"seconds", opt_json(r.seconds)},
                    {"error", r.error}});
  }
  std::vector<std::string> phead = {"point"};
  phead.insert(phead.end(), point_keys.begin(), point_keys.end());
  for (const char* h :
       {"runs", "finished", "final_test_mean", "final_test_std", "test_at_best_val_mean",
        "test_at_best_val_std", "max_test_mean", "max_test_std"})
    phead.push_back(h);
  std::string pcsv = csv_line(phead);
  ojson points = ojson::array();
  for (auto& p : s.points) {
    std::vector<std::string> f = {p.point};
    for (auto& k : point_keys) f.push_back(param_text(p.params, k));
    auto m = [](const std::optional<MeanStd>& x, bool sd) {
      return x ? fmt(sd ? x->std : x->mean) : std::string();
    };
    for (const std::string& x :
         {std::to_string(p.runs), std::to_string(p.finished), m(p.final_test, false),
          m(p.final_test, true), m(p.test_at_best_val, false), m(p.test_at_best_val, true),
          m(p.max_test, false), m(p.max_test, true)})
      f.push_back(x);
    pcsv += csv_line(f);
    points.push_back({{"point", p.point},
                      {"params", p.params},
                      {"runs", p.runs},
                      {"finished", p.finished},
                      {"final_test_acc", mean_std_json(p.final_test)},
                      {"test_at_best_val_acc", mean_std_json(p.test_at_best_val)},
                      {"max_test_acc", mean_std_json(p.max_test)}});
  }
  ojson j = {{"schema_version", 1},
             {"name", s.name},
             {"file", s.file},
             {"shape", s.shape},
             {"counts",
              {{"runs", s.rows.size()},
               {"finished", s.finished},
               {"unfinished", s.unfinished},
               {"failed", s.failed}}},
             {"runs", runs},
             {"points", points}};
  write_file_atomic(s.dir + "/sweep.csv", csv);
  write_file_atomic(s.dir + "/sweep_points.csv", pcsv);
  write_file_atomic(s.dir + "/sweep.json", j.dump(2) + "\n");
}

std::string summary_table(const SweepSummary& s) {
  size_t w = 3;
  for (auto& r : s.rows) w = std::max(w, r.name.size());
  std::string t = "sweep " + s.name + ": " + std::to_string(s.rows.size()) + " runs, " +
                  std::to_string(s.finished) + " finished, " + std::to_string(s.unfinished) +
                  " unfinished, " + std::to_string(s.failed) + " failed (" + s.dir + ")\n";
  t += pad("run", w) + "  " + pad("status", 10) + pad("epochs", 7, true) +
       pad("final test", 12, true) + pad("test @ best val", 17, true) + pad("max test", 10, true) +
       pad("seconds", 9, true) + "\n";
  for (auto& r : s.rows) {
    t += pad(r.name, w) + "  " + pad(run_state_name(r.status), 10) +
         pad(std::to_string(r.epochs_done) + "/" + std::to_string(r.epochs), 7, true) +
         pad(percent(r.final_test), 12, true) + pad(percent(r.test_at_best_val), 17, true) +
         pad(percent(r.max_test), 10, true) +
         pad(r.seconds ? fmt(r.seconds, "%.1f") : "-", 9, true) + "\n";
    if (!r.error.empty()) t += "    " + r.error + "\n";
  }
  size_t pw = 10;
  for (auto& p : s.points) pw = std::max(pw, p.point.size());
  t += '\n';
  t += pad("grid point", pw) + "  " + pad("seeds", 6) + pad("final test", 17, true) +
       pad("test @ best val", 17, true) + pad("max test", 17, true) + "   (mean ± std)\n";
  for (auto& p : s.points)
    t += pad(p.point, pw) + "  " +
         pad(std::to_string(p.finished) + "/" + std::to_string(p.runs), 6) +
         pad(percent_ms(p.final_test), 17, true) + pad(percent_ms(p.test_at_best_val), 17, true) +
         pad(percent_ms(p.max_test), 17, true) + "\n";
  return t;
}

}  // namespace qt
