#pragma once
// How the report writes numbers beyond app/text/text_format.h: spreads over seeds, durations,
// configuration values, a run's status.
// Unknown values (NaN) are written as "–".
#include <nlohmann/json.hpp>
#include <string>

#include "app/report/report_series.h"

namespace qt {

std::string percent_stats(const SeedStats& s);   // "89.21 ± 0.12 %" ("89.21 %" for one run)
std::string duration(double seconds);            // "42 s", "12 min 05 s", "3 h 20 min"
std::string json_text(const nlohmann::json& v);  // strings without quotes, lists joined by ","
// "finished", "in progress (12 of 200 epochs)", "failed: …", "not started".
std::string status_text(const RunData& run);

}  // namespace qt
