// Every kind of bad input named in the issue gets one clear DataError naming the file, what was
// expected and what was found (and the byte offset where it helps); never a crash, a hang, an
// allocation sized by a lying header, or a silently shortened dataset.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>

#include "datasets/cifar_reader.h"
#include "datasets/dataset_writers.h"
#include "datasets/idx_reader.h"
#include "datasets/qtimg_reader.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "test_datasets_fixtures.h"

using namespace qt;
using qt::testing::random_dataset;
using qt::testing::TempDir;

namespace {

// Runs `load`, requires a DataError, and checks that its message holds every one of `parts`.
void expect_error(const std::function<void()>& load, const std::vector<std::string>& parts) {
  std::string msg;
  try {
    load();
  } catch (const DataError& e) {
    msg = e.what();
  }
  INFO("message: " << msg);
  REQUIRE_FALSE(msg.empty());
  for (const std::string& p : parts)
    CHECK_MESSAGE(msg.find(p) != std::string::npos, "missing '" << p << "'");
  CHECK(msg.find('\n') == std::string::npos);  // one line
}

void set_be32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

struct IdxFiles {
  TempDir tmp;
  Dataset d = random_dataset(1, 6, 5, 10, 12, 21);
  std::string img = tmp.file("img"), lab = tmp.file("lab");
  IdxFiles() {
    write_bytes(img, idx_images_bytes(d));
    write_bytes(lab, idx_labels_bytes(d));
  }
  Dataset load() const { return read_idx(img, lab, 10); }
};

}  // namespace

TEST_CASE("truncated files: raw and gzip, with the offset where the data ends") {
  IdxFiles f;
  std::vector<uint8_t> b = idx_images_bytes(f.d);
  b.resize(100);
  write_bytes(f.img, b);
  expect_error([&] { f.load(); }, {f.img, "truncated", "expected 12 images of 6×5 pixels",
                                   "byte offset 16", "found 84 bytes"});
  b.resize(10);  // inside the header
  write_bytes(f.img, b);
  expect_error([&] { f.load(); },
               {f.img, "truncated", "dimension 1", "byte offset 8", "found 2 bytes"});

  std::vector<uint8_t> gz = gzip_bytes(idx_images_bytes(f.d));
  gz.resize(gz.size() - 12);  // cut into the deflate data
  write_bytes(f.img, gz);
  expect_error([&] { f.load(); },
               {f.img, "truncated gzip stream", "compressed byte offset", "expected", "found"});
  gz = gzip_bytes(idx_images_bytes(f.d));
  gz.resize(gz.size() - 3);  // only the trailer's length field is cut
  write_bytes(f.img, gz);
  expect_error([&] { f.load(); }, {f.img, "truncated gzip stream"});
}

