#include "app/report/report.h"

#include <cstdio>
#include <filesystem>

#include "app/report/report_data.h"
#include "app/report/report_format.h"
#include "app/report/report_groups.h"
#include "app/report/report_html.h"
#include "app/report/report_markdown.h"
#include "app/report/report_point.h"
#include "app/report/report_sweep.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string cfg_text(const json& c, const std::string& a, const std::string& b = "") {
  const json* j = &c;
  for (const std::string& k : {a, b}) {
    if (k.empty()) break;
    if (!j->is_object() || !j->contains(k)) return "?";
    j = &(*j)[k];
  }
  return json_text(*j);
}

// "lenet5 on fashion-mnist, bcgd (projection default, 4-bit activations); 10 epochs, batch 128, sgd
// lr 0.1 (multistep), seed 0"
std::string headline(const json& c) {
  std::string algo = cfg_text(c, "algo", "name");
  std::string details;
  auto detail = [&](const std::string& key, const std::string& text) {
    const std::string v = cfg_text(c, "algo", key);
    if (v != "?" && v != "default" && v != "0" && v != "(none)")
      details += (details.empty() ? "" : ", ") + text + " " + v;
  };
  detail("projection", "projection");
  detail("bits", "bits");
  detail("act", "activations");
  if (algo == "bcgd" || cfg_text(c, "algo", "act") == "quant")
    detail("act_bits", "activation bits");
  if (algo == "iterative") {
    detail("order", "order"), detail("epochs_per_layer", "epochs per layer");
    if (cfg_text(c, "algo", "epochs_per_layer") == "0") details += ", layers spread over the run";
  }
  if (algo == "binaryrelax" && c.contains("algo") && c["algo"].value("phase2_epoch", -1) >= 0)
    details += ", phase II from epoch " + std::to_string(c["algo"]["phase2_epoch"].get<int>() + 1);
  if (!details.empty()) algo += " (" + details + ")";
  return cfg_text(c, "model") + " on " + cfg_text(c, "data", "name") + ", " + algo + "; " +
         cfg_text(c, "epochs") + " epochs, batch " + cfg_text(c, "batch_size") + ", " +
         cfg_text(c, "optimizer", "name") + " lr " + cfg_text(c, "lr") + " (" +
         cfg_text(c, "schedule", "name") + "), seed " + cfg_text(c, "seed");
}

// The packed engine's accuracy, speed and size beside the run's (inference.json of each package
// in the run directory, as `qtrain infer` writes it).
DocTable inference_table(const RunData& run) {
  DocTable t;
  t.header = {
      "package",     "split", "accuracy", "batch 1 (ms)", "images/s (batch)", "weights KiB (float)",
      "peak RSS MiB"};
  t.right = {false, false, true, true, true, true, true};
  auto num = [](const json& j, const char* key) { return j.value(key, 0.0); };
  char buf[96];
  for (const json& r : run.inferences) {
    std::vector<std::string> row = {r.value("package_folder", ""), r.value("split", "")};
    std::snprintf(buf, sizeof buf, "%.2f %%", 100 * num(r, "accuracy"));
    row.push_back(buf);
    std::snprintf(buf, sizeof buf, "%.3f", 1e3 * num(r, "latency_batch1_seconds"));
    row.push_back(buf);
    std::snprintf(buf, sizeof buf, "%.0f (%lld)", num(r, "images_per_second"),
                  static_cast<long long>(r.value("batch_size", int64_t{0})));
    row.push_back(buf);
    std::snprintf(buf, sizeof buf, "%.1f (%.1f)", num(r, "weight_bytes") / 1024,
                  num(r, "float_weight_bytes") / 1024);
    row.push_back(buf);
    std::snprintf(buf, sizeof buf, "%.1f", num(r, "max_resident_bytes") / (1024 * 1024));
    row.push_back(buf);
    t.rows.push_back(std::move(row));
    t.emphasis.push_back(false);
  }
  return t;
}

ReportDoc run_report(const RunData& run, BandKind band) {
  ReportDoc doc;
  doc.title = "qtrain report: " + run.name;
  doc.subtitle = {headline(run.config), "Run directory: " + run.dir, "Status: " + status_text(run)};

  DocSection summary{"Summary", "summary"};
  if (run.state != RunState::Finished)
    summary.items.push_back(DocText{"This run has not finished (" + status_text(run) +
                                        "): the numbers and plots show the epochs done so far.",
                                    true});
  summary.items.push_back(results_table({&run}, false));
  if (!run.inferences.empty()) {
    summary.items.push_back(
        DocText{"The exported package run by the packed engine (qtrain infer PACKAGE): accuracy, "
                "speed and the weights' memory as loaded:"});
    summary.items.push_back(inference_table(run));
  }
  if (run.epochs.empty())
    summary.items.push_back(DocText{"No epoch has finished yet: there is nothing to plot.", true});
  doc.sections.push_back(std::move(summary));

  for (DocSection& s : point_figures(single_point(run), band)) doc.sections.push_back(std::move(s));

  if (!run.epochs.empty()) {
    DocSection epochs{"Per-epoch metrics", "epochs"};
    epochs.collapsed = true;
    epochs.items.push_back(epoch_table(run));
    doc.sections.push_back(std::move(epochs));
  }
  DocSection config{"Configuration (config.json)", "config"};
  config.collapsed = true;
  config.items.push_back(DocText{"Repeat this run with: qtrain train --config " + run.dir +
                                 "/config.json --out NEW_DIR"});
  config.items.push_back(config_table(run.config));
  doc.sections.push_back(std::move(config));
  return doc;
}

