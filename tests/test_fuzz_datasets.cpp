// Mutates small valid files of every format in hundreds of ways (truncation at every region,
// bit flips, header field edits, appended bytes, gzip damage) and checks that each one either
// loads exactly what its bytes say or fails with a DataError naming the file, what was expected
// and what was found. Built with AddressSanitizer + UBSan by tools/sanitize, where any
// out-of-bounds access or overflow on these inputs fails the run.
#include <doctest/doctest.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

#include "datasets/byte_reader.h"
#include "datasets/cifar_reader.h"
#include "datasets/dataset_writers.h"
#include "datasets/idx_reader.h"
#include "datasets/qtimg_reader.h"
#include "engine/core/error.h"
#include "engine/core/random.h"
#include "test_datasets_fixtures.h"

using namespace qt;
using qt::testing::random_dataset;
using qt::testing::TempDir;
using Bytes = std::vector<uint8_t>;

namespace {

uint64_t be(const Bytes& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | b[at + i];
  return v;
}
uint64_t le(const Bytes& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | b[at + i];
  return v;
}

// Reference decoders: the plain reading of each layout's specification, written apart from
// the readers. nullopt = the bytes are not a valid file of that layout.
std::optional<Dataset> ref_idx(const Bytes& img, const Bytes& lab, int classes) {
  if (img.size() < 16 || lab.size() < 8) return std::nullopt;
  if (be(img, 0, 4) != 0x803 || be(lab, 0, 4) != 0x801) return std::nullopt;
  const uint64_t n = be(img, 4, 4), h = be(img, 8, 4), w = be(img, 12, 4);
  if (n == 0 || h == 0 || w == 0 || h > 65535 || w > 65535) return std::nullopt;
  if (img.size() - 16 != n * h * w) return std::nullopt;
  if (be(lab, 4, 4) != n || lab.size() - 8 != n) return std::nullopt;
  Dataset d;
  d.channels = 1;
  d.height = static_cast<int>(h);
  d.width = static_cast<int>(w);
  d.pixels.assign(img.begin() + 16, img.end());
  for (size_t i = 8; i < lab.size(); ++i) {
    if (lab[i] >= classes) return std::nullopt;
    d.labels.push_back(lab[i]);
  }
  return d;
}

std::optional<Dataset> ref_cifar(const Bytes& b, int label_bytes, int label_index, int classes) {
  const size_t rec = label_bytes + 3072;
  if (b.empty() || b.size() % rec != 0) return std::nullopt;
  Dataset d;
  d.channels = 3;
  d.height = d.width = 32;
  for (size_t at = 0; at < b.size(); at += rec) {
    if (b[at + label_index] >= classes) return std::nullopt;
    d.labels.push_back(b[at + label_index]);
    d.pixels.insert(d.pixels.end(), b.begin() + at + label_bytes, b.begin() + at + rec);
  }
  return d;
}

std::optional<Dataset> ref_qtimg(const Bytes& b) {
  if (b.size() < 32 || std::string(b.begin(), b.begin() + 8) != "QTIMG001") return std::nullopt;
  if (le(b, 28, 4) != crc32(0L, b.data(), 28)) return std::nullopt;
  const uint64_t n = le(b, 8, 8), c = le(b, 16, 2), h = le(b, 18, 2), w = le(b, 20, 2),
                 k = le(b, 22, 2);
  if (n == 0 || c == 0 || h == 0 || w == 0 || k < 2 || le(b, 24, 4) != 0) return std::nullopt;
  const uint64_t per = 2 + c * h * w;
  if ((b.size() - 32) % per != 0 || (b.size() - 32) / per != n) return std::nullopt;
  Dataset d;
  d.channels = static_cast<int>(c);
  d.height = static_cast<int>(h);
  d.width = static_cast<int>(w);
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t y = le(b, 32 + 2 * i, 2);
    if (y >= k) return std::nullopt;
    d.labels.push_back(static_cast<int32_t>(y));
  }
  d.pixels.assign(b.begin() + 32 + 2 * n, b.end());
  return d;
}

