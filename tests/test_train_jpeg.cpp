// `qtrain train --dataset imagenet-folder` as a user runs it: a ResNet-18 on a small JPEG folder
// (32×32 crops to stay fast) that holds broken files, with the skipped ones logged once and
// counted in metrics.jsonl; and --bad-image fail stopping at the first broken file, exit code 3.
#include "datasets/jpeg_decode.h"
#include "test_jpeg_folder.h"
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

std::vector<std::string> train_args(const fs::path& data, const fs::path& out) {
  return {qtrain_bin(),   "train",       "--model",      "resnet18", "--dataset", "imagenet-folder",
          "--data-dir",   data.string(), "--image-size", "32",       "--epochs",  "1",
          "--batch-size", "8",           "--threads",    "2",        "--out",     out.string()};
}

}  // namespace

TEST_CASE("qtrain train on a JPEG folder: skipped files logged and counted; fail stops") {
  if (!qt::jpeg_available()) return;
  const fs::path dir = scratch("train-jpeg");
  Cleanup cleanup{dir};
  qt::testing::write_jpeg_folder(dir / "data", true);
  Result r = run(train_args(dir / "data", dir / "run"));
  INFO(r.output);
  REQUIRE(r.code == 0);
  const std::vector<json> recs = metrics(dir / "run");
  REQUIRE(recs.size() == 1);
  // 4 broken files of the 14 training images, none among the 8 of val/.
  CHECK(recs[0]["data"]["skipped_images"] == 4);
  CHECK(recs[0]["data"]["eval_skipped_images"] == 0);
  CHECK(recs[0]["test_acc"].is_number());
  const std::string log = slurp(dir / "run" / "log.txt");
  CHECK(count(log, "bad image: ") == 4);
  CHECK(count(log, "g_empty.JPEG: an empty file") == 1);
  const json cfg = read_json(dir / "run" / "config.json");
  CHECK(cfg["data"]["image_size"] == 32);
  CHECK(cfg["data"]["bad_image"] == "skip");

  std::vector<std::string> args = train_args(dir / "data", dir / "run-fail");
  args.insert(args.end(), {"--bad-image", "fail"});
  r = run(args);
  CHECK(r.code == 3);
  // Which broken file comes first depends on the shuffle; each names itself and the other policy.
  CHECK(r.output.find("qtrain: error: " + (dir / "data" / "train" / "red").string()) !=
        std::string::npos);
  CHECK(r.output.find("--bad-image skip") != std::string::npos);
}

TEST_CASE("qtrain datasets list and info on a JPEG folder") {
  if (!qt::jpeg_available()) return;
  const fs::path dir = scratch("info-jpeg");
  Cleanup cleanup{dir};
  qt::testing::write_jpeg_folder(dir, false);
  Result r = run({qtrain_bin(), "datasets", "list", "--data-dir", dir.string()});
  CHECK(r.code == 0);
  CHECK(r.output.find("imagenet-folder found in " + dir.string()) != std::string::npos);
  r = run({qtrain_bin(), "datasets", "info", "imagenet-folder", "--data-dir", dir.string()});
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(r.output.find("3×224×224, 2 classes") != std::string::npos);
  CHECK(r.output.find("1 red") != std::string::npos);
}
