#include "app/package/package_manifest.h"

#include <cfloat>
#include <cmath>

#include "engine/core/error.h"

namespace qt {

namespace {

using json = nlohmann::json;

// An unsigned integer field of `t` (any JSON integer ≥ 0).
uint64_t unsigned_field(const json& t, const char* key, const std::string& at) {
  if (!t.contains(key) || !t[key].is_number_integer() ||
      (!t[key].is_number_unsigned() && t[key].get<int64_t>() < 0))
    throw DataError(at + ": \"" + key + "\" must be an integer ≥ 0, found " +
                    (t.contains(key) ? t[key].dump().substr(0, 60) : std::string("nothing")));
  return t[key].get<uint64_t>();
}

void check_tensor(const json& t, uint64_t weights_bytes, const std::string& where) {
  if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
    throw DataError(where + ": every entry of \"tensors\" must be an object with a \"name\"");
  const std::string name = t["name"];
  const std::string at = where + ": tensor '" + name + "'";
  const json& shape = t.contains("shape") ? t["shape"] : json();
  if (!shape.is_array() || shape.size() > 8)
    throw DataError(at + ": \"shape\" must be a list of at most 8 dimensions, found " +
                    shape.dump().substr(0, 60));
  // The element count is checked at every step: the loader multiplies in int64.
  int64_t elems = 1;
  for (const json& d : shape) {
    const bool dim = d.is_number_integer() && (d.is_number_unsigned() || d.get<int64_t>() >= 0) &&
                     d.get<uint64_t>() <= (uint64_t{1} << 40);
    if (!dim || __builtin_mul_overflow(elems, d.get<int64_t>(), &elems))
      throw DataError(at + ": shape " + shape.dump().substr(0, 80) +
                      " is not a list of dimensions with fewer than 2^63 elements");
  }
  const uint64_t offset = unsigned_field(t, "offset", at), bytes = unsigned_field(t, "bytes", at);
  if (offset > weights_bytes || bytes > weights_bytes - offset)
    throw DataError(at + ": bytes " + std::to_string(offset) + " + " + std::to_string(bytes) +
                    " lie outside weights.bin's " + std::to_string(weights_bytes) + " bytes");
  const json& enc = t.contains("encoding") ? t["encoding"] : json();
  // In 128 bits: 2^63 elements of 16 bits do not fit in 64.
  unsigned __int128 needed = 0;
  if (enc == "float32") {
    needed = static_cast<unsigned __int128>(elems) * 4;
  } else if (enc == "codebook" && name.starts_with("param/")) {
    const json& bits = t.contains("bits") ? t["bits"] : json();
    if (!bits.is_number_integer() || bits.get<int64_t>() < 1 || bits.get<int64_t>() > 16)
      throw DataError(at + ": \"bits\" must be an integer in 1 … 16, found " +
                      bits.dump().substr(0, 60));
    const int b = bits.get<int>();
    const json& books = t.contains("codebooks") ? t["codebooks"] : json();
    const int64_t rows = shape.empty() ? 1 : shape[0].get<int64_t>();
    if (!books.is_array() || books.empty() ||
        (books.size() != 1 && static_cast<int64_t>(books.size()) != rows))
      throw DataError(at +
                      ": \"codebooks\" must be a list of one codebook, or one per output "
                      "channel (" +
                      std::to_string(rows) + ")");
    for (const json& book : books) {
      if (!book.is_array() || book.empty() || book.size() > (size_t{1} << b))
        throw DataError(at +
                        ": a codebook must list 1 … 2^bits = " + std::to_string(size_t{1} << b) +
                        " values, found " + book.dump().substr(0, 60));
      for (const json& v : book)
        if (!v.is_number() || !(std::fabs(v.get<double>()) <= FLT_MAX))
          throw DataError(at + ": codebook value " + v.dump() + " is not a float32 number");
    }
    needed = (static_cast<unsigned __int128>(elems) * b + 7) / 8;
  } else {
    throw DataError(at + ": \"encoding\" must be \"float32\"" +
                    std::string(name.starts_with("param/") ? " or \"codebook\"" : "") + ", found " +
                    enc.dump().substr(0, 60));
  }
  if (bytes != needed)
    throw DataError(at + ": shape " + shape.dump() + " in " + enc.get<std::string>() + " needs " +
                    (needed > bytes ? "more than " + std::to_string(bytes)
                                    : std::to_string(static_cast<uint64_t>(needed))) +
                    " bytes" + ", the manifest gives it " + std::to_string(bytes));
}

}  // namespace

void check_package_manifest(const json& m, const std::string& where) {
  if (!m.is_object() || m.value("format", json()) != "qtrain-package" ||
      m.value("schema_version", json()) != 1)
    throw DataError(where + ": not a qtrain package of schema version 1");
  if (!m.contains("config") || !m["config"].is_object())
    throw DataError(where + ": \"config\" must be the run's configuration (an object)");
  if (!m.contains("tensors") || !m["tensors"].is_array())
    throw DataError(where + ": \"tensors\" must be a list");
  const uint64_t weights_bytes = unsigned_field(m, "weights_bytes", where);
  for (const json& t : m["tensors"]) check_tensor(t, weights_bytes, where);
}

}  // namespace qt
