// Per-layer forward and backward times on the shapes of ResNet-20 and VGG-11 (CIFAR, batch 128):
// the engine's hot spots, one line each. Wall time is what training sees; CPU time (all threads)
// divided by the thread count stays meaningful when other processes share the machine.
//
//   bench_layers [--threads N] [--batch N] [--reps R] [--only SUBSTRING] [--algo
//   auto|im2col|direct|winograd]
// (--algo forces a convolution algorithm where it applies, for comparison)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/blas_kernel.h"
#include "engine/core/parallel.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/max_pool2d.h"
#include "engine/layers/relu.h"

using namespace qt;

namespace {

double cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
  double wall_ms, cpu_ms;  // medians per call
};

Timing time_it(const std::function<void()>& fn, int reps) {
  fn();  // warm-up: buffers reach their steady-state size
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    double c0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    fn();
    auto t1 = std::chrono::steady_clock::now();
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    cpu.push_back(1e3 * (cpu_seconds() - c0));
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

struct Options {
  int threads = 2;
  int64_t batch = 128;
  int reps = 10;
  std::string only;
  ConvAlgo algo = ConvAlgo::Auto;
};

void fill(Tensor& t, Rng& rng) {
  for (float& v : t.span()) v = rng.normal();
}

void report(const char* what, const std::string& name, Timing t, double gflop, int threads) {
  std::printf("%-36s %-4s wall %8.2f ms  cpu/threads %8.2f ms", name.c_str(), what, t.wall_ms,
              t.cpu_ms / threads);
  if (gflop > 0) std::printf("  %6.1f GFLOP/s", gflop / (t.wall_ms * 1e-3));
  std::printf("\n");
}

void bench_conv(const Options& o, const std::string& name, int64_t cin, int64_t cout, int64_t hw,
                int64_t stride, bool first, int64_t k = 3, int64_t pad = 1) {
  if (!o.only.empty() && name.find(o.only) == std::string::npos) return;
  ParamStore st;
  Conv2d conv(st, name, cin, cout, k, stride, pad, false);
  conv.set_algorithm(o.algo);
  st.finalize();
  Rng rng(1);
  conv.init(rng);
  Tensor x({o.batch, cin, hw, hw});
  fill(x, rng);
  Tensor y, dx;
  Context ctx;
  conv.forward(x, y, ctx);
  Tensor dy(y.shape());
  fill(dy, rng);
  // 2·N·Cout·Ho·Wo·Cin·k² per product; backward has two (dW, and dx unless the first layer).
  const double gflop = 2.0 * y.size() * cin * k * k * 1e-9;
  const char* algos[] = {"auto", "im2col", "direct", "winograd"};
  const std::string label =
      name + " [" + algos[static_cast<int>(conv.algorithm_for(x.shape()))] + "]";
  report("fwd", label, time_it([&] { conv.forward(x, y, ctx); }, o.reps), gflop, o.threads);
  report("bwd", label, time_it([&] { conv.backward(x, y, dy, first ? nullptr : &dx); }, o.reps),
         gflop * (first ? 1 : 2), o.threads);
  if (!first)  // the weight gradient alone: bwd − dW is dx's share
    report("dW", label, time_it([&] { conv.backward(x, y, dy, nullptr); }, o.reps), gflop,
           o.threads);
}

void bench_bn_relu_pool(const Options& o, const std::string& name, int64_t c, int64_t hw) {
  if (!o.only.empty() && name.find(o.only) == std::string::npos) return;
  ParamStore st;
  BatchNorm bn(st, name, c);
  st.finalize();
  Rng rng(2);
  bn.init(rng);
  Tensor x({o.batch, c, hw, hw});
  fill(x, rng);
  Tensor y, dx, dy({o.batch, c, hw, hw});
  fill(dy, rng);
  Context ctx;
  report("fwd", name + " bn", time_it([&] { bn.forward(x, y, ctx); }, o.reps), 0, o.threads);
  report("bwd", name + " bn", time_it([&] { bn.backward(x, y, dy, &dx); }, o.reps), 0, o.threads);
  ReLU relu("relu");
  report("fwd", name + " relu", time_it([&] { relu.forward(x, y, ctx); }, o.reps), 0, o.threads);
  report("bwd", name + " relu", time_it([&] { relu.backward(x, y, dy, &dx); }, o.reps), 0,
         o.threads);
  MaxPool2d pool("pool", 2);
  Tensor py, pdy;
  pool.forward(x, py, ctx);
  pdy.resize(py.shape());
  fill(pdy, rng);
  report("fwd", name + " maxpool", time_it([&] { pool.forward(x, py, ctx); }, o.reps), 0,
         o.threads);
  report("bwd", name + " maxpool", time_it([&] { pool.backward(x, py, pdy, &dx); }, o.reps), 0,
         o.threads);
}

}  // namespace

