// ImageNet JPEG folders: the listing of both layouts, decoding (colour, greyscale, CMYK) against
// the colours written, the crop boxes, determinism over thread counts, and what bad files do
// under --bad-image skip and fail. The folders are written by the test itself.
#include <doctest/doctest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "datasets/batch_stream.h"
#include "datasets/image_batch.h"
#include "datasets/image_crop.h"
#include "datasets/image_folder.h"
#include "datasets/jpeg_decode.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/core/random.h"
#include "test_datasets_fixtures.h"
#include "test_jpeg_folder.h"

using namespace qt;
using qt::testing::TempDir;
namespace fs = std::filesystem;

namespace {

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The message of the DataError `fn` throws ("" when it throws none).
template <class Fn>
std::string data_error(Fn&& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

DataRequest folder_request(const std::string& dir, int size) {
  DataRequest r;
  r.name = "imagenet-folder";
  r.data_dir = dir;
  r.image_size = size;
  return r;
}

// Pixels scaled to [0, 1], no normalisation.
const Normalization kUnit{{0, 0, 0}, {1, 1, 1}};

// The mean of channel c of sample i of a batch, in 0..255.
double channel_mean(const Batch& b, int64_t i, int c) {
  const int64_t H = b.x.dim(2), W = b.x.dim(3);
  const float* p = b.x.data() + ((i * 3 + c) * H) * W;
  double s = 0;
  for (int64_t k = 0; k < H * W; ++k) s += p[k];
  return 255.0 * s / static_cast<double>(H * W);
}

}  // namespace

TEST_CASE("jpeg: a build without libjpeg-turbo says how to get it") {
  if (jpeg_available()) return;
  TempDir t;
  fs::create_directories(t.path / "train" / "a");
  fs::create_directories(t.path / "val");
  const std::string msg = data_error([&] { load_splits(folder_request(t.path.string(), 32)); });
  CHECK(has(msg, "libjpeg-turbo"));
  CHECK(has(msg, "tools/setup"));
}

TEST_CASE("image folder: classes sorted by folder, files by name, non-images ignored") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, true);
  const ImageFolder f = read_image_folder(t.path.string());
  CHECK(f.train.class_names == std::vector<std::string>{"blue", "red"});
  REQUIRE(f.train.size() == 14);  // 4 blue, 10 red (readme.txt is not an image)
  CHECK(f.val.size() == 8);
  CHECK(fs::path(f.train.files[0]).filename() == "a.JPEG");
  CHECK(fs::path(f.train.files[3]).filename() == "d.JPEG");
  CHECK(fs::path(f.train.files[7]).filename() == "cmyk.JPEG");
  CHECK(fs::path(f.train.files[13]).filename() == "h_image.png");
  CHECK(f.train.labels[3] == 0);
  CHECK(f.train.labels[4] == 1);
  CHECK(f.val.labels == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1});
}