struct Mutation {
  std::string what;
  Bytes bytes;
};

// A gzip file of `head` followed by `mib` MiB of zero bytes, a few megabytes holding gigabytes:
// after a full flush a deflate block does not refer to what came before, so one compressed MiB
// of zeros is repeated rather than compressing every MiB here. The trailer's CRC-32 and length
// are those of the whole content: the file is valid gzip.
Bytes gzip_of_zeros(const Bytes& head, uint64_t mib) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  auto deflate_part = [&](const Bytes& in, int flush) {
    Bytes out(deflateBound(&z, in.size()) + 64);
    z.next_in = const_cast<uint8_t*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, flush) != Z_STREAM_ERROR);
    REQUIRE(z.avail_in == 0);
    out.resize(out.size() - z.avail_out);
    return out;
  };
  const Bytes zeros(size_t{1} << 20, 0);
  const Bytes first = deflate_part(head, Z_FULL_FLUSH);
  const Bytes block = deflate_part(zeros, Z_FULL_FLUSH);
  REQUIRE(deflate_part(zeros, Z_FULL_FLUSH) == block);
  const Bytes last = deflate_part({}, Z_FINISH);
  deflateEnd(&z);
  uLong crc = crc32(0L, head.data(), static_cast<uInt>(head.size()));
  const uLong crc_mib = crc32(0L, zeros.data(), static_cast<uInt>(zeros.size()));
  for (uint64_t k = 0; k < mib; ++k) crc = crc32_combine(crc, crc_mib, zeros.size());
  const uint64_t total = head.size() + (mib << 20);
  Bytes gz = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  gz.insert(gz.end(), first.begin(), first.end());
  gz.reserve(gz.size() + mib * block.size() + 64);
  for (uint64_t k = 0; k < mib; ++k) gz.insert(gz.end(), block.begin(), block.end());
  gz.insert(gz.end(), last.begin(), last.end());
  for (int i = 0; i < 4; ++i) gz.push_back(static_cast<uint8_t>(crc >> (8 * i)));
  for (int i = 0; i < 4; ++i) gz.push_back(static_cast<uint8_t>(total >> (8 * i)));
  return gz;
}

// Truncations at every byte of the header and through the payload, bit flips in the header
// and at random payload bytes, header fields set to edge values, appended bytes.
std::vector<Mutation> mutate(const Bytes& base, size_t header, const std::vector<size_t>& fields,
                             int field_width, bool big_endian, uint64_t seed) {
  std::vector<Mutation> out;
  Rng rng(seed);
  for (size_t len = 0; len <= header + 1 && len < base.size(); ++len)
    out.push_back({"truncate to " + std::to_string(len), Bytes(base.begin(), base.begin() + len)});
  for (int k = 1; k <= 8; ++k) {
    const size_t len = header + (base.size() - header) * k / 9;
    out.push_back({"truncate to " + std::to_string(len), Bytes(base.begin(), base.begin() + len)});
  }
  out.push_back({"drop the last byte", Bytes(base.begin(), base.end() - 1)});
  for (size_t i = 0; i < header; ++i) {
    Bytes b = base;
    b[i] ^= static_cast<uint8_t>(1u << (i % 8));
    out.push_back({"flip a bit of header byte " + std::to_string(i), b});
  }
  for (int k = 0; k < 12; ++k) {
    Bytes b = base;
    const size_t at = header + rng.below(base.size() - header);
    b[at] ^= static_cast<uint8_t>(1u << rng.below(8));
    out.push_back({"flip a bit of byte " + std::to_string(at), b});
  }
  const uint64_t edges[] = {0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF};
  for (size_t f : fields) {
    const uint64_t v = big_endian ? be(base, f, field_width) : le(base, f, field_width);
    std::vector<uint64_t> values(std::begin(edges), std::end(edges));
    values.push_back(v - 1);
    values.push_back(v + 1);
    values.push_back(v * 2);
    for (uint64_t nv : values) {
      Bytes b = base;
      for (int i = 0; i < field_width; ++i) {
        const int shift = 8 * (big_endian ? field_width - 1 - i : i);
        b[f + i] = static_cast<uint8_t>(shift < 64 ? nv >> shift : 0);
      }
      out.push_back(
          {"set the field at byte " + std::to_string(f) + " to " + std::to_string(nv), b});
    }
  }
  Bytes one = base;
  one.push_back(0);
  out.push_back({"append a byte", one});
  Bytes dbl = base;
  dbl.insert(dbl.end(), base.begin() + header, base.end());
  out.push_back({"append the payload again", dbl});
  return out;
}

