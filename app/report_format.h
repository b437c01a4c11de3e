#pragma once
// How the report writes numbers: accuracies as percentages, spreads over seeds, durations.
// Unknown values (NaN) are written as "–".
#include <nlohmann/json.hpp>
#include <string>

#include "app/report_series.h"

namespace qt {

std::string percent(double fraction);            // 0.8921 → "89.21 %"
std::string percent_stats(const SeedStats& s);   // "89.21 ± 0.12 %" ("89.21 %" for one run)
std::string duration(double seconds);            // "42 s", "12 min 05 s", "3 h 20 min"
std::string fixed(double v, int decimals);       // "0.4312"
std::string json_text(const nlohmann::json& v);  // strings without quotes, lists joined by ","
// "finished", "in progress (12 of 200 epochs)", "failed: …", "not started".
std::string status_text(const RunData& run);

}  // namespace qt