TEST_CASE("image folder: a flat val/ labelled by val_labels.txt or LOC_val_solution.csv") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, false);
  fs::remove_all(t.path / "val");
  const Image blue = qt::testing::test_image(40, 30, {20, 40, 220});
  const Image red = qt::testing::test_image(40, 30, {220, 30, 30});
  qt::testing::write_jpeg(t.path / "val" / "v1.JPEG", red);
  qt::testing::write_jpeg(t.path / "val" / "v2.JPEG", blue);
  qt::testing::write_jpeg(t.path / "val" / "v3.JPEG", red);
  {
    std::ofstream labels(t.path / "val_labels.txt");
    labels << "v1.JPEG red\nv2 0\n\nv3.JPEG,1\n";  // by name, by index, with a comma
  }
  ImageFolder f = read_image_folder(t.path.string());
  CHECK(f.val.labels == std::vector<int32_t>{1, 0, 1});
  // Kaggle's form: a header, names without extension, the class first of the boxes.
  fs::remove(t.path / "val_labels.txt");
  {
    std::ofstream labels(t.path / "LOC_val_solution.csv");
    labels << "ImageId,PredictionString\nv2,blue 1 2 3 4\nv1,red 5 6 7 8 red 1 1 2 2\n"
              "v3,red 0 0 1 1\n";
  }
  f = read_image_folder(t.path.string());
  CHECK(f.val.labels == std::vector<int32_t>{1, 0, 1});

  // A labels file that stops early names the image it lacks.
  {
    std::ofstream labels(t.path / "LOC_val_solution.csv");
    labels << "ImageId,PredictionString\nv1,red 5 6 7 8\n";
  }
  std::string msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, "LOC_val_solution.csv: no line for"));
  CHECK(has(msg, "v2.JPEG"));
  // A line without a class, an unknown class.
  {
    std::ofstream labels(t.path / "LOC_val_solution.csv");
    labels << "v1\n";
  }
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, "line 1: expected \"<image file> <class>\""));
  {
    std::ofstream labels(t.path / "LOC_val_solution.csv");
    labels << "v1 green\n";
  }
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, "class \"green\" is neither a folder of train/"));
  fs::remove(t.path / "LOC_val_solution.csv");
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, "no labels file"));
}

TEST_CASE("image folder: missing folders, empty classes and unknown val classes are refused") {
  if (!jpeg_available()) return;
  TempDir t;
  std::string msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, (t.path / "train").string() + ": not a folder"));
  qt::testing::write_jpeg_folder(t.path, false);
  fs::create_directories(t.path / "train" / "green");
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, (t.path / "train" / "green").string() + ": no image files"));
  fs::remove_all(t.path / "train" / "green");
  qt::testing::write_jpeg(t.path / "val" / "violet" / "x.JPEG",
                          qt::testing::test_image(8, 8, {1, 2, 3}));
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, "violet: a class folder that train/ does not have"));
  fs::remove_all(t.path / "val");
  msg = data_error([&] { read_image_folder(t.path.string()); });
  CHECK(has(msg, (t.path / "val").string() + ": not a folder"));
}

TEST_CASE("crop boxes: torchvision's RandomResizedCrop and Resize + CenterCrop") {
  CropBox c = centre_crop(500, 375, 256, 224, 224);
  CHECK(c.w == doctest::Approx(224.0 * 375 / 256));
  CHECK(c.h == doctest::Approx(224.0 * 375 / 256));
  CHECK(c.x == doctest::Approx((500 - c.w) / 2));
  CHECK(c.y == doctest::Approx((375 - c.h) / 2));
  c = centre_crop(17, 23, 256, 224, 224);  // a small image: most of it, like an upscale would
  CHECK(c.w == doctest::Approx(17.0 * 224 / 256));

  double area_sum = 0;
  const int n = 2000;
  for (int k = 0; k < n; ++k) {
    const CropBox b = random_resized_crop(500, 375, 0.08, derive(7, static_cast<uint64_t>(k)));
    REQUIRE(b.x >= 0);
    REQUIRE(b.y >= 0);
    REQUIRE(b.x + b.w <= 500);
    REQUIRE(b.y + b.h <= 375);
    REQUIRE(b.x == std::floor(b.x));  // whole pixels, as torchvision's
    const double area = b.w * b.h / (500.0 * 375.0);
    CHECK(area >= 0.07);  // 0.08 up to the rounding of w and h
    CHECK(b.w / b.h >= 0.74);
    CHECK(b.w / b.h <= 1.35);
    area_sum += area;
  }
  // Uniform area fractions on [0.08, 1] average 0.54; boxes too large to fit are drawn again,
  // which lowers the mean a little.
  CHECK(area_sum / n > 0.40);
  CHECK(area_sum / n < 0.56);
  // Same key, same box.
  const CropBox a = random_resized_crop(500, 375, 0.08, 99),
                b = random_resized_crop(500, 375, 0.08, 99);
  CHECK(a.x == b.x);
  CHECK(a.w == b.w);
  // A strip too thin for any drawn box: the fallback, the whole width at ratio 3/4, centred.
  const CropBox f = random_resized_crop(10, 1000, 0.08, 3);
  CHECK(f.w == 10);
  CHECK(f.h == 13);
  CHECK(f.y == (1000 - 13) / 2);
}

