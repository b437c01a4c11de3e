#pragma once
// Small generated datasets and a scratch directory for the dataset tests.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "datasets/dataset.h"
#include "engine/core/random.h"

namespace qt::testing {

// A fresh directory under the system's temporary directory, removed with everything in it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("qtrain-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// n random images; labels cycle through every class so each one is present.
inline Dataset random_dataset(int channels, int height, int width, int classes, int64_t n,
                              uint64_t seed) {
  Dataset d;
  d.channels = channels;
  d.height = height;
  d.width = width;
  d.classes = classes;
  Rng rng(seed);
  d.pixels.resize(n * d.sample_size());
  for (auto& p : d.pixels) p = static_cast<uint8_t>(rng.below(256));
  for (int64_t i = 0; i < n; ++i)
    d.labels.push_back(static_cast<int32_t>((i * 7 + seed) % classes));
  return d;
}

}  // namespace qt::testing
