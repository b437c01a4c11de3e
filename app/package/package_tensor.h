#pragma once
// One tensor of a `qtrain export` package: its manifest entry (name, shape, encoding, byte range
// in weights.bin) and its bytes. Two encodings, both giving back the exact floats:
//   float32   the values as they are, 4 bytes each (little-endian)
//   codebook  a quantized tensor: its distinct values ("codebooks": one per output channel when
//             its scales are per channel, else one) and one index per value at `bits` =
//             ceil(log2(set size)) bits, packed LSB first: 1 bit per binary weight, 2 per
//             ternary, b per b-bit
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/core/tensor.h"

namespace qt {

// Appends `t` to `blob` as float32 and returns its entry.
nlohmann::json pack_float32(const std::string& name, const Tensor& t, std::string& blob);
// Appends `t` to `blob` as codebook indices and returns its entry: `t` holds at most `set_size`
// distinct values (per output channel when it holds more in all); DataError naming it otherwise.
nlohmann::json pack_codebook(const std::string& name, const Tensor& t, int64_t set_size,
                             std::string& blob);
// The values of `entry` (its shape already checked against `out`'s) from `blob` into `out`.
// DataError naming `where` and the tensor when the entry is malformed or does not fit: an
// unknown encoding, a byte range outside `blob` or of the wrong length, codebooks that are not
// one or one per output channel, an index outside its codebook.
void unpack_tensor(const nlohmann::json& entry, const std::string& blob, Tensor& out,
                   const std::string& where);

}  // namespace qt
