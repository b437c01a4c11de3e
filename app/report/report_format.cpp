#include "app/report/report_format.h"

#include <cmath>
#include <cstdio>

#include "app/text/text_format.h"

namespace qt {

std::string percent_stats(const SeedStats& s) {
  if (!s.n) return "–";
  if (s.n == 1) return percent(s.mean);
  char b[48];
  std::snprintf(b, sizeof b, "%.2f ± %.2f %%", 100 * s.mean, 100 * s.std);
  return b;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "–";
  char b[48];
  const long s = std::lround(seconds);
  if (s < 60)
    std::snprintf(b, sizeof b, "%.0f s", seconds);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%ld min %02ld s", s / 60, s % 60);
  else
    std::snprintf(b, sizeof b, "%ld h %02ld min", s / 3600, (s % 3600) / 60);
  return b;
}

std::string json_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (auto& e : v) {
      if (!s.empty()) s += ',';
      s += json_text(e);
    }
    return s.empty() ? "(none)" : s;
  }
  if (v.is_null()) return "–";
  return v.dump();
}

std::string status_text(const RunData& run) {
  const int done = static_cast<int>(run.epochs.size()), planned = run.planned_epochs();
  if (run.state == RunState::Finished) return "finished";
  if (run.state == RunState::Failed)
    return "failed" + (run.error.empty() ? std::string() : ": " + run.error);
  if (run.state == RunState::New) return "not started";
  if (done == 0) return "started, no epoch finished yet";
  return "in progress or stopped (" + std::to_string(done) + " of " + std::to_string(planned) +
         " epochs)";
}

}  // namespace qt