TEST_CASE("resample_box: the same size is the identity, a shrink averages, a flip mirrors") {
  Image im;
  im.width = 6;
  im.height = 4;
  im.channels = 3;
  for (int i = 0; i < 6 * 4 * 3; ++i) im.pixels.push_back(static_cast<uint8_t>(i * 7 % 251));
  const float scale[3] = {1, 1, 1}, shift[3] = {0, 0, 0};
  std::vector<float> out(3 * 4 * 6);
  resample_box(im, CropBox{0, 0, 6, 4}, 6, 4, false, scale, shift, out.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 6; ++x) CHECK(out[(c * 4 + y) * 6 + x] == im.pixels[(y * 6 + x) * 3 + c]);
  std::vector<float> flipped(out.size());
  resample_box(im, CropBox{0, 0, 6, 4}, 6, 4, true, scale, shift, flipped.data());
  for (int x = 0; x < 6; ++x) CHECK(flipped[x] == out[5 - x]);
  // Halving: each output pixel is a weighted mean of the 2 × 2 block under it and its
  // neighbours, symmetric, so a constant stays constant and a linear ramp stays linear.
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      for (int c = 0; c < 3; ++c)
        im.pixels[(y * 6 + x) * 3 + c] = static_cast<uint8_t>(c == 0 ? 90 : 10 * x);
  std::vector<float> half(3 * 2 * 3);
  resample_box(im, CropBox{0, 0, 6, 4}, 3, 2, false, scale, shift, half.data());
  for (int k = 0; k < 6; ++k) CHECK(half[k] == doctest::Approx(90));
  CHECK(half[6 + 1] == doctest::Approx(25));  // the middle column covers x = 2, 3
  CHECK(half[6 + 1] - half[6 + 0] == doctest::Approx(half[6 + 2] - half[6 + 1]).epsilon(0.2));
}

TEST_CASE("jpeg: colour, greyscale and CMYK files decode to the colours written") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, true);
  DecodeScratch s;
  SampleTransform tr;
  tr.resize = 37;
  tr.out_w = tr.out_h = 32;
  const float scale[3] = {1.0f, 1.0f, 1.0f}, shift[3] = {0, 0, 0};
  std::vector<float> dst(3 * 32 * 32);
  auto mean = [&](int c) {
    double m = 0;
    for (int k = 0; k < 32 * 32; ++k) m += dst[c * 32 * 32 + k];
    return m / (32 * 32);
  };
  struct Case {
    const char* file;
    double r, g, b;
  };
  for (const Case& c : {Case{"a.JPEG", 220, 30, 30}, Case{"b.jpg", 220, 30, 30},
                        Case{"c.jpeg", 220, 30, 30}, Case{"d.JPEG", 220, 30, 30},
                        Case{"grey.JPEG", 128, 128, 128}, Case{"cmyk.JPEG", 220, 30, 30}}) {
    CAPTURE(c.file);
    std::string warning;
    load_sample(s, (t.path / "train" / "red" / c.file).string(), tr, 1, scale, shift, dst.data(),
                warning);
    CHECK(warning.empty());
    // JPEG's chroma quantisation moves a saturated colour by a few levels.
    CHECK(std::abs(mean(0) - c.r) < 6);
    CHECK(std::abs(mean(1) - c.g) < 6);
    CHECK(std::abs(mean(2) - c.b) < 6);
  }
  // A gradient keeps its direction, and a flip mirrors it exactly.
  qt::testing::write_jpeg(t.path / "grad.JPEG", qt::testing::test_image(640, 480, {0, 0, 0}, true));
  std::string warning;
  load_sample(s, (t.path / "grad.JPEG").string(), tr, 1, scale, shift, dst.data(), warning);
  const std::vector<float> plain = dst;
  CHECK(plain[0] < 60);  // left: dark (the centre crop starts at x = 80 of 640)
  CHECK(plain[31] > 195);
  CHECK(plain[31] < 256);
  tr.hflip = true;
  // Find a key whose draw flips: the flip is the only difference then.
  for (uint64_t key = 0; key < 10; ++key) {
    load_sample(s, (t.path / "grad.JPEG").string(), tr, key, scale, shift, dst.data(), warning);
    if (dst[0] == plain[0]) continue;
    for (int x = 0; x < 32; ++x) CHECK(dst[x] == plain[31 - x]);
    break;
  }
}

