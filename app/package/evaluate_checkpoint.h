#pragma once
// `qtrain eval` as a library function: a checkpoint (or a run directory) and a split in,
// loss, accuracy, per-class accuracy, confusion matrix, the quantized-set check and the model
// size out, as JSON.
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

struct EvalRequest {
  std::string checkpoint;      // a .ckpt file, or a run directory (its checkpoints/last.ckpt)
  std::string split = "test";  // train | val | test
  std::string data_dir;        // overrides the run's data.dir when not empty
  int threads = 0;
  std::string logits;  // when set: every sample's logits (N × classes) into this .npy file
};

nlohmann::json evaluate_checkpoint(const EvalRequest& req);
// A readable table of the result (accuracy, per class, confusion, quantized layers).
std::string format_evaluation(const nlohmann::json& result);

}  // namespace qt
