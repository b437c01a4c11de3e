#include "app/train/checkpoint.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

namespace {

constexpr char kMagic[8] = {'Q', 'T', 'R', 'A', 'I', 'N', 'C', 'K'};

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t crc_of(const char* data, size_t n, uLong crc = crc32(0L, Z_NULL, 0)) {
  // zlib takes uInt lengths: feed large payloads in pieces.
  while (n > 0) {
    uInt piece = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), piece);
    data += piece;
    n -= piece;
  }
  return static_cast<uint32_t>(crc);
}

void put_section(std::string& out, const std::string& name, const char* data, size_t n) {
  put_u32(out, static_cast<uint32_t>(name.size()));
  out += name;
  put_u64(out, n);
  out.append(data, n);
  // The checksum covers the name too: a damaged name must not pass for another section.
  put_u32(out, crc_of(data, n, crc_of(name.data(), name.size())));
}

class Reader {
 public:
  Reader(const std::string& b, const std::string& src) : b_(b), src_(src) {}
  uint64_t get(int bytes, const char* what) {
    need(bytes, what);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= static_cast<uint64_t>(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
    pos_ += bytes;
    return v;
  }
  std::string take(uint64_t n, const char* what) {
    need(n, what);
    std::string s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* what) {
    if (n > b_.size() - pos_)
      fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes at offset " +
           std::to_string(pos_) + ", the file has " + std::to_string(b_.size() - pos_) + " left");
  }
  [[noreturn]] void fail(const std::string& m) const {
    throw DataError("checkpoint " + src_ + ": " + m +
                    " (the file is damaged: resume from another checkpoint or start again)");
  }
  size_t pos() const { return pos_; }
  bool done() const { return pos_ == b_.size(); }

 private:
  const std::string& b_;
  std::string src_;
  size_t pos_ = 0;
};

}  // namespace

const Tensor* Checkpoint::find(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

std::string serialize_checkpoint(const Checkpoint& c) {
  std::string out(kMagic, 8);
  put_u32(out, kCheckpointVersion);
  put_u32(out, static_cast<uint32_t>(1 + c.tensors.size()));
  std::string meta = c.meta.dump();
  put_section(out, "meta", meta.data(), meta.size());
  for (auto& [name, t] : c.tensors) {
    // The shape goes in front of the data so that a tensor reads back whole.
    std::string payload;
    put_u32(payload, static_cast<uint32_t>(t.ndim()));
    for (int i = 0; i < t.ndim(); ++i) put_u64(payload, static_cast<uint64_t>(t.dim(i)));
    payload.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
    put_section(out, name, payload.data(), payload.size());
  }
  return out;
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& source) {
  Reader r(bytes, source);
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    r.fail("not a qtrain checkpoint (expected the magic bytes QTRAINCK at offset 0)");
  r.take(8, "magic");
  uint32_t version = static_cast<uint32_t>(r.get(4, "format version"));
  if (version > kCheckpointVersion)
    throw DataError("checkpoint " + source + ": format version " + std::to_string(version) +
                    " is newer than this qtrain reads (" + std::to_string(kCheckpointVersion) +
                    "): use a newer qtrain");
  if (version == 0) r.fail("format version 0 is not valid");
  uint32_t count = static_cast<uint32_t>(r.get(4, "section count"));
  Checkpoint c;
  bool have_meta = false;
  std::set<std::string> names;
  for (uint32_t s = 0; s < count; ++s) {
    uint32_t name_len = static_cast<uint32_t>(r.get(4, "section name length"));
    if (name_len > 4096)
      r.fail("section name length " + std::to_string(name_len) + " at offset " +
             std::to_string(r.pos() - 4) + " is implausible");
    std::string name = r.take(name_len, "section name");
    if (!names.insert(name).second)
      r.fail("section '" + name + "' at offset " + std::to_string(r.pos() - name_len) +
             " appears twice");
    uint64_t len = r.get(8, "section length");
    size_t at = r.pos();
    std::string payload = r.take(len, ("section '" + name + "'").c_str());
    uint32_t crc = static_cast<uint32_t>(r.get(4, "section checksum"));
    if (crc != crc_of(payload.data(), payload.size(), crc_of(name.data(), name.size())))
      r.fail("section '" + name + "' at offset " + std::to_string(at) + " fails its CRC32 check");
    if (name == "meta") {
      try {
        c.meta = parse_bounded_json(payload);
      } catch (const nlohmann::json::exception&) {
        r.fail("the meta section is not valid JSON");
      }
      if (!c.meta.is_object())
        r.fail(std::string("the meta section is a JSON ") + c.meta.type_name() +
               ", expected an object");
      have_meta = true;
      continue;
    }
    Reader pr(payload, source);
    uint32_t nd = static_cast<uint32_t>(pr.get(4, "tensor rank"));
    if (nd > 8) r.fail("tensor '" + name + "' has rank " + std::to_string(nd) + ", expected ≤ 8");
    Shape shape;
    // The size is checked at every step, even on the way to a zero dimension: Tensor and
    // shape_size multiply the same dimensions in int64.
    int64_t elems = 1;
    bool overflow = false;
    for (uint32_t i = 0; i < nd; ++i) {
      uint64_t d = pr.get(8, "tensor dimension");
      if (d > (uint64_t{1} << 40)) r.fail("tensor '" + name + "' has an implausible dimension");
      shape.push_back(static_cast<int64_t>(d));
      overflow = overflow || __builtin_mul_overflow(elems, static_cast<int64_t>(d), &elems);
    }
    // Nothing is allocated before the data the shape needs is known to be in the section.
    const uint64_t data_bytes = payload.size() - pr.pos();
    if (overflow || static_cast<uint64_t>(elems) > data_bytes / sizeof(float) ||
        static_cast<uint64_t>(elems) * sizeof(float) != data_bytes)
      r.fail("tensor '" + name + "' of shape " + shape_str(shape) + " needs " +
             (overflow ? std::string("more than 2^63 elements")
                       : std::to_string(static_cast<uint64_t>(elems)) + " × 4 bytes") +
             " of data, the section has " + std::to_string(data_bytes) + " bytes");
    Tensor t(shape);
    std::memcpy(t.data(), payload.data() + pr.pos(), data_bytes);
    c.tensors.emplace_back(name, std::move(t));
  }
  if (!r.done())
    r.fail(std::to_string(bytes.size() - r.pos()) + " unexpected bytes after the last section");
  if (!have_meta) r.fail("no meta section");
  return c;
}

void save_checkpoint(const Checkpoint& c, const std::string& path) {
  write_file_atomic(path, serialize_checkpoint(c));
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw DataError("checkpoint " + path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    throw DataError("checkpoint " + path + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("checkpoint " + path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_checkpoint(ss.str(), path);
}

}  // namespace qt