TEST_CASE("jpeg batches: identical for any thread count; bad files skipped or fatal") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, true);
  DataSplits s = load_splits(folder_request(t.path.string(), 24));
  REQUIRE(s.train.file_backed());
  CHECK(s.train.sample_shape() == Shape{3, 24, 24});
  CHECK(s.train.resize == 27);  // 24 · 256/224, rounded
  CHECK(s.aug.random_resized_crop);
  CHECK(s.aug.hflip);
  CHECK(s.norm.mean == std::vector<float>{0.485f, 0.456f, 0.406f});
  CHECK(s.val.size() == 0);
  CHECK(s.test.size() == 8);

  std::vector<int64_t> all(s.train.size());
  for (int64_t i = 0; i < s.train.size(); ++i) all[i] = i;
  Batch one, two;
  tbb::task_arena(1).execute([&] { make_batch(s.train, all, s.norm, s.aug, 42, one); });
  tbb::task_arena(2).execute([&] { make_batch(s.train, all, s.norm, s.aug, 42, two); });
  REQUIRE(one.x.size() == two.x.size());
  CHECK(std::equal(one.x.data(), one.x.data() + one.x.size(), two.x.data()));
  CHECK(one.y == two.y);
  // 9 (truncated), 10 (not a JPEG), 11 (empty) → 12 (grey, red); 13 (PNG) → 0 (blue).
  REQUIRE(one.problems.size() == 4);
  for (const ImageProblem& p : one.problems) CHECK(p.skipped);
  INFO(one.problems[0].message);
  CHECK(has(one.problems[0].message, "e_truncated_header.JPEG: not a readable JPEG"));
  CHECK(has(one.problems[1].message,
            "f_not_a_jpeg.JPEG: not a JPEG: expected its first bytes "
            "to be ff d8, found 68 65"));
  CHECK(has(one.problems[2].message, "g_empty.JPEG: an empty file"));
  CHECK(has(one.problems[3].message, "h_image.png: a PNG image"));
  CHECK(one.y[9] == 1);
  CHECK(one.y[13] == 0);
  // A replaced sample is its replacement, drawn with the sample's own crop.
  CHECK(channel_mean(one, 9, 0) == doctest::Approx(channel_mean(one, 12, 0)).epsilon(0.2));
  // Another key: other crops.
  Batch other;
  make_batch(s.train, all, s.norm, s.aug, 43, other);
  CHECK(!std::equal(one.x.data(), one.x.data() + one.x.size(), other.x.data()));

  // The evaluation transform: every blue sample is blue.
  make_batch(s.test, std::vector<int64_t>{0, 1, 2, 3, 4}, kUnit, Augmentation{}, 0, one);
  for (int64_t i = 0; i < 4; ++i) {
    CHECK(std::abs(channel_mean(one, i, 2) - 220) < 6);
    CHECK(std::abs(channel_mean(one, i, 0) - 20) < 6);
  }
  CHECK(std::abs(channel_mean(one, 4, 0) - 220) < 6);

  // --bad-image fail: the first bad file of the batch, by name.
  DataRequest req = folder_request(t.path.string(), 24);
  req.bad_image = "fail";
  s = load_splits(req);
  const std::string msg = data_error([&] {
    make_batch(s.train, std::vector<int64_t>{0, 10, 11}, s.norm, s.aug, 1, one);
  });
  CHECK(has(msg, "f_not_a_jpeg.JPEG: not a JPEG"));
  CHECK(has(msg, "--bad-image skip"));
  // Good files alone pass.
  CHECK_NOTHROW(make_batch(s.train, std::vector<int64_t>{0, 7, 12}, s.norm, s.aug, 1, one));
}