// gzip damage: truncations, flips in the gzip header, the deflate data and the trailer.
std::vector<Mutation> mutate_gzip(const Bytes& gz, uint64_t seed) {
  std::vector<Mutation> out;
  Rng rng(seed);
  for (int k = 0; k < 14; ++k) {
    const size_t len =
        k < 10 ? static_cast<size_t>(k) * 2 : gz.size() - 1 - rng.below(gz.size() - 20);
    out.push_back(
        {"gzip truncated to " + std::to_string(len), Bytes(gz.begin(), gz.begin() + len)});
  }
  for (int k = 0; k < 24; ++k) {
    Bytes b = gz;
    const size_t at = k < 10 ? static_cast<size_t>(k)
                             : (k < 16 ? gz.size() - 1 - (k - 10) : rng.below(gz.size()));
    b[at] ^= static_cast<uint8_t>(1u << rng.below(8));
    out.push_back({"gzip bit flip at byte " + std::to_string(at), b});
  }
  Bytes trailing = gz;
  trailing.push_back(0x1f);
  out.push_back({"gzip + one byte", trailing});
  return out;
}

int g_cases = 0, g_loaded = 0;  // per test case: mutated files checked, and those that loaded

// The file written from `m` must load exactly as `expect` says (or fail when it is nullopt);
// with `exact_or_fail`, any failure is accepted but a success must equal `expect`.
void check(const std::string& path, const Mutation& m, const std::function<Dataset()>& load,
           const std::optional<Dataset>& expect, bool exact_or_fail = false) {
  ++g_cases;
  INFO(path << ": " << m.what);
  std::optional<Dataset> got;
  std::string msg;
  try {
    got = load();
  } catch (const DataError& e) {
    msg = e.what();
  }
  if (got) {
    ++g_loaded;
    REQUIRE_MESSAGE(expect.has_value(), "loaded, but the bytes are not a valid file");
    CHECK(got->pixels == expect->pixels);
    CHECK(got->labels == expect->labels);
    CHECK(got->sample_shape() == expect->sample_shape());
  } else {
    INFO("message: " << msg);
    if (!exact_or_fail) CHECK_MESSAGE(!expect.has_value(), "failed on a valid file");
    CHECK(msg.find(path) != std::string::npos);
    const bool explains =
        msg.find("expected") != std::string::npos && msg.find("found") != std::string::npos;
    CHECK(explains);
  }
}

}  // namespace

// Counts the cases of one test, and checks that both outcomes (loaded, refused) occurred.
struct CaseCount {
  int minimum;
  explicit CaseCount(int min) : minimum(min) { g_cases = g_loaded = 0; }
  ~CaseCount() {
    MESSAGE(g_cases << " mutated files checked, " << g_loaded << " loaded, " << g_cases - g_loaded
                    << " refused");
    CHECK(g_cases >= minimum);
    CHECK(g_loaded > 0);
    CHECK(g_loaded < g_cases);
  }
};

