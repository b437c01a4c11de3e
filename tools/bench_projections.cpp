// Times every projection on VGG-11's largest weight tensor (512×512×3×3 = 2.4M) and on all of
// its conv weights together (9.2M), with 1 and 2 threads: the per-step quantization overhead.
// Usage: bench_projections [repetitions (default 7)]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/quant/projection.h"

using namespace qt;

namespace {

struct Tensor2 {
  std::vector<float> w, q;
  int64_t rows;
};

Tensor2 conv_weight(int64_t out, int64_t in, uint64_t seed) {
  Rng rng(seed);
  Tensor2 t{std::vector<float>(out * in * 9), std::vector<float>(out * in * 9), out};
  const float scale = 1.0f / std::sqrt(static_cast<float>(in * 9));  // a trained-ish spread
  for (float& x : t.w) x = scale * rng.normal();
  return t;
}

// The time to project every tensor once, in ms: the median and the minimum over repetitions
// (on a shared machine the minimum is the better estimate of the uncontended cost).
struct Timing {
  double median, min;
};

Timing time_ms(const ProjectionSpec& spec, std::vector<Tensor2>& tensors, int reps) {
  std::vector<double> times;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (Tensor2& t : tensors) project(spec, t.w, t.q, t.rows);
    const auto t1 = std::chrono::steady_clock::now();
    if (r > 0) times.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times[0]};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  std::vector<Tensor2> largest{conv_weight(512, 512, 1)};
  std::vector<Tensor2> vgg11;  // cfg A: 64 M 128 M 256 256 M 512 512 M 512 512 M
  const int64_t shapes[][2] = {{64, 3},    {128, 64},  {256, 128}, {256, 256},
                               {512, 256}, {512, 512}, {512, 512}, {512, 512}};
  int64_t total = 0;
  for (const auto& s : shapes) {
    vgg11.push_back(conv_weight(s[0], s[1], 2 + vgg11.size()));
    total += s[0] * s[1] * 9;
  }
  struct Row {
    const char* label;
    ProjectionSpec spec;
  };
  const Row rows[] = {
      {"binary", parse_projection("binary")},
      {"binary-median", parse_projection("binary-median")},
      {"binary-noscale", parse_projection("binary-noscale")},
      {"ternary (exact)", parse_projection("ternary")},
      {"ternary-twn", parse_projection("ternary-twn")},
      {"ternary-twn-n", parse_projection("ternary-twn-n")},
      {"bits 4, lloyd 1", parse_projection("bits", 4, 1)},
      {"bits 4, lloyd 5", parse_projection("bits", 4, 5)},
      {"binary per-channel", parse_projection("binary", 0, 1, true)},
      {"ternary per-channel", parse_projection("ternary", 0, 1, true)},
      {"bits 4 per-channel", parse_projection("bits", 4, 1, true)},
  };
  std::printf(
      "ms per projection of all tensors, median / min of %d runs; largest = 512x512x3x3 "
      "(%zu), VGG-11 = all 8 convs (%lld)\n",
      reps, largest[0].w.size(), static_cast<long long>(total));
  std::printf("%-20s %14s %14s %14s %14s\n", "projection", "largest 1 thr", "largest 2 thr",
              "VGG-11 1 thr", "VGG-11 2 thr");
  for (const Row& r : rows) {
    Timing t[4];
    for (int threads : {1, 2}) {
      set_threads(threads);
      t[threads - 1] = time_ms(r.spec, largest, reps);
      t[threads + 1] = time_ms(r.spec, vgg11, reps);
    }
    std::printf("%-20s", r.label);
    for (const Timing& x : t) std::printf(" %6.2f / %5.2f", x.median, x.min);
    std::printf("\n");
  }
  return 0;
}
