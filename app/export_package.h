#pragma once
// `qtrain export`: the evaluated network with its quantized layers packed.
//
// A package is a folder: manifest.json (the run's configuration, and per tensor its name, shape,
// bits, codebooks and byte range) and weights.bin. Each quantized tensor is stored as a codebook
// of its distinct values (one codebook per output channel when its scales are per channel) and
// one index per weight at ceil(log2(codebook size)) bits, packed LSB first: 1 bit per binary
// weight, 2 per ternary, b per b-bit. The codebook holds the exact float values, so unpacking
// gives back the evaluated weights bit for bit. Other tensors (biases, BatchNorm, float layers,
// activation α) are float32.
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

// Writes the package for a checkpoint (or a run directory's last checkpoint) into `out_dir`;
// returns the manifest.
nlohmann::json export_package(const std::string& checkpoint, const std::string& out_dir);
// Evaluates a package as `qtrain eval` does a checkpoint: same result, same JSON layout.
nlohmann::json evaluate_package(const std::string& package_dir, const std::string& split,
                                const std::string& data_dir, int threads);
bool is_package(const std::string& path);

}  // namespace qt
