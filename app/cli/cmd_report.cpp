#include "app/cli/cmd_report.h"

#include <cstdio>
#include <memory>

#include "app/report/report.h"
#include "engine/core/error.h"

namespace qt {

namespace {

struct ReportArgs {
  std::string dir, out, band = "minmax";
};

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write report.html and report.md for a run directory or a sweep folder: learning curves "
      "(seeds as bands), the "
      "algorithm's schedules (λ, α per activation quantizer, binary layers over time), projection "
      "error per layer, "
      "and for a sweep its summary table and accuracy against each varied parameter. The page is "
      "self-contained "
      "(inline SVG, no scripts, no network). A run in progress is reported as far as it got.");
  cmd->add_option("DIR", args->dir,
                  "a run directory (the --out of qtrain train) or a sweep folder (qtrain sweep)")
      ->required();
  cmd->add_option("--out", args->out, "folder for report.html and report.md [default: DIR]");
  cmd->add_option(
      "--band", args->band,
      "the band drawn around the mean of a point's seeds: minmax or std [default: minmax]");
  cmd->callback([args]() {
    if (args->band != "minmax" && args->band != "std")
      throw UsageError("--band '" + args->band +
                       "': expected minmax (min–max over seeds) or std (mean ± std)");
    ReportOptions opt;
    opt.out_dir = args->out;
    opt.band = args->band == "std" ? BandKind::MeanStd : BandKind::MinMax;
    const ReportFiles f = write_report(args->dir, opt);
    std::printf("wrote %s and %s (%s, %zu run%s in %zu point%s)\n", f.html.c_str(), f.md.c_str(),
                f.sweep ? "sweep" : "run", f.runs, f.runs == 1 ? "" : "s", f.points,
                f.points == 1 ? "" : "s");
  });
}

}  // namespace qt
