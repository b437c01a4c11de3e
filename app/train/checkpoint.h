#pragma once
// qtrain's checkpoint file: everything a run needs to continue exactly where it stopped.
//
//   "QTRAINCK" (8 bytes) · format version (u32) · section count (u32)
//   then per section: name length (u32) · name · payload length (u64) · payload · CRC32 of payload
//   (u32)
//
// Sections: "meta" (JSON: config, epoch, step, RNG and algorithm state) and one per tensor
// ("param/<name>", "buffer/<name>", "optim/<name>", "algo/<name>"), raw little-endian float32.
// A file is read and verified whole before anything is applied, so a bad file is never half-loaded.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace qt {

constexpr uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  nlohmann::json meta = nlohmann::json::object();
  std::vector<std::pair<std::string, Tensor>> tensors;  // owning copies

  const Tensor* find(const std::string& name) const;
};

// Serialises to bytes / parses bytes; `source` names the file in error messages (DataError).
std::string serialize_checkpoint(const Checkpoint& c);
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source);

// Written to a temporary file, flushed, then renamed over `path`.
void save_checkpoint(const Checkpoint& c, const std::string& path);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace qt
