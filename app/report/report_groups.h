#pragma once
// Runs grouped into points: the runs of a sweep that differ only by their seed. Every plot of
// the report draws a point as one line (the mean over its seeds) with a band (their spread).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/report/report_data.h"

namespace qt {

struct PointData {
  std::string label;              // "algo=bcgd, act_bits=2" (short keys), or the run's name
  std::string anchor;             // an HTML id: "point-3"
  nlohmann::ordered_json params;  // the varied parameters without the seed
  std::vector<const RunData*> runs;
};

// A single run is one point of one run; a sweep's runs are grouped by their point, in order.
std::vector<PointData> group_points(const SweepData& sweep);
PointData single_point(const RunData& run);

// The key as a reader wants it in a legend: algo.name → algo, data.name → dataset,
// algo.act_bits → act_bits, optimizer.name → optimizer.
std::string short_key(const std::string& key);
// "algo=bcgd, act_bits=2" ("base" when empty).
std::string params_label(const nlohmann::ordered_json& params);

}  // namespace qt
