// The options of the training algorithms (ALGORITHMS.md §2), with the papers' defaults.
#include "app/config.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

using json = nlohmann::json;

void add_algorithm_options(std::vector<ConfigOption>& v) {
  v.push_back({"algo.name", "--algo", "training algorithm", OptKind::String, "float", algorithm_names(), 0, 0,
               [](TrainConfig& t, const json& x) { t.algo.name = x; }});
}

void add_algorithm_checks(std::vector<ConfigCheck>&) {}

}  // namespace qt
