// qtrain report: the SVG plots, reading run directories (and refusing damaged ones), and the
// report of a run and of a sweep, on run directories written here with known numbers.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "app/config/config.h"
#include "app/report/report.h"
#include "app/report/report_data.h"
#include "app/report/report_groups.h"
#include "app/report/report_html.h"
#include "app/report/report_markdown.h"
#include "app/report/report_series.h"
#include "app/report/svg_plot.h"
#include "app/report/svg_plot_axis.h"
#include "app/report/svg_plot_rows.h"
#include "app/sweep/sweep_plan.h"
#include "app/sweep/sweep_spec.h"
#include "engine/core/error.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace qt;

namespace {

fs::path scratch(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("qtrain-report-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size()))
    ++n;
  return n;
}

json config_with(const std::string& algo, int epochs, int seed = 0) {
  json c = default_config();
  c["algo"]["name"] = algo;
  c["epochs"] = epochs;
  c["seed"] = seed;
  return c;
}

// An epoch record as qtrain train writes it; `acc` is the test accuracy.
json record(int epoch, double acc, json algorithm = json::object()) {
  return {
      {"schema_version", 1},
      {"epoch", epoch},
      {"lr", 0.1},
      {"train_loss", 2.0 / epoch},
      {"train_acc", acc - 0.01},
      {"val_loss", 1.8 / epoch},
      {"val_acc", acc + 0.005},
      {"test_loss", 1.9 / epoch},
      {"test_acc", acc},
      {"algorithm", algorithm},
      {"timing", {{"train_seconds", 2.0}, {"eval_seconds", 0.5}, {"images_per_second", 1000.0}}}};
}

void write_run(const fs::path& dir, const json& config, const std::vector<json>& recs,
               bool finished) {
  write(dir / "config.json", config.dump(2));
  std::string m;
  for (auto& r : recs) m += r.dump() + "\n";
  if (!recs.empty()) write(dir / "metrics.jsonl", m);
  json s = {{"schema_version", 1},
            {"finished", finished},
            {"epochs_done", recs.size()},
            {"timing", {{"seconds", 12.5}}}};
  if (!recs.empty()) write(dir / "summary.json", s.dump(2));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("axis scales: round ticks, integer epochs, powers of ten, labels") {
  Scale s = linear_scale(0.03, 0.97, 0, 100);
  CHECK(s.lo == doctest::Approx(0));
  CHECK(s.hi == doctest::Approx(1));
  REQUIRE(s.ticks.size() == 6);
  CHECK(s.labels[1] == "0.2");
  CHECK(s(0.5) == doctest::Approx(50));
  CHECK(s(7) == doctest::Approx(100));  // clamped

  Scale e = linear_scale(1, 200, 0, 1, 5, true);
  CHECK(e.ticks.front() == 0);
  CHECK(e.ticks.back() == 200);
  for (double t : e.ticks) CHECK(t == std::round(t));
  Scale few = linear_scale(1, 2, 0, 1, 6, true);  // 2 epochs: ticks at 1 and 2, not 1.2, 1.4 …
  for (double t : few.ticks) CHECK(t == std::round(t));

  Scale l = log_scale(1.04, 360, 100, 0);
  CHECK(l.ticks == std::vector<double>{1, 10, 100, 1000});
  CHECK(l(10) == doctest::Approx(100 - 100.0 / 3));
  CHECK(tick_label(1e-5, 1e-5) == "1e-05");
  CHECK(tick_label(1200, 200) == "1200");
  CHECK(tick_label(0.25, 0.05) == "0.25");
  CHECK(nice_step(7, 5) == 1);
  CHECK(nice_step(0.9, 3) == doctest::Approx(0.2));
  Scale flat = linear_scale(5, 5, 0, 1);  // one value: widened, not a division by zero
  CHECK(flat.lo < 5);
  CHECK(flat.hi > 5);
  CHECK(fit_text("projection error", 12, 60).size() < std::string("projection error").size());
  CHECK(fit_text("λ", 12, 60) == "λ");
}

TEST_CASE("line plot: lines, gaps, bands, isolated points, escaping, legend") {
  LinePlot p;
  p.title = "accuracy <test> & more";
  p.x_label = "epoch";
  p.integer_x = true;
  PlotSeries a{
      "a<b", {1, 2, 3, 4, 5}, {10, 20, NAN, 40, 50}, {5, 15, NAN, 35, 45}, {15, 25, NAN, 45, 55}};
  PlotSeries b{"only one", {1, 2, 3}, {NAN, 30, NAN}};
  p.series = {a, b};
  REQUIRE(has_points(p));
  const std::string svg = render_svg(p);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("accuracy &lt;test&gt; &amp; more") != std::string::npos);
  CHECK(svg.find("a&lt;b") != std::string::npos);
  CHECK(svg.find("a<b") == std::string::npos);
  // Series a: two pieces around the NaN, so two "M" in its line; its band has two pieces too.
  const size_t line = svg.find("class=\"line\" d=\"");
  REQUIRE(line != std::string::npos);
  const std::string d = svg.substr(line + 16, svg.find('"', line + 16) - line - 16);
  CHECK(count(d, "M") == 2);
  CHECK(count(d, "L") == 2);
  CHECK(count(svg, "class=\"band\"") == 2);
  // Series b has one point: drawn as a dot.
  CHECK(count(svg, "class=\"marker\"") >= 1);
  CHECK(count(svg, "<g class=\"legend\">") == 1);
  CHECK(svg.find("only one") != std::string::npos);

  LinePlot empty;
  empty.series = {PlotSeries{"nan", {1, 2}, {NAN, NAN}}};
  CHECK_FALSE(has_points(empty));
  CHECK_THROWS(render_svg(empty));

  LinePlot lg;  // a log axis leaves out values ≤ 0
  lg.log_y = true;
  lg.series = {PlotSeries{"", {1, 2, 3}, {0, 10, 1000}}};
  const std::string lsvg = render_svg(lg);
  CHECK(lsvg.find(">1000<") != std::string::npos);
  CHECK(lsvg.find("<g class=\"legend\">") == std::string::npos);  // one unnamed series: no legend
  CHECK(spans_decades({1, 10, 1000}, 2));
  CHECK_FALSE(spans_decades({0, 10, 1000}, 1));

  LinePlot cat;  // categorical x with error bars
  cat.categories = {"binaryrelax", "bcgd"};
  cat.error_bars = true;
  cat.series = {PlotSeries{"", {0, 1}, {80, 85}, {79, 84}, {81, 86}, true}};
  const std::string csvg = render_svg(cat);
  CHECK(count(csvg, "class=\"errorbar\"") == 1);
  CHECK(csvg.find(">bcgd<") != std::string::npos);
}

TEST_CASE("row plot: one row per item, intervals and dots") {
  RowPlot p;
  p.title = "binary layers";
  p.rows = {{"conv1", 0, 10, NAN, 0, "from epoch 1"},
            {"fc3", 4, 10, NAN, 0, "from epoch 5"},
            {"later", NAN, NAN}};
  const std::string svg = render_svg(p);
  CHECK(count(svg, "class=\"line\"") == 2);
  CHECK(svg.find(">from epoch 5<") != std::string::npos);
  CHECK(svg.find(">later<") != std::string::npos);
  RowPlot none;
  none.rows = {{"x", NAN, NAN}};
  CHECK_FALSE(has_points(none));
}

TEST_CASE("a damaged run directory is refused with the file and the line") {
  const fs::path root = scratch("damaged");
  const json cfg = config_with("float", 3);

  const fs::path no_config = root / "no-config";
  write(no_config / "metrics.jsonl", record(1, 0.5).dump() + "\n");
  std::string e = error_of([&] { load_run_dir(no_config); });
  CHECK(e.find("config.json: missing") != std::string::npos);
  CHECK(e.find("metrics are there") != std::string::npos);
  CHECK_THROWS_AS(build_report(no_config.string(), {}), DataError);

  const fs::path bad_line = root / "bad-line";
  write_run(bad_line, cfg, {record(1, 0.5)}, false);
  write(bad_line / "metrics.jsonl",
        record(1, 0.5).dump() + "\n{\"epoch\": 2, \"test_a\n" + record(3, 0.6).dump() + "\n");
  e = error_of([&] { load_run_dir(bad_line); });
  CHECK(e.find("metrics.jsonl: line 2 is not valid JSON") != std::string::npos);
  CHECK_THROWS_AS(load_run_dir(bad_line), DataError);

  const fs::path order = root / "order";
  write_run(order, cfg, {record(1, 0.5), record(3, 0.6)}, false);
  e = error_of([&] { load_run_dir(order); });
  CHECK(e.find("line 2: epoch 3 where epoch 2 was expected") != std::string::npos);

  const fs::path version = root / "version";
  json v2 = record(1, 0.5);
  v2["schema_version"] = 2;
  write_run(version, cfg, {v2}, false);
  CHECK(error_of([&] { load_run_dir(version); }).find("schema_version 2") != std::string::npos);

  const fs::path text = root / "text";
  json t = record(1, 0.5);
  t["test_acc"] = "high";
  write_run(text, cfg, {t}, false);
  CHECK(error_of([&] { load_run_dir(text); }).find("\"test_acc\" is \"high\", expected a number") !=
        std::string::npos);

  const fs::path summary = root / "summary";
  write_run(summary, cfg, {record(1, 0.5)}, false);
  write(summary / "summary.json", "{\"finished\": tr");
  CHECK(error_of([&] { load_run_dir(summary); }).find("summary.json: not valid JSON") !=
        std::string::npos);

  const fs::path config = root / "config";
  write_run(config, cfg, {record(1, 0.5)}, false);
  write(config / "config.json", "[1, 2]");
  CHECK(error_of([&] { load_run_dir(config); }).find("config.json: expected a JSON object") !=
        std::string::npos);

  // A NaN loss is written by JSON as null: that is a number we do not know, not damage.
  const fs::path nan = root / "nan";
  json n = record(1, 0.5);
  n["train_loss"] = nullptr;
  write_run(nan, cfg, {n, record(2, 0.6)}, true);
  CHECK(load_run_dir(nan).epochs.size() == 2);
  CHECK(std::isnan(record_value(load_run_dir(nan).epochs[0], {"train_loss"})));

  CHECK_THROWS_AS(build_report((root / "nowhere").string(), {}), UsageError);
  fs::create_directories(root / "empty");
  CHECK(error_of([&] {
          build_report((root / "empty").string(), {});
        }).find("neither a run directory") != std::string::npos);
  CHECK_THROWS_AS(build_report((root / "empty").string(), {}), UsageError);
  fs::remove_all(root);
}

TEST_CASE("run report: BinaryRelax's λ and Q(w) accuracy, projection error, tables, files") {
  const fs::path root = scratch("run");
  const fs::path dir = root / "br";
  std::vector<json> recs;
  for (int e = 1; e <= 6; ++e) {
    json a = {{"proj_error", {{"conv1", 0.5 / e}, {"conv2", 0.4 / e}}},
              {"flip_ratio", {{"conv1", 0.1 / e}, {"conv2", 0.05 / e}}},
              {"flip_ratio_total", 0.08 / e},
              {"phase", e >= 5 ? 2 : 1}};
    if (e < 5)
      a["lambda"] = std::pow(1.04, e), a["theta"] = 0.5,
      a["eval"] = {{"quantized", {{"test_acc", 0.4 + 0.05 * e}}}};
    recs.push_back(record(e, 0.5 + 0.05 * e, a));
  }
  write_run(dir, config_with("binaryrelax", 6), recs, true);
  const ReportFiles f = write_report(dir.string(), {});
  CHECK(f.html == dir.string() + "/report.html");
  const std::string html = slurp(f.html), md = slurp(f.md);
  CHECK(html.find("BinaryRelax λ") != std::string::npos);
  CHECK(html.find("test at Q(w)") != std::string::npos);
  CHECK(html.find("phase II (forward, backward and evaluation at Q(w) exactly) from epoch 5") !=
        std::string::npos);
  CHECK(html.find("Best phase-II test accuracy (what the BinaryRelax paper reports): 80.00 % at "
                  "epoch 6.") != std::string::npos);
  CHECK(html.find("Projection error") != std::string::npos);
  CHECK(html.find(">conv2<") != std::string::npos);
  CHECK(html.find("Flip ratio") != std::string::npos);
  CHECK(count(html, "<svg") >= 6);  // accuracy, loss, lr, λ, projection error, flip ratio
  CHECK(count(html, "<svg") == count(html, "</svg>"));
  // Self-contained: no scripts, nothing loaded from elsewhere.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("href=\"http") == std::string::npos);
  // The tables: best by validation (epoch 6: val 0.805), final 80.00 %, the per-epoch table.
  CHECK(md.find("| finished | 6 / 6 | 6 | val_acc | 80.50 % | 80.00 % | 80.00 % | 80.00 % | 12 s | "
                "1000 |") != std::string::npos);
  CHECK(md.find("| epoch | lr | train loss |") != std::string::npos);
  CHECK(md.find("| 3 | 0.1 | 0.6667 | 64.00 % |") != std::string::npos);
  CHECK(md.find("| algo.name | binaryrelax |") != std::string::npos);
  CHECK(md.find("<svg") == std::string::npos);
  CHECK(md.find("## Learning curves") == std::string::npos);  // only figures: left out of report.md
  CHECK(md.find("Best phase-II test accuracy (what the BinaryRelax paper reports): 80.00 % at "
                "epoch 6.") != std::string::npos);

  // Written elsewhere with --out.
  ReportOptions opt;
  opt.out_dir = (root / "out").string();
  write_report(dir.string(), opt);
  CHECK(fs::exists(root / "out" / "report.html"));
  CHECK(fs::exists(root / "out" / "report.md"));
  fs::remove_all(root);
}

TEST_CASE("run report: the best epoch and the maximum count fully quantized epochs only") {
  // Phase I (relaxed, not fully quantized) has the highest accuracies: they are not the result.
  const fs::path root = scratch("best");
  std::vector<json> recs;
  const double acc[] = {0.90, 0.85, 0.60, 0.70, 0.65};
  for (int e = 1; e <= 5; ++e)
    recs.push_back(record(e, acc[e - 1], {{"phase", e >= 3 ? 2 : 1}, {"fully_quantized", e >= 3}}));
  write_run(root / "val", config_with("binaryrelax", 5), recs, true);
  std::string md = slurp(write_report((root / "val").string(), {}).md);
  CHECK(md.find("| best epoch | selected by | best val acc | test acc at best val | final test "
                "acc | max test acc |") != std::string::npos);
  CHECK(md.find("| finished | 5 / 5 | 4 | val_acc | 70.50 % | 70.00 % | 65.00 % | 70.00 % |") !=
        std::string::npos);
  // Without a validation split the best epoch is the best test accuracy: the maximum, and no
  // "test at best val".
  for (json& r : recs) r.erase("val_acc"), r.erase("val_loss");
  write_run(root / "noval", config_with("binaryrelax", 5), recs, true);
  md = slurp(write_report((root / "noval").string(), {}).md);
  CHECK(md.find("| finished | 5 / 5 | 4 | test_acc | – | – | 65.00 % | 70.00 % |") !=
        std::string::npos);
  fs::remove_all(root);
}

TEST_CASE("run report: a run in progress, and a run without any epoch yet") {
  const fs::path root = scratch("progress");
  const fs::path running = root / "running";
  write_run(running, config_with("float", 10), {record(1, 0.6), record(2, 0.7)}, false);
  const std::string html = render_html(build_report(running.string(), {}));
  CHECK(html.find("in progress or stopped (2 of 10 epochs)") != std::string::npos);
  CHECK(html.find("class=\"warn\"") != std::string::npos);
  CHECK(count(html, "<svg") >= 2);

  const fs::path fresh = root / "fresh";
  write_run(fresh, config_with("float", 10), {}, false);
  const std::string empty = render_html(build_report(fresh.string(), {}));
  CHECK(empty.find("No epoch has finished yet") != std::string::npos);
  CHECK(count(empty, "<svg") == 0);  // no empty plots
  fs::remove_all(root);
}

TEST_CASE("run report: Iterative Training's binary layers and BCGD's α per quantizer") {
  const fs::path root = scratch("algos");
  std::vector<json> it, bc;
  const std::vector<std::string> order = {"fc2", "fc1", "fc3"};
  for (int e = 1; e <= 6; ++e) {
    json layers = json::array();
    for (int i = 0; i < 3; ++i)
      if ((e - 1) >= 2 * i) layers.push_back(order[i]);
    it.push_back(record(e, 0.6, {{"binary_layers", layers}}));
    bc.push_back(record(
        e, 0.6, {{"rho", 1e-5}, {"alpha", {{"act1", 0.19 + 0.01 * e}, {"layer1.0.act2", 0.3}}}}));
  }
  write_run(root / "it", config_with("iterative", 6), it, true);
  write_run(root / "bc", config_with("bcgd", 6), bc, true);
  const std::string ih = render_html(build_report((root / "it").string(), {}));
  CHECK(ih.find("Binary layers") != std::string::npos);
  CHECK(ih.find(">from epoch 3<") != std::string::npos);
  CHECK(ih.find(">from epoch 5<") != std::string::npos);
  CHECK(ih.find("binarization order: fc2, fc1, fc3") != std::string::npos);
  const std::string bh = render_html(build_report((root / "bc").string(), {}));
  CHECK(bh.find("α of each activation quantizer") != std::string::npos);
  CHECK(bh.find(">layer1.0.act2<") != std::string::npos);
  CHECK(bh.find("BCGD blending ρ = 1e-05 in every epoch") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE(
    "sweep report without a plan: points from the folders, mean ± std over seeds, parameter "
    "plots") {
  const fs::path root = scratch("sweep");
  // 2 algorithms × 2 learning rates × 2 seeds; the final accuracy is known for each.
  for (const char* algo : {"bwn", "ste"})
    for (double lr : {0.01, 0.1})
      for (int seed : {0, 1}) {
        json c = config_with(algo, 3, seed);
        c["lr"] = lr;
        const double final =
            (std::string(algo) == "bwn" ? 0.80 : 0.70) + (lr > 0.05 ? 0.05 : 0) + 0.1 * seed;
        const std::string name = std::string("algo=") + algo +
                                 ",lr=" + (lr > 0.05 ? "0.1" : "0.01") +
                                 ",seed=" + std::to_string(seed);
        write_run(root / name, c,
                  {record(1, final - 0.2), record(2, final - 0.1), record(3, final)}, true);
      }
  const SweepData s = load_sweep_dir(root.string());
  CHECK(s.varied == std::vector<std::string>{"algo.name", "lr", "seed"});
  const std::vector<PointData> points = group_points(s);
  REQUIRE(points.size() == 4);
  CHECK(points[0].label == "algo=bwn, lr=0.01");
  CHECK(points[0].runs.size() == 2);

  const ReportFiles f = write_report(root.string(), {});
  CHECK(f.sweep);
  CHECK(f.runs == 8);
  CHECK(f.points == 4);
  const std::string html = slurp(f.html), md = slurp(f.md);
  // bwn, lr 0.1: final 0.85 and 0.95 → mean 90.00, sample std 7.07; the best point, in bold.
  CHECK(md.find("| **bwn** | **0.1** | **2 of 2** | **3 / 3** |") != std::string::npos);
  CHECK(md.find("**90.00 ± 7.07 %**") != std::string::npos);
  CHECK(md.find("| ste | 0.01 | 2 of 2 | 3 / 3 |") != std::string::npos);
  CHECK(md.find("75.00 ± 7.07 %") != std::string::npos);
  CHECK(md.find("| algo=ste,lr=0.1,seed=1 | finished |") != std::string::npos);
  CHECK(html.find("Final test accuracy per point") != std::string::npos);
  CHECK(html.find("Final test accuracy vs lr") != std::string::npos);
  CHECK(html.find("Final test accuracy vs algo") != std::string::npos);
  CHECK(html.find("class=\"band\"") != std::string::npos);  // seeds as bands
  CHECK(html.find("No plan.json") != std::string::npos);
  CHECK(md.find("| optimizer.momentum | 0.9") != std::string::npos);  // shared configuration
  fs::remove_all(root);
}

TEST_CASE(
    "sweep report without a plan: a key missing from an older run's config.json counts as its "
    "default") {
  const fs::path root = scratch("old-keys");
  // The older run was written before data.split_seed and data.synthetic existed; the newer one
  // has them at their defaults. Only the learning rate differs.
  json older = config_with("ste", 2);
  older["lr"] = 0.01;
  older["data"].erase("split_seed");
  older["data"].erase("synthetic");
  json newer = config_with("ste", 2);
  newer["lr"] = 0.1;
  REQUIRE(newer["data"]["split_seed"] == 0);
  REQUIRE(newer["data"]["synthetic"].is_object());
  write_run(root / "newer", newer, {record(1, 0.6), record(2, 0.7)}, true);
  write_run(root / "older", older, {record(1, 0.5), record(2, 0.6)}, true);
  const SweepData s = load_sweep_dir(root.string());
  CHECK(s.varied == std::vector<std::string>{"lr"});
  REQUIRE(s.runs.size() == 2);
  CHECK(s.runs[1].name == "older");
  CHECK(s.runs[1].config["data"]["split_seed"] == 0);
  CHECK(s.runs[1].config["data"]["synthetic"] == newer["data"]["synthetic"]);
  const std::string md = render_markdown(build_report(root.string(), {}));
  CHECK(md.find("\n| lr | runs finished |") != std::string::npos);  // the one parameter
  CHECK(md.find("| data.split_seed | 0 |") != std::string::npos);   // shared configuration
  fs::remove_all(root);
}

TEST_CASE(
    "sweep report without a plan: defaults that follow the epochs vary with them, not as "
    "parameters; an older run without decay_norm did not decay BatchNorm") {
  const fs::path root = scratch("follows");
  // Two binaryrelax runs of 4 and 8 epochs: phase II and λ's growth resolved for each.
  json shorter = complete_config(config_with("binaryrelax", 4));
  json longer = complete_config(config_with("binaryrelax", 8));
  REQUIRE(shorter["algo"]["phase2_epoch"] != longer["algo"]["phase2_epoch"]);
  longer["optimizer"].erase("decay_norm");
  shorter["optimizer"]["decay_norm"] = false;
  write_run(root / "short", shorter, {record(1, 0.6)}, true);
  write_run(root / "long", longer, {record(1, 0.5)}, true);
  const SweepData s = load_sweep_dir(root.string());
  CHECK(s.varied == std::vector<std::string>{"epochs"});
  fs::remove_all(root);
}

TEST_CASE(
    "sweep report from plan.json: order, parameters, runs not started, failed runs, a damaged "
    "run") {
  const fs::path root = scratch("plan");
  nlohmann::ordered_json spec = {{"name", "demo"},
                                 {"base", {{"epochs", 2}, {"algo", {{"name", "bwn"}}}}},
                                 {"grid", {{"model", {"mlp", "lenet5"}}}},
                                 {"seeds", {0, 1}}};
  const Sweep sw = expand_sweep(spec, "test sweep");
  REQUIRE(sw.runs.size() == 4);
  write_plan(sw, root.string());
  // model=mlp finished for both seeds; lenet5 seed 0 failed, seed 1 not started.
  write_run(root / sw.runs[0].name, sw.runs[0].config, {record(1, 0.7), record(2, 0.8)}, true);
  write_run(root / sw.runs[1].name, sw.runs[1].config, {record(1, 0.7), record(2, 0.9)}, true);
  fs::create_directories(root / sw.runs[2].name);
  write(root / sw.runs[2].name / "sweep_exit.json",
        R"({"exit_code": 3, "seconds": 1, "error": "qtrain: error: no data"})");
  const SweepData s = load_sweep_dir(root.string());
  CHECK(s.from_plan);
  CHECK(s.name == "demo");
  CHECK(s.varied == std::vector<std::string>{"model", "seed"});
  REQUIRE(s.runs.size() == 4);
  CHECK(s.runs[2].state == RunState::Failed);
  CHECK(s.runs[3].state == RunState::New);
  const std::string md = render_markdown(build_report(root.string(), {}));
  CHECK(md.find("2 finished, 0 in progress or stopped, 1 failed, 1 not started.") !=
        std::string::npos);
  CHECK(md.find("failed: qtrain: error: no data") != std::string::npos);
  CHECK(md.find("not started") != std::string::npos);
  CHECK(md.find("| **mlp** | **2 of 2** | **2 / 2** | **85.00 ± 7.07 %** |") != std::string::npos);
  CHECK(md.find("| lenet5 | 0 of 2 | 0 / 2 |") != std::string::npos);
  const std::string html = render_html(build_report(root.string(), {}));
  CHECK(html.find("Learning curves (model = mlp)") !=
        std::string::npos);  // lenet5 has no curves: one panel

  // One damaged run makes the whole report refuse, naming that run's file.
  write(root / sw.runs[1].name / "metrics.jsonl", "{\"epoch\": 1}\nnot json\n");
  const std::string e = error_of([&] { build_report(root.string(), {}); });
  CHECK(e.find(sw.runs[1].name + "/metrics.jsonl: line 2 is not valid JSON") != std::string::npos);
  fs::remove_all(root);
}

TEST_CASE("run report: a package's packed inference beside the run's accuracy") {
  const fs::path root = scratch("run_packed");
  const fs::path dir = root / "bwn";
  write_run(dir, config_with("bwn", 2), {record(1, 0.6), record(2, 0.7)}, true);
  // a package without an inference result, and one with (as qtrain infer writes it)
  write(dir / "plain" / "manifest.json", "{}");
  write(dir / "package" / "manifest.json", "{}");
  const json inference = {{"split", "test"},
                          {"accuracy", 0.6875},
                          {"latency_batch1_seconds", 0.000397},
                          {"images_per_second", 2729.4},
                          {"batch_size", 128},
                          {"weight_bytes", 1181.8 * 1024},
                          {"float_weight_bytes", 36080.5 * 1024},
                          {"max_resident_bytes", 290.2 * 1024 * 1024}};
  write(dir / "package" / "inference.json", inference.dump(2));
  const ReportFiles f = write_report(dir.string(), {});
  const std::string md = slurp(f.md), html = slurp(f.html);
  CHECK(md.find("| package | test | 68.75 % | 0.397 | 2729 (128) | 1181.8 (36080.5) | 290.2 |") !=
        std::string::npos);
  CHECK(md.find("| plain |") == std::string::npos);
  CHECK(html.find("68.75 %") != std::string::npos);
  // without a package the table is not there
  fs::remove_all(dir / "package");
  CHECK(slurp(write_report(dir.string(), {}).md).find("qtrain infer") == std::string::npos);
  // a damaged result names its file
  write(dir / "package" / "manifest.json", "{}");
  write(dir / "package" / "inference.json", "[1, 2]");
  CHECK(error_of([&] { write_report(dir.string(), {}); }).find("package/inference.json") !=
        std::string::npos);
  fs::remove_all(root);
}