TEST_CASE("fuzz: IDX image and label files, raw and gzip") {
  CaseCount count(200);
  TempDir tmp;
  const Dataset d = random_dataset(1, 5, 4, 10, 9, 41);
  const Bytes img = idx_images_bytes(d), lab = idx_labels_bytes(d);
  const std::string ip = tmp.file("images"), lp = tmp.file("labels");
  auto load = [&] { return read_idx(ip, lp, 10); };
  for (const Mutation& m : mutate(img, 16, {4, 8, 12}, 4, true, 1)) {
    write_bytes(ip, m.bytes);
    write_bytes(lp, lab);
    check(ip, m, load, ref_idx(m.bytes, lab, 10));
  }
  for (const Mutation& m : mutate(lab, 8, {4}, 4, true, 2)) {
    write_bytes(ip, img);
    write_bytes(lp, m.bytes);
    check(lp, m, load, ref_idx(img, m.bytes, 10));
  }
  // Damaged gzip: a success must be the original data (the CRC-32 guards the content).
  for (const Mutation& m : mutate_gzip(gzip_bytes(img), 3)) {
    write_bytes(ip, m.bytes);
    write_bytes(lp, lab);
    check(ip, m, load, ref_idx(img, lab, 10), true);
  }
  for (const Mutation& m : mutate_gzip(gzip_bytes(lab), 4)) {
    write_bytes(ip, img);
    write_bytes(lp, m.bytes);
    check(lp, m, load, ref_idx(img, lab, 10), true);
  }
  // Valid gzip of mutated content: the content rules apply through the decompression.
  for (const Mutation& m : mutate(img, 16, {4, 8, 12}, 4, true, 5)) {
    write_bytes(ip, gzip_bytes(m.bytes));
    write_bytes(lp, lab);
    if (m.bytes.empty()) continue;  // an empty gzip stream is covered by the raw case
    check(ip, m, load, ref_idx(m.bytes, lab, 10));
  }
}

TEST_CASE("fuzz: CIFAR-10 and CIFAR-100 files") {
  CaseCount count(100);
  TempDir tmp;
  const Dataset d10 = random_dataset(3, 32, 32, 10, 3, 42);
  const Bytes b10 = cifar_bytes(d10);
  const std::string p10 = tmp.file("data_batch_1.bin");
  // Label bytes sit at the start of every record: edit them as header fields.
  for (const Mutation& m : mutate(b10, 1, {0, 3073, 6146}, 1, true, 6)) {
    write_bytes(p10, m.bytes);
    check(
        p10, m, [&] { return read_cifar10({p10}); }, ref_cifar(m.bytes, 1, 0, 10));
  }
  const Dataset d100 = random_dataset(3, 32, 32, 100, 3, 43);
  std::vector<int32_t> coarse = {0, 19, 7};
  const Bytes b100 = cifar_bytes(d100, &coarse);
  const std::string p100 = tmp.file("train.bin");
  for (const Mutation& m : mutate(b100, 2, {0, 1, 3074, 3075}, 1, true, 7)) {
    write_bytes(p100, m.bytes);
    check(
        p100, m, [&] { return read_cifar100(p100, true); }, ref_cifar(m.bytes, 2, 1, 100));
    check(
        p100, m, [&] { return read_cifar100(p100, false); }, ref_cifar(m.bytes, 2, 0, 20));
  }
}

TEST_CASE("fuzz: qtimg files") {
  CaseCount count(100);
  TempDir tmp;
  const Dataset d = random_dataset(2, 3, 5, 300, 6, 44);
  const Bytes b = qtimg_bytes(d);
  const std::string p = tmp.file("train.qtimg");
  // Field edits with the CRC left stale, then with the CRC fixed so the sizes are tested too.
  for (const Mutation& m : mutate(b, 32, {8, 16, 18, 20, 22, 24}, 2, false, 8)) {
    write_bytes(p, m.bytes);
    check(
        p, m, [&] { return read_qtimg(p); }, ref_qtimg(m.bytes));
    if (m.bytes.size() >= 32) {
      Mutation fixed = m;
      const uint32_t crc = static_cast<uint32_t>(crc32(0L, fixed.bytes.data(), 28));
      for (int i = 0; i < 4; ++i) fixed.bytes[28 + i] = static_cast<uint8_t>(crc >> (8 * i));
      fixed.what += ", CRC fixed";
      write_bytes(p, fixed.bytes);
      check(
          p, fixed, [&] { return read_qtimg(p); }, ref_qtimg(fixed.bytes));
    }
  }
}

