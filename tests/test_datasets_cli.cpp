// `qtrain datasets list | info | verify`, in process through CLI11 and through the real binary
// for the exit codes (2 = usage, 3 = data).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "app/cli/cmd_datasets.h"
#include "datasets/dataset_writers.h"
#include "datasets/verify.h"
#include "engine/core/error.h"
#include "test_datasets_fixtures.h"

using namespace qt;
using qt::testing::random_dataset;
using qt::testing::TempDir;

namespace {

std::string run(std::vector<std::string> args) {
  std::ostringstream out;
  CLI::App app{"test"};
  add_datasets_command(app, out);
  args.insert(args.begin(), "qtrain");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return out.str();
}

// Runs a command that must fail with a DataError; returns what it printed before failing.
std::string run_failing(std::vector<std::string> args) {
  std::ostringstream out;
  CLI::App app{"test"};
  add_datasets_command(app, out);
  args.insert(args.begin(), "qtrain");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  CHECK_THROWS_AS(app.parse(static_cast<int>(argv.size()), argv.data()), DataError);
  return out.str();
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A CIFAR-10 directory of 2 × 4 training records and 3 test records.
void write_cifar10(const std::string& dir) {
  std::filesystem::create_directories(dir);
  for (int i = 1; i <= 5; ++i)
    write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin",
                cifar_bytes(random_dataset(3, 32, 32, 10, 4, i)));
  write_bytes(dir + "/test_batch.bin", cifar_bytes(random_dataset(3, 32, 32, 10, 3, 9)));
}

}  // namespace

TEST_CASE("datasets list: what is found where") {
  TempDir tmp;
  write_cifar10(tmp.file("cifar-10-batches-bin"));
  const std::string out = run({"datasets", "list", "--data-dir", tmp.path.string()});
  CHECK(has(out, "cifar10        found in " + tmp.file("cifar-10-batches-bin")));
  CHECK(has(out, "mnist          not found (train-images-idx3-ubyte.gz)"));
  CHECK(has(out, "synthetic      built in"));
}

TEST_CASE("datasets info: counts per split, class balance, shape, mean/std") {
  TempDir tmp;
  write_cifar10(tmp.file("cifar10"));
  const std::string out =
      run({"datasets", "info", "cifar10", "--data-dir", tmp.path.string(), "--val-size", "5"});
  INFO(out);
  CHECK(has(out, "shape:   3×32×32, 10 classes"));
  CHECK(has(out, "train  15 "));
  CHECK(has(out, "val    5 "));
  CHECK(has(out, "test   3 "));
  CHECK(has(out, "0 airplane"));
  CHECK(has(out, "0.4914 / 0.2470"));  // the standard constants
  const std::string js = run({"datasets", "info", "synthetic", "--synthetic-shape", "2,3,4",
                              "--synthetic-size", "50,10", "--synthetic-classes", "3", "--json"});
  CHECK(has(js, "\"shape\": [\n    2,\n    3,\n    4\n  ]"));
  CHECK(has(js, "\"samples\": 45"));  // a tenth held out
  CHECK_THROWS_AS(run({"datasets", "info", "cifar11"}), UsageError);
  CHECK_THROWS_AS(run({"datasets", "info", "mnist", "--data-dir", tmp.path.string()}), DataError);
}

TEST_CASE("datasets verify: intact, damaged, and the official digests") {
  TempDir tmp;
  write_cifar10(tmp.file("cifar10"));
  std::string out = run_failing({"datasets", "verify", "--data-dir", tmp.path.string()});
  CHECK(has(out, "ok      headers, sizes and label ranges: train 20, test 3"));
  CHECK(has(out, "FAILED  train count: expected 50000, found 20"));  // not the real CIFAR-10
  CHECK(has(out, "mnist: not found, skipped"));
  // A damaged file: the reader's message appears, and the command fails.
  std::vector<uint8_t> b = read_bytes(tmp.file("cifar10/data_batch_3.bin"));
  b[3073] = 200;
  write_bytes(tmp.file("cifar10/data_batch_3.bin"), b);
  out = run_failing({"datasets", "verify", "cifar10", "--data-dir", tmp.path.string()});
  CHECK(has(out, "FAILED  " + tmp.file("cifar10/data_batch_3.bin") + ": label out of range"));
  // Not found by name: an error; not found while scanning everything: skipped.
  CHECK_THROWS_AS(run({"datasets", "verify", "mnist", "--data-dir", tmp.file("none")}), DataError);
}

TEST_CASE("SHA-256: the standard test vectors and the content of gzip files") {
  TempDir tmp;
  write_bytes(tmp.file("abc"), {'a', 'b', 'c'});
  CHECK(content_sha256(tmp.file("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  write_bytes(tmp.file("two"), std::vector<uint8_t>(two.begin(), two.end()));
  CHECK(content_sha256(tmp.file("two")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::vector<uint8_t> million(1000000, 'a');
  write_bytes(tmp.file("m.gz"), gzip_bytes(million));  // hashed after decompression
  CHECK(content_sha256(tmp.file("m.gz")) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("the qtrain binary: exit code 3 for bad data, 2 for a bad name") {
  const char* bin = std::getenv("QTRAIN_BIN");
  REQUIRE_MESSAGE(bin != nullptr, "run through ctest, which sets QTRAIN_BIN");
  TempDir tmp;
  write_cifar10(tmp.file("cifar10"));
  write_bytes(tmp.file("cifar10/test_batch.bin"), {1, 2, 3});
  auto status = [&](const std::string& args) {
    const std::string cmd =
        std::string(bin) + " " + args + " >" + tmp.file("out") + " 2>" + tmp.file("err");
    const int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  CHECK(status("datasets info cifar10 --data-dir " + tmp.path.string()) == 3);
  const std::vector<uint8_t> err = read_bytes(tmp.file("err"));
  const std::string msg(err.begin(), err.end());
  CHECK(has(msg, tmp.file("cifar10/test_batch.bin") + ": size is not a whole number of records"));
  CHECK(status("datasets info no-such-set") == 2);
  CHECK(status("datasets list --data-dir " + tmp.path.string()) == 0);
}