ReportDoc sweep_report(const SweepData& s, BandKind band) {
  const std::vector<PointData> points = group_points(s);
  ReportDoc doc;
  doc.title = "qtrain report: sweep " + s.name;
  std::string varied;
  for (auto& k : s.varied) varied += (varied.empty() ? "" : ", ") + k;
  doc.subtitle = {"Sweep folder: " + s.dir,
                  std::to_string(s.runs.size()) + " runs in " + std::to_string(points.size()) +
                      " points" + (s.shape.empty() ? "" : " (" + s.shape + ")") +
                      "; varied: " + (varied.empty() ? "nothing" : varied)};

  DocSection overview{"Summary", "summary"};
  int finished = 0, failed = 0, unfinished = 0, fresh = 0;
  for (const RunData& r : s.runs) {
    finished += r.state == RunState::Finished;
    failed += r.state == RunState::Failed;
    unfinished += r.state == RunState::Unfinished;
    fresh += r.state == RunState::New;
  }
  overview.items.push_back(DocText{std::to_string(finished) + " finished, " +
                                   std::to_string(unfinished) + " in progress or stopped, " +
                                   std::to_string(failed) + " failed, " + std::to_string(fresh) +
                                   " not started."});
  if (finished < static_cast<int>(s.runs.size()))
    overview.items.push_back(
        DocText{"Not every run has finished: a point's numbers are over its finished seeds, or, "
                "while none has finished, over its runs so far.",
                true});
  if (!s.from_plan)
    overview.items.push_back(
        DocText{"No plan.json: the runs are the subfolders holding a run, and the parameters are "
                "the configuration keys whose values differ between them."});
  overview.items.push_back(points_table(s, points));
  doc.sections.push_back(std::move(overview));

  DocSection accuracy{"Final accuracy", "accuracy"};
  accuracy.in_markdown = false;
  for (DocFigure& f : accuracy_by_point(points)) accuracy.items.push_back(std::move(f));
  for (DocFigure& f : accuracy_vs_parameters(s, points)) accuracy.items.push_back(std::move(f));
  if (!accuracy.items.empty()) doc.sections.push_back(std::move(accuracy));

  std::vector<DocSection> curves = sweep_curves(s, points, band);
  if (curves.size() == 1) {
    doc.sections.push_back(std::move(curves[0]));
  } else if (!curves.empty()) {
    DocSection all{"Learning curves", "curves"};
    all.in_markdown = false;
    all.children = std::move(curves);
    doc.sections.push_back(std::move(all));
  }

  DocSection per_point{"Each point: curves, schedules and quantized layers", "points"};
  per_point.in_markdown = false;
  for (const PointData& p : points) {
    DocSection ps{p.label, p.anchor};
    ps.collapsed = true;
    ps.items.push_back(results_table(p.runs, true));
    ps.children = point_figures(p, band);
    per_point.children.push_back(std::move(ps));
  }
  doc.sections.push_back(std::move(per_point));

  std::vector<const RunData*> all_runs;
  for (const RunData& r : s.runs) all_runs.push_back(&r);
  DocSection runs{"Runs", "runs"};
  runs.items.push_back(results_table(all_runs, true));
  doc.sections.push_back(std::move(runs));

  DocSection config{"Shared configuration", "config"};
  config.collapsed = true;
  config.items.push_back(DocText{
      "The keys every run has with the same value (the varied ones and the seed left out)."});
  config.items.push_back(shared_config_table(s));
  doc.sections.push_back(std::move(config));
  return doc;
}

}  // namespace

ReportDoc build_report(const std::string& dir, const ReportOptions& opt, ReportFiles* info) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw UsageError(
        dir +
        ": no such directory: give a run directory (the --out of qtrain train) or a sweep folder");
  if (!fs::is_directory(dir, ec))
    throw UsageError(
        dir +
        ": not a directory: give a run directory (the --out of qtrain train) or a sweep folder");
  const bool run_files =
      fs::exists(dir + "/metrics.jsonl", ec) || fs::exists(dir + "/summary.json", ec);
  if (is_run_dir(dir) || run_files) {
    const RunData run = load_run_dir(dir);  // a damaged run directory throws here
    if (info) info->sweep = false, info->runs = 1, info->points = 1;
    return run_report(run, opt.band);
  }
  const SweepData s = load_sweep_dir(dir);
  if (info) info->sweep = true, info->runs = s.runs.size(), info->points = group_points(s).size();
  return sweep_report(s, opt.band);
}

ReportFiles write_report(const std::string& dir, const ReportOptions& opt) {
  ReportFiles files;
  const ReportDoc doc = build_report(dir, opt, &files);
  const std::string out = opt.out_dir.empty() ? dir : opt.out_dir;
  make_dirs(out);
  files.html = out + "/report.html";
  files.md = out + "/report.md";
  write_file_atomic(files.html, render_html(doc));
  write_file_atomic(files.md, render_markdown(doc));
  return files;
}

}  // namespace qt
