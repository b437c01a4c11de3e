#pragma once
// `qtrain export`: the evaluated network with its quantized layers packed.
//
// A package is a folder: manifest.json (the run's configuration, and per tensor its name, shape,
// encoding and byte range) and weights.bin. It holds every tensor of the model (Model::tensors:
// weights, biases, BatchNorm γ, β and running statistics, activation quantizers' α) as the
// network evaluates it: each quantized weight as codebook indices (package_tensor.h), the others
// as float32. ProxyBNN's P is not in it: the evaluated weights α ⊙ sign(C·P) are.
// Loading matches the model's tensors and the manifest's entries one to one, so the package
// evaluates exactly as its checkpoint: logits equal bit for bit.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "app/run/restored_run.h"

namespace qt {

// Writes the package for a checkpoint (or a run directory's last checkpoint) into `out_dir`;
// returns the manifest.
nlohmann::json export_package(const std::string& checkpoint, const std::string& out_dir);
// The tensors of a package: the manifest's entries (in Model::tensors order) and weights.bin.
struct PackedNetwork {
  nlohmann::json tensors = nlohmann::json::array();
  std::string blob;
  int64_t packed_bits = 0;  // of the codebook indices
};
// Every tensor of `model` as `algo` evaluates it (between its begin_eval and end_eval).
PackedNetwork pack_network(Model& model, Algorithm& algo);
// Sets every tensor of `model` from the entries `tensors` and their bytes `blob` (ModelTensor::
// set). DataError naming `where` and the tensors when an entry is missing, is not a tensor of
// the model, appears twice, has another shape or does not decode (the model is then left as it
// was).
void unpack_network(Model& model, const nlohmann::json& tensors, const std::string& blob,
                    const std::string& where);

// The package's network in memory: the run's configuration and data, and every tensor of the
// model from the package (unpack_network). DataError naming the manifest, or weights.bin, for
// anything that does not fit.
std::unique_ptr<RestoredRun> load_package(const std::string& package_dir,
                                          const std::string& data_dir);
// Evaluates a package as `qtrain eval` does a checkpoint: same result, same JSON layout.
// `logits`, when not empty, receives every sample's logits as a .npy file.
nlohmann::json evaluate_package(const std::string& package_dir, const std::string& split,
                                const std::string& data_dir, int threads,
                                const std::string& logits = "");
bool is_package(const std::string& path);

}  // namespace qt