int main(int argc, char** argv) {
  qt::ensure_blas_kernel(argv, "bench_layers");
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_layers: %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--threads")
      o.threads = std::atoi(v);
    else if (a == "--batch")
      o.batch = std::atoll(v);
    else if (a == "--reps")
      o.reps = std::max(1, std::atoi(v));
    else if (a == "--only")
      o.only = v;
    else if (a == "--algo") {
      const std::string al = v;
      if (al == "auto")
        o.algo = ConvAlgo::Auto;
      else if (al == "im2col")
        o.algo = ConvAlgo::Im2col;
      else if (al == "direct")
        o.algo = ConvAlgo::Direct;
      else if (al == "winograd")
        o.algo = ConvAlgo::Winograd;
      else {
        std::fprintf(stderr, "bench_layers: --algo %s: expected auto, im2col, direct or winograd\n",
                     v);
        return 2;
      }
    } else {
      std::fprintf(
          stderr,
          "bench_layers: unknown option %s (expected --threads, --batch, --reps, --only, --algo)\n",
          a.c_str());
      return 2;
    }
  }
  set_threads(o.threads);
  std::printf("batch %lld, %d threads, median of %d\n", static_cast<long long>(o.batch), o.threads,
              o.reps);
  // ResNet-20: 1 + 6 convs at 32×32 (16 ch), 6 at 16×16 (32), 6 at 8×8 (64).
  bench_conv(o, "r20 conv1 3-16 @32", 3, 16, 32, 1, true);
  bench_conv(o, "r20 s1 16-16 @32 (x6)", 16, 16, 32, 1, false);
  bench_conv(o, "r20 down 16-32 @32/2", 16, 32, 32, 2, false);
  bench_conv(o, "r20 s2 32-32 @16 (x5)", 32, 32, 16, 1, false);
  bench_conv(o, "r20 down 32-64 @16/2", 32, 64, 16, 2, false);
  bench_conv(o, "r20 s3 64-64 @8 (x5)", 64, 64, 8, 1, false);
  // VGG-11 (cfg A) on 32×32.
  bench_conv(o, "lenet c1 1-6 5x5 @28", 1, 6, 28, 1, true, 5, 2);
  bench_conv(o, "lenet c2 6-16 5x5 @14 valid", 6, 16, 14, 1, false, 5, 0);
  bench_conv(o, "vgg c1 3-64 @32", 3, 64, 32, 1, true);
  bench_conv(o, "vgg c2 64-128 @16", 64, 128, 16, 1, false);
  bench_conv(o, "vgg c3 128-256 @8", 128, 256, 8, 1, false);
  bench_conv(o, "vgg c4 256-256 @8", 256, 256, 8, 1, false);
  bench_conv(o, "vgg c5 256-512 @4", 256, 512, 4, 1, false);
  bench_conv(o, "vgg c6 512-512 @4", 512, 512, 4, 1, false);
  bench_conv(o, "vgg c7 512-512 @2 (x2)", 512, 512, 2, 1, false);
  bench_bn_relu_pool(o, "r20 16 @32", 16, 32);
  bench_bn_relu_pool(o, "vgg 64 @32", 64, 32);
  bench_bn_relu_pool(o, "r20 64 @8", 64, 8);
  return 0;
}
