#pragma once
// `qtrain infer PACKAGE` (and `qtrain eval PACKAGE --engine packed`): a package evaluated by the
// packed engine (packed_runner.h) on a split: loss, accuracy, the kernel of every layer, the
// memory its weights take as loaded, and its speed: batch-1 latency and the throughput of the
// evaluation's batches. The plan must be the one the manifest's "layers" describes (written by
// `qtrain export`); a layer that cannot run packed is a DataError naming it and why.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

struct InferRequest {
  std::string package;
  std::string split = "test";
  std::string data_dir;     // overrides the run's data.dir when not empty
  int threads = 0;          // 0 = all cores
  int64_t batch_size = 0;   // 0: the run's eval batch size
  int latency_images = 20;  // batch-1 forward passes timed (0: none)
};

nlohmann::json infer_package(const InferRequest& req);
std::string format_inference(const nlohmann::json& r);

}  // namespace qt
