#pragma once
// `qtrain report DIR`: report.html (learning curves, the algorithm's schedules, projection error
// per layer; for a sweep also its summary table and accuracy-against-parameter plots; inline SVG,
// no scripts, no network) and report.md (the same tables) for a run directory or a sweep folder.
// A run in progress is reported as far as it got; a damaged run directory is a DataError naming
// the file and the line, and nothing is written.
#include <string>

#include "app/report/report_doc.h"
#include "app/report/report_series.h"

namespace qt {

struct ReportOptions {
  std::string out_dir;               // where report.html and report.md go ("" = DIR itself)
  BandKind band = BandKind::MinMax;  // how seeds are drawn around their mean
};

struct ReportFiles {
  std::string html, md;
  bool sweep = false;
  size_t runs = 0, points = 0;
};

// The document for DIR (a run directory or a sweep folder); UsageError when DIR is neither.
ReportDoc build_report(const std::string& dir, const ReportOptions& opt,
                       ReportFiles* info = nullptr);
// Builds the document and writes both files atomically.
ReportFiles write_report(const std::string& dir, const ReportOptions& opt);

}  // namespace qt