TEST_CASE("wrong magic numbers") {
  IdxFiles f;
  expect_error([&] { read_idx(f.lab, f.img, 10); },
               {f.lab, "wrong magic number at byte offset 0", "expected 0x00000803",
                "found 0x00000801 (IDX labels)"});
  std::vector<uint8_t> b = idx_images_bytes(f.d);
  b[2] = 0x0D;  // IDX floats
  write_bytes(f.img, b);
  expect_error([&] { f.load(); }, {f.img, "found 0x00000D03 (IDX, but not unsigned bytes)"});
  write_bytes(f.img, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  expect_error([&] { f.load(); },
               {f.img, "wrong magic", "expected 0x00000803", "found 0x68656C6C"});

  TempDir tmp;
  const Dataset d = random_dataset(3, 4, 4, 5, 3, 22);
  std::vector<uint8_t> q = qtimg_bytes(d);
  q[0] = 'X';
  write_bytes(tmp.file("x.qtimg"), q);
  expect_error([&] { read_qtimg(tmp.file("x.qtimg")); },
               {tmp.file("x.qtimg"), "wrong magic", "expected \"QTIMG001\"", "found 58"});
}

TEST_CASE("image/label count mismatch") {
  IdxFiles f;
  Dataset fewer = f.d;
  fewer.labels.pop_back();
  write_bytes(f.lab, idx_labels_bytes(fewer));
  expect_error([&] { f.load(); },
               {f.lab, "count mismatch", "expected 12 labels", f.img, "found 11"});
}

TEST_CASE("labels outside the class range, in every format") {
  IdxFiles f;
  std::vector<uint8_t> b = idx_labels_bytes(f.d);
  b[8 + 5] = 10;
  write_bytes(f.lab, b);
  expect_error([&] { f.load(); }, {f.lab, "label out of range at byte offset 13 (sample 5)",
                                   "expected a class in [0, 10)", "found 10"});

  TempDir tmp;
  Dataset c = random_dataset(3, 32, 32, 10, 3, 23);
  c.labels[2] = 10;
  write_bytes(tmp.file("data_batch_1.bin"), cifar_bytes(c));
  expect_error([&] { read_cifar10({tmp.file("data_batch_1.bin")}); },
               {tmp.file("data_batch_1.bin"), "byte offset 6146 (record 2)",
                "expected a class in [0, 10)", "found 10"});

  Dataset fine = random_dataset(3, 32, 32, 100, 2, 24);
  std::vector<int32_t> coarse = {3, 20};
  write_bytes(tmp.file("train.bin"), cifar_bytes(fine, &coarse));
  CHECK(read_cifar100(tmp.file("train.bin"), true).size() == 2);  // fine labels are fine
  expect_error([&] { read_cifar100(tmp.file("train.bin"), false); },
               {tmp.file("train.bin"), "byte offset 3074 (record 1)", "[0, 20)", "found 20"});

  Dataset q = random_dataset(1, 2, 2, 5, 4, 25);
  q.labels[1] = 7;
  write_bytes(tmp.file("t.qtimg"), qtimg_bytes(q));
  expect_error([&] { read_qtimg(tmp.file("t.qtimg")); },
               {tmp.file("t.qtimg"), "byte offset 34 (image 1)", "[0, 5)", "found 7"});
}

TEST_CASE("corrupt gzip streams") {
  IdxFiles f;
  std::vector<uint8_t> gz = gzip_bytes(idx_images_bytes(f.d));
  gz[gz.size() / 2] ^= 0xFF;
  write_bytes(f.img, gz);
  expect_error([&] { f.load(); }, {f.img, "corrupt gzip stream at compressed byte offset",
                                   "expected valid deflate data", "found"});
  gz = gzip_bytes(idx_images_bytes(f.d));
  gz[gz.size() - 6] ^= 1;  // the CRC-32 of the content
  write_bytes(f.img, gz);
  expect_error([&] { f.load(); }, {f.img, "corrupt gzip stream", "incorrect data check"});
  gz = gzip_bytes(idx_images_bytes(f.d));
  gz.push_back(0);
  gz.push_back(0);
  write_bytes(f.img, gz);
  expect_error([&] { f.load(); }, {f.img, "after the end of the gzip stream",
                                   "expected the end of the file", "found 2 more bytes"});
}

TEST_CASE("empty files, missing files and directories where a file should be") {
  IdxFiles f;
  write_bytes(f.lab, {});
  expect_error([&] { f.load(); },
               {f.lab, "empty file", "expected an IDX label file", "found 0 bytes"});
  std::filesystem::remove(f.lab);
  expect_error([&] { f.load(); },
               {f.lab, "not found", "expected an IDX label file", "found no such file"});
  std::filesystem::create_directory(f.lab);
  expect_error([&] { f.load(); },
               {f.lab, "is a directory", "expected an IDX label file", "found a directory"});

  // Through the registry: the dataset's directory exists, one file in it is a directory.
  TempDir tmp;
  const std::string dir = tmp.file("cifar-100-binary");
  std::filesystem::create_directories(dir + "/test.bin");
  const Dataset d = random_dataset(3, 32, 32, 100, 2, 26);
  std::vector<int32_t> coarse = {1, 2};
  write_bytes(dir + "/train.bin", cifar_bytes(d, &coarse));
  DataRequest req;
  req.name = "cifar100";
  req.data_dir = tmp.path.string();
  req.val_size = 0;
  expect_error([&] { load_splits(req); }, {dir + "/test.bin", "is a directory"});
}

TEST_CASE("a CIFAR file that is not a whole number of records") {
  TempDir tmp;
  std::vector<uint8_t> b = cifar_bytes(random_dataset(3, 32, 32, 10, 2, 27));
  b.resize(b.size() - 1);
  write_bytes(tmp.file("data_batch_1.bin"), b);
  expect_error([&] { read_cifar10({tmp.file("data_batch_1.bin")}); },
               {tmp.file("data_batch_1.bin"), "not a whole number of records",
                "expected a multiple of 3073 bytes", "found 6145 bytes = 1 records + 3072 bytes"});
  write_bytes(tmp.file("c.bin.gz"), gzip_bytes(b));  // the same, learnt only while reading
  expect_error([&] { read_cifar10({tmp.file("c.bin.gz")}); },
               {tmp.file("c.bin.gz"), "found 6145 bytes"});
  // CIFAR-100 records are one byte longer: a CIFAR-10 file given as CIFAR-100 is refused.
  b = cifar_bytes(random_dataset(3, 32, 32, 10, 3, 28));
  write_bytes(tmp.file("train.bin"), b);
  expect_error([&] { read_cifar100(tmp.file("train.bin"), true); },
               {"expected a multiple of 3074 bytes"});
}

TEST_CASE("lying headers are refused before anything is allocated") {
  IdxFiles f;
  std::vector<uint8_t> b = idx_images_bytes(f.d);
  set_be32(b, 4, 0xFFFFFFFFu);  // 4 billion images of 6×5: 128 GB
  write_bytes(f.img, b);
  expect_error([&] { f.load(); },
               {f.img, "truncated", "expected 4294967295 images", "found 360 bytes"});
  write_bytes(f.img, gzip_bytes(b));
  expect_error([&] { f.load(); }, {f.img, "cannot hold that much"});
  set_be32(b, 4, 1000);  // a gzip file that lies within what it could hold: read, then refused
  write_bytes(f.img, gzip_bytes(b));
  expect_error([&] { f.load(); }, {f.img, "truncated (uncompressed content)", "found 360 bytes"});
  set_be32(b, 4, 0xFFFFFFFFu);
  set_be32(b, 8, 65535);  // N·H·W = 2^64 − …: would overflow 64 bits if multiplied unchecked
  set_be32(b, 12, 65535);
  write_bytes(f.img, b);
  expect_error([&] { f.load(); },
               {f.img, "expected at most 2^48 bytes of images", "found 4294967295 images"});
  set_be32(b, 4, 12);
  set_be32(b, 12, 5);
  set_be32(b, 8, 70000);  // an image side beyond any use
  write_bytes(f.img, b);
  expect_error([&] { f.load(); }, {f.img, "expected an image side ≤ 65535", "found 70000"});

  TempDir tmp;
  std::vector<uint8_t> q = qtimg_bytes(random_dataset(3, 4, 4, 5, 3, 29));
  const std::vector<uint8_t> h = qtimg_header(uint64_t{1} << 62, 3, 4, 4, 5);  // CRC made to match
  std::copy(h.begin(), h.end(), q.begin());
  write_bytes(tmp.file("l.qtimg"), q);
  expect_error([&] { read_qtimg(tmp.file("l.qtimg")); },
               {tmp.file("l.qtimg"), "truncated", "as the header says"});
  q[9] ^= 1;  // an edit the header CRC catches
  write_bytes(tmp.file("l.qtimg"), q);
  expect_error([&] { read_qtimg(tmp.file("l.qtimg")); }, {"corrupt header", "CRC-32"});
}

TEST_CASE("data after the end: the header undercounts, nothing is silently dropped") {
  IdxFiles f;
  std::vector<uint8_t> b = idx_images_bytes(f.d);
  b.push_back(7);
  write_bytes(f.img, b);
  expect_error([&] { f.load(); },
               {f.img, "unexpected data", "byte offset 376", "found 1 more bytes"});
  write_bytes(f.img, gzip_bytes(b));
  expect_error([&] { f.load(); }, {f.img, "unexpected data", "(uncompressed)"});
}

TEST_CASE("train and test sets that do not match") {
  TempDir tmp;
  const std::string dir = tmp.file("mnist");
  std::filesystem::create_directories(dir);
  const Dataset a = random_dataset(1, 28, 28, 10, 20, 30), b = random_dataset(1, 32, 32, 10, 5, 31);
  write_bytes(dir + "/train-images-idx3-ubyte", idx_images_bytes(a));
  write_bytes(dir + "/train-labels-idx1-ubyte", idx_labels_bytes(a));
  write_bytes(dir + "/t10k-images-idx3-ubyte", idx_images_bytes(b));
  write_bytes(dir + "/t10k-labels-idx1-ubyte", idx_labels_bytes(b));
  DataRequest req;
  req.name = "mnist";
  req.data_dir = dir;
  req.val_size = 2;
  expect_error([&] { load_splits(req); }, {dir + "/t10k-images-idx3-ubyte",
                                           "expected images of [1, 28, 28]", "found [1, 32, 32]"});
  std::filesystem::remove(dir + "/t10k-labels-idx1-ubyte");
  expect_error([&] { load_splits(req); }, {dir + "/t10k-labels-idx1-ubyte.gz", "not found"});
}
