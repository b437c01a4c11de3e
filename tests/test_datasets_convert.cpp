// tools/convert_imagenet on a tiny generated ImageFolder of PPM images (the standard-library
// path: no Pillow needed), read back through the registry as the "imagenet" dataset.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "datasets/dataset_writers.h"
#include "datasets/qtimg_reader.h"
#include "datasets/registry.h"
#include "test_datasets_fixtures.h"

using namespace qt;
using qt::testing::TempDir;

namespace {

// A binary PPM whose column x has colour cols(x).
void write_ppm(const std::string& path, int w, int h,
               const std::function<std::array<uint8_t, 3>(int)>& cols) {
  std::string head =
      "P6\n# made by a test\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  std::vector<uint8_t> b(head.begin(), head.end());
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (uint8_t v : cols(x)) b.push_back(v);
  write_bytes(path, b);
}

int run(const std::string& cmd) {
  const int st = std::system(cmd.c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST_CASE("convert_imagenet: class folders → qtimg files the imagenet loader reads") {
  const char* src = std::getenv("QTRAIN_SOURCE_DIR");
  REQUIRE_MESSAGE(src != nullptr, "run through ctest, which sets QTRAIN_SOURCE_DIR");
  const std::string tool = std::string(src) + "/tools/convert_imagenet";
  TempDir tmp;
  const std::string in = tmp.file("in"), out = tmp.file("imagenet");
  // Three classes; a 16×8 image whose centre 8×8 square is all green, plus solid colours.
  auto stripes = [](int x) {
    return x < 4    ? std::array<uint8_t, 3>{255, 0, 0}
           : x < 12 ? std::array<uint8_t, 3>{0, 255, 0}
                    : std::array<uint8_t, 3>{0, 0, 255};
  };
  for (const char* split : {"train", "val"}) {
    for (const char* cls : {"n001", "n002", "n003"})
      std::filesystem::create_directories(in + "/" + split + "/" + cls);
    write_ppm(in + "/" + split + "/n001/a.ppm", 16, 8, stripes);
    write_ppm(in + "/" + split + "/n002/a.ppm", 5, 7, [](int) {
      return std::array<uint8_t, 3>{10, 20, 30};
    });
    write_ppm(in + "/" + split + "/n003/b.ppm", 9, 9, [](int) {
      return std::array<uint8_t, 3>{200, 100, 50};
    });
  }
  write_ppm(in + "/train/n003/c.ppm", 9, 9, [](int) { return std::array<uint8_t, 3>{1, 2, 3}; });
  REQUIRE(run(tool + " " + in + " " + out + " --size 8 --jobs 2 --no-pil >/dev/null") == 0);

  DataRequest req;
  req.name = "imagenet";
  req.data_dir = tmp.path.string();
  req.val_size = 0;
  req.normalization = "none";
  const DataSplits s = load_splits(req);
  REQUIRE(s.train.size() == 4);
  CHECK(s.test.size() == 3);
  CHECK(s.train.sample_shape() == Shape{3, 8, 8});
  CHECK(s.train.classes == 3);
  CHECK(s.train.class_names == std::vector<std::string>{"n001", "n002", "n003"});
  CHECK(s.train.labels == std::vector<int32_t>{0, 1, 2, 2});
  auto pixel = [&](const Dataset& d, int i, int c, int y, int x) {
    return d.pixels[((i * 3 + c) * 8 + y) * 8 + x];
  };
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      CHECK(pixel(s.train, 0, 1, y, x) == 255);  // the centre crop of the stripes: green only
      CHECK(pixel(s.train, 0, 0, y, x) == 0);
      CHECK(pixel(s.train, 1, 2, y, x) == 30);
      CHECK(pixel(s.train, 2, 0, y, x) == 200);
      CHECK(pixel(s.train, 3, 1, y, x) == 2);
    }

  // squash: the whole 16×8 image into 8×8, so the stripes survive at half width.
  REQUIRE(run(tool + " " + in + " " + out +
              " --size 8 --jobs 1 --no-pil --resize squash >/dev/null") == 0);
  const Dataset sq = read_qtimg(out + "/train.qtimg");
  CHECK(pixel(sq, 0, 0, 3, 1) == 255);
  CHECK(pixel(sq, 0, 1, 3, 2) == 255);
  CHECK(pixel(sq, 0, 2, 3, 6) == 255);
  CHECK(pixel(sq, 0, 2, 3, 5) == 0);

  // A val class that training does not have, or a broken image: exit 3 with the file named.
  std::filesystem::create_directories(in + "/val/n999");
  write_ppm(in + "/val/n999/z.ppm", 2, 2, [](int) { return std::array<uint8_t, 3>{0, 0, 0}; });
  CHECK(run(tool + " " + in + " " + out + " --jobs 1 --no-pil 2>/dev/null >/dev/null") == 3);
  std::filesystem::remove_all(in + "/val/n999");
  write_bytes(in + "/train/n002/a.ppm", {'P', '6', '\n', '4'});
  CHECK(run(tool + " " + in + " " + out + " --jobs 1 --no-pil 2>" + tmp.file("err") +
            " >/dev/null") == 3);
  const std::vector<uint8_t> err = read_bytes(tmp.file("err"));
  CHECK(std::string(err.begin(), err.end()).find(in + "/train/n002/a.ppm") != std::string::npos);
}
