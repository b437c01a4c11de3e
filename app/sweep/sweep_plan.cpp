#include "app/sweep/sweep_plan.h"

#include <filesystem>

#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

using ojson = nlohmann::ordered_json;

void write_plan(const Sweep& sweep, const std::string& dir) {
  ojson runs = ojson::array();
  for (auto& r : sweep.runs)
    runs.push_back({{"name", r.name},
                    {"point", r.point},
                    {"params", r.params},
                    {"config", ojson::parse(r.config.dump())}});
  ojson plan = {{"schema_version", 1},
                {"name", sweep.name},
                {"file", sweep.file},
                {"shape", sweep.shape},
                {"duplicates", sweep.duplicates},
                {"runs", runs}};
  make_dirs(dir);
  write_file_atomic(dir + "/plan.json", plan.dump(2) + "\n");
}

Sweep read_plan(const std::string& dir) {
  const std::string path = dir + "/plan.json";
  if (!std::filesystem::exists(path))
    throw UsageError(
        dir +
        ": no plan.json there: is it a sweep folder (the \"out\" of a sweep that has started)?");
  Sweep sw;
  try {
    ojson plan = parse_bounded_json<ojson>(read_file(path));
    sw.name = plan.at("name").get<std::string>();
    sw.file = plan.at("file").get<std::string>();
    sw.shape = plan.at("shape").get<std::string>();
    sw.duplicates = plan.value("duplicates", 0);
    sw.out = dir;
    for (auto& r : plan.at("runs"))
      sw.runs.push_back({r.at("name").get<std::string>(), r.at("params"),
                         r.at("point").get<std::string>(),
                         nlohmann::json::parse(r.at("config").dump())});
  } catch (const nlohmann::json::exception& e) {
    throw DataError(path + ": not a plan written by qtrain sweep: " + e.what());
  }
  return sw;
}

}  // namespace qt
