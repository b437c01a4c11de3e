#include "app/package/package_tensor.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "engine/core/error.h"
#include "engine/quant/projection.h"

namespace qt {

using json = nlohmann::json;

json pack_float32(const std::string& name, const Tensor& t, std::string& blob) {
  json e = {{"name", name},
            {"shape", t.shape()},
            {"encoding", "float32"},
            {"offset", blob.size()},
            {"bytes", t.size() * 4}};
  blob.append(reinterpret_cast<const char*>(t.data()), t.size() * 4);
  return e;
}

json pack_codebook(const std::string& name, const Tensor& w, int64_t set_size, std::string& blob) {
  std::set<float> all(w.data(), w.data() + w.size());
  const int64_t rows = w.shape()[0], row_len = w.size() / rows;
  const bool per_row = static_cast<int64_t>(all.size()) > set_size;
  const int64_t groups = per_row ? rows : 1, group_len = per_row ? row_len : w.size();
  std::vector<std::vector<float>> books(groups);
  size_t most = 1;
  for (int64_t g = 0; g < groups; ++g) {
    std::set<float> v(w.data() + g * group_len, w.data() + (g + 1) * group_len);
    books[g].assign(v.begin(), v.end());
    most = std::max(most, books[g].size());
  }
  if (static_cast<int64_t>(most) > set_size)
    throw DataError(name + ": the evaluated weights hold " + std::to_string(most) +
                    " distinct values per scale, more than the set's " + std::to_string(set_size));
  const int bits = index_bits(set_size);
  std::string packed((w.size() * bits + 7) / 8, '\0');
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = g * group_len; i < (g + 1) * group_len; ++i) {
      const auto& book = books[g];
      const uint64_t code = std::lower_bound(book.begin(), book.end(), w[i]) - book.begin();
      const uint64_t bit = static_cast<uint64_t>(i) * bits;
      for (int k = 0; k < bits; ++k)
        if (code >> k & 1) packed[(bit + k) / 8] |= static_cast<char>(1 << ((bit + k) % 8));
    }
  json e = {{"name", name},          {"shape", w.shape()},     {"encoding", "codebook"},
            {"bits", bits},          {"per_channel", per_row}, {"codebooks", books},
            {"offset", blob.size()}, {"bytes", packed.size()}};
  blob += packed;
  return e;
}

namespace {

void unpack_codebook(const json& e, const char* src, Tensor& out, const std::string& what) {
  const int bits = e.at("bits").get<int>();
  if (bits < 1 || bits > 32)
    throw DataError(what + " has " + std::to_string(bits) + " bits per index, expected 1 to 32");
  const auto books = e.at("codebooks").get<std::vector<std::vector<float>>>();
  const int64_t rows = out.shape().empty() ? 1 : out.shape()[0];
  const int64_t groups = static_cast<int64_t>(books.size());
  if (groups != 1 && groups != rows)
    throw DataError(what + " has " + std::to_string(groups) +
                    " codebooks, expected 1 or one per output channel (" + std::to_string(rows) +
                    ")");
  const uint64_t need = (static_cast<uint64_t>(out.size()) * bits + 7) / 8;
  if (e.at("bytes").get<uint64_t>() != need)
    throw DataError(what + " takes " + e.at("bytes").dump() + " bytes, its " +
                    std::to_string(out.size()) + " indices of " + std::to_string(bits) +
                    " bits take " + std::to_string(need));
  const int64_t group_len = out.size() / groups;
  for (int64_t i = 0; i < out.size(); ++i) {
    uint64_t code = 0;
    const uint64_t bit = static_cast<uint64_t>(i) * bits;
    for (int k = 0; k < bits; ++k)
      code |= static_cast<uint64_t>((src[(bit + k) / 8] >> ((bit + k) % 8)) & 1) << k;
    const auto& book = books[i / group_len];
    if (code >= book.size())
      throw DataError(what + " has index " + std::to_string(code) + " at element " +
                      std::to_string(i) + ", outside its codebook of " +
                      std::to_string(book.size()) + " values");
    out[i] = book[code];
  }
}

}  // namespace

void unpack_tensor(const json& e, const std::string& blob, Tensor& out, const std::string& where) {
  const std::string what = where + ": tensor '" + e.value("name", std::string("?")) + "'";
  try {
    const uint64_t offset = e.at("offset").get<uint64_t>(), bytes = e.at("bytes").get<uint64_t>();
    if (offset > blob.size() || bytes > blob.size() - offset)
      throw DataError(what + " lies outside weights.bin (bytes " + std::to_string(offset) + " to " +
                      std::to_string(offset + bytes) + " of " + std::to_string(blob.size()) + ")");
    const std::string encoding = e.at("encoding").get<std::string>();
    if (encoding == "float32") {
      if (bytes != static_cast<uint64_t>(out.size()) * 4)
        throw DataError(what + " takes " + std::to_string(bytes) + " bytes, its " +
                        std::to_string(out.size()) + " float32 values take " +
                        std::to_string(out.size() * 4));
      std::memcpy(out.data(), blob.data() + offset, bytes);
    } else if (encoding == "codebook") {
      unpack_codebook(e, blob.data() + offset, out, what);
    } else {
      throw DataError(what + " has encoding '" + encoding + "', expected float32 or codebook");
    }
  } catch (const json::exception& x) {
    throw DataError(what + ": a malformed entry (" + x.what() + ")");
  }
}

}  // namespace qt