TEST_CASE("jpeg batch parts: each part is those rows of the whole batch, replacements included") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, true);
  DataSplits s = load_splits(folder_request(t.path.string(), 24));
  REQUIRE(s.aug.random_resized_crop);
  // A shuffled order: the broken files (9 … 11 → 12, 13 → 0 wrapping around) land in parts that
  // do not hold their replacement.
  std::vector<int64_t> all(s.train.size());
  for (int64_t i = 0; i < s.train.size(); ++i) all[i] = (i * 5 + 3) % s.train.size();
  Batch whole;
  make_batch(s.train, all, s.norm, s.aug, 42, whole);
  REQUIRE(whole.problems.size() == 4);
  const int64_t n = s.train.size(), per = s.train.sample_size();
  // Three parts of 14 rows, as three ranks of one shard each cut the batch: 0 … 4, 4 … 9, 9 … 14.
  std::vector<ImageProblem> problems;
  for (int64_t p = 0; p < 3; ++p) {
    CAPTURE(p);
    const int64_t r0 = p * n / 3, r1 = (p + 1) * n / 3;
    Batch part;
    make_batch(s.train, std::span<const int64_t>(all.data() + r0, r1 - r0), s.norm, s.aug, 42, part,
               r0);
    REQUIRE(part.x.dim(0) == r1 - r0);
    CHECK(part.first == r0);
    CHECK(std::equal(part.x.data(), part.x.data() + part.x.size(), whole.x.data() + r0 * per));
    CHECK(part.y == std::vector<int32_t>(whole.y.begin() + r0, whole.y.begin() + r1));
    problems.insert(problems.end(), part.problems.begin(), part.problems.end());
  }
  // The parts' problems, in part order, are the whole batch's.
  REQUIRE(problems.size() == whole.problems.size());
  for (size_t i = 0; i < problems.size(); ++i) {
    CHECK(problems[i].message == whole.problems[i].message);
    CHECK(problems[i].skipped == whole.problems[i].skipped);
  }
  // The same through a stream that prepares shard 1 of 2 of each batch of 8 (8 and 6 rows).
  BatchStream stream(s.train, all, 8, false, s.norm, s.aug, 7, 0, true, StreamPart{1, 0, 1, 2, 2});
  Batch got, ref;
  for (int64_t b = 0; stream.next(got); ++b) {
    const int64_t m = std::min<int64_t>(8, n - 8 * b);
    make_batch(s.train, std::span<const int64_t>(all.data() + 8 * b, m), s.norm, s.aug,
               derive(uint64_t{7}, static_cast<uint64_t>(b)), ref);
    CHECK(got.total == m);
    CHECK(got.first == m / 2);
    REQUIRE(got.x.dim(0) == m - m / 2);
    CHECK(std::equal(got.x.data(), got.x.data() + got.x.size(), ref.x.data() + m / 2 * per));
  }
  CHECK(stream.prepared() == 4 + 3);
}

TEST_CASE(
    "jpeg: a file cut in its data decodes with a warning: used under skip, fatal under fail") {
  if (!jpeg_available()) return;
  TempDir t;
  qt::testing::write_jpeg_folder(t.path, false);
  const std::vector<uint8_t> whole =
      encode_jpeg(qt::testing::test_image(300, 300, {0, 0, 0}, true), 90);
  write_bytes((t.path / "train" / "red" / "cut.JPEG").string(),
              std::vector<uint8_t>(whole.begin(), whole.begin() + whole.size() / 2));
  DataSplits s = load_splits(folder_request(t.path.string(), 16));
  Batch b;
  // red: a b c cut d → "cut.JPEG" is index 4 + 3 = 7.
  REQUIRE(fs::path(s.train.files[7]).filename() == "cut.JPEG");
  make_batch(s.train, std::vector<int64_t>{7}, s.norm, Augmentation{}, 0, b);
  REQUIRE(b.problems.size() == 1);
  CHECK(!b.problems[0].skipped);
  CHECK(has(b.problems[0].message, "cut.JPEG: decoded with a warning"));
  CHECK(b.y[0] == 1);
  DataRequest req = folder_request(t.path.string(), 16);
  req.bad_image = "fail";
  s = load_splits(req);
  CHECK(has(data_error([&] {
              make_batch(s.train, std::vector<int64_t>{7}, s.norm, Augmentation{}, 0, b);
            }),
            "cut.JPEG: decoded with a warning"));
}