TEST_CASE("gzip bombs: content past the header's size is refused without inflating it") {
  TempDir tmp;
  const std::string ip = tmp.file("images.gz"), lp = tmp.file("labels"), qp = tmp.file("x.qtimg");
  // 10 images of 32×32 as the headers say; a labels file to match.
  const Dataset d = random_dataset(1, 32, 32, 10, 10, 45);
  const Bytes idx = idx_images_bytes(d);
  const Bytes idx_head(idx.begin(), idx.begin() + 16);
  write_bytes(lp, idx_labels_bytes(d));
  // The construction is valid gzip: 2048 images of 32×32 zeros load.
  Bytes head2 = idx_head;
  head2[6] = 0x08, head2[7] = 0x00;  // N = 2048
  write_bytes(ip, gzip_of_zeros(head2, 2));
  Dataset z;
  z.channels = 1, z.height = z.width = 32, z.classes = 10;
  z.pixels.assign(2048 * 1024, 0);
  z.labels.assign(2048, 0);
  write_bytes(tmp.file("zeros-labels"), idx_labels_bytes(z));
  const Dataset loaded = read_idx(ip, tmp.file("zeros-labels"), 10);
  CHECK(loaded.pixels == z.pixels);

  // 8 GiB of zeros after 10 images' worth: refused at the first byte past them.
  const Bytes bomb = gzip_of_zeros(idx_head, 8192);
  CHECK(bomb.size() < (size_t{16} << 20));
  write_bytes(ip, bomb);
  auto start = std::chrono::steady_clock::now();
  try {
    read_idx(ip, lp, 10);
    FAIL("the gzip bomb loaded");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("unexpected data: expected the end of the file after 10 images") !=
          std::string::npos);
    CHECK(m.find("byte offset 10256") != std::string::npos);
    CHECK(m.find("the rest was not decompressed") != std::string::npos);
  }
  // Inflating 8 GiB takes many seconds; stopping at the declared size, milliseconds.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));

  // The same for qtimg, and for a header that declares 10 images and is followed by nothing
  // but the bomb's zeros as its labels and pixels.
  const Bytes q = qtimg_bytes(d);
  write_bytes(qp, gzip_of_zeros(Bytes(q.begin(), q.begin() + 32), 8192));
  start = std::chrono::steady_clock::now();
  try {
    read_qtimg(qp);
    FAIL("the gzip bomb loaded");
  } catch (const DataError& e) {
    CHECK(std::string(e.what()).find("the rest was not decompressed") != std::string::npos);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));

  // A header that claims more than deflate could expand the file to: refused before reading.
  Bytes huge = idx_head;
  huge[4] = 0x10, huge[5] = huge[6] = huge[7] = 0;  // N = 2^28 images of 1 KiB: 256 GiB
  write_bytes(ip, gzip_of_zeros(huge, 1));
  try {
    read_idx(ip, lp, 10);
    FAIL("the lying header loaded");
  } catch (const DataError& e) {
    CHECK(std::string(e.what()).find("cannot hold that much") != std::string::npos);
  }

  // A gzip file with no header size (a CIFAR batch, a hash of the content) still reads to the end
  // of the stream: ByteReader checks the CRC and length there.
  write_bytes(ip, gzip_of_zeros(idx_head, 3));
  ByteReader in(ip, "a test file");
  std::vector<uint8_t> all;
  in.read_append(all, 16 + (uint64_t{3} << 20), "everything");
  in.expect_end("everything");
  CHECK(all.size() == 16 + (size_t{3} << 20));
}
