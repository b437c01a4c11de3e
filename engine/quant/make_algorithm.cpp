#include "engine/quant/make_algorithm.h"

#include "engine/core/error.h"

namespace qt {

std::vector<std::string> algorithm_names() { return {"float"}; }

std::unique_ptr<Algorithm> make_algorithm(const AlgoOptions& opt) {
  if (opt.name == "float") return std::make_unique<FloatAlgorithm>();
  std::string valid;
  for (auto& n : algorithm_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw UsageError("unknown algorithm '" + opt.name + "': expected one of " + valid);
}

}  // namespace qt
