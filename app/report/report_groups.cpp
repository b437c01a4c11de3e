#include "app/report/report_groups.h"

#include <map>

#include "app/sweep/sweep_spec.h"

namespace qt {

using ojson = nlohmann::ordered_json;

std::string short_key(const std::string& key) {
  if (key == "algo.name") return "algo";
  if (key == "data.name") return "dataset";
  const auto dot = key.rfind('.');
  if (dot == std::string::npos) return key;
  const std::string head = key.substr(0, key.find('.')), tail = key.substr(dot + 1);
  if (tail == "name") return head;
  return head == "algo" ? tail : key;  // the algo. prefix is implied; schedule.gamma stays as it is
}

std::string params_label(const ojson& params) {
  std::string s;
  for (auto it = params.begin(); it != params.end(); ++it)
    s += (s.empty() ? "" : ", ") + short_key(it.key()) + "=" + value_text(it.value());
  return s.empty() ? "base" : s;
}

std::vector<PointData> group_points(const SweepData& sweep) {
  std::vector<PointData> points;
  std::map<std::string, size_t> index;
  for (const RunData& r : sweep.runs) {
    auto [it, fresh] = index.emplace(r.point, points.size());
    if (fresh) {
      PointData p;
      p.params = ojson::object();
      for (auto kv = r.params.begin(); kv != r.params.end(); ++kv)
        if (kv.key() != "seed") p.params[kv.key()] = kv.value();
      p.label = params_label(p.params);
      p.anchor = "point-" + std::to_string(points.size() + 1);
      points.push_back(std::move(p));
    }
    points[it->second].runs.push_back(&r);
  }
  return points;
}

PointData single_point(const RunData& run) {
  PointData p;
  p.label = run.name;
  p.anchor = "run";
  p.params = ojson::object();
  p.runs = {&run};
  return p;
}

}  // namespace qt