TEST_CASE("imagenet-folder: option values are checked") {
  TempDir t;
  DataRequest req = folder_request(t.path.string(), 224);
  req.bad_image = "ignore";
  CHECK_THROWS_WITH_AS(load_splits(req), doctest::Contains("expected one of skip, fail"),
                       UsageError);
  req = folder_request(t.path.string(), 4);
  CHECK_THROWS_AS(load_splits(req), UsageError);
  if (!jpeg_available()) return;
  qt::testing::write_jpeg_folder(t.path, false);
  req = folder_request(t.path.string(), 32);
  req.normalization = "computed";
  CHECK_THROWS_WITH_AS(load_splits(req), doctest::Contains("expected standard or none"),
                       UsageError);
}

TEST_CASE("jpeg: mutated files decode or are refused as bad images, nothing else") {
  if (!jpeg_available()) return;
  TempDir t;
  const std::vector<uint8_t> good =
      encode_jpeg(qt::testing::test_image(90, 70, {0, 0, 0}, true), 80);
  DecodeScratch s;
  SampleTransform tr;
  tr.random_resized_crop = tr.hflip = true;
  tr.out_w = tr.out_h = 16;
  const float scale[3] = {1, 1, 1}, shift[3] = {0, 0, 0};
  std::vector<float> dst(3 * 16 * 16);
  Rng rng(5);
  int refused = 0;
  for (int k = 0; k < 300; ++k) {
    std::vector<uint8_t> bytes = good;
    const int edits = 1 + static_cast<int>(rng.below(8));
    for (int e = 0; e < edits; ++e)
      bytes[rng.below(bytes.size())] = static_cast<uint8_t>(rng.below(256));
    if (k % 3 == 0) bytes.resize(rng.below(bytes.size()));
    const std::string path = t.file("m.JPEG");
    write_bytes(path, bytes);
    std::string warning;
    try {
      load_sample(s, path, tr, static_cast<uint64_t>(k), scale, shift, dst.data(), warning);
      for (float v : dst) REQUIRE(std::isfinite(v));
    } catch (const BadImage&) {
      ++refused;
    }
  }
  CHECK(refused > 0);
  // A header claiming 20 000 × 20 000 pixels (the frame's size, after the SOF0 marker ff c0).
  std::vector<uint8_t> huge = good;
  // Walk the marker segments (ff xx, then a 2-byte length) to the frame header.
  for (size_t i = 2; i + 8 < huge.size(); i += 2 + (huge[i + 2] << 8 | huge[i + 3])) {
    if (huge[i + 1] != 0xc0) continue;
    huge[i + 5] = huge[i + 7] = 20000 >> 8;
    huge[i + 6] = huge[i + 8] = 20000 & 0xff;
    break;
  }
  write_bytes(t.file("huge.JPEG"), huge);
  std::string warning;
  // A decoder that failed on the mutated files reads a good one as a fresh one does.
  write_bytes(t.file("good.JPEG"), good);
  CHECK_NOTHROW(load_sample(s, t.file("good.JPEG"), tr, 0, scale, shift, dst.data(), warning));
  // Refused (libjpeg-turbo 2.1 already stops at its header), never allocated.
  CHECK_THROWS_AS(load_sample(s, t.file("huge.JPEG"), tr, 0, scale, shift, dst.data(), warning),
                  BadImage);
}
