// One generic kernel checker: every convolution algorithm of engine/kernels against the plain
// reference (conv_reference.h), over a table of shapes, strides and paddings, on 1, 2 and 3
// threads. Each fast kernel must match the reference to float rounding, give bit-identical
// results for every thread count, and give the same dW and db when asked for no dx. A new kernel
// is tested by adding one row to kKernels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/kernels/conv_direct.h"
#include "engine/kernels/conv_im2col.h"
#include "engine/kernels/conv_reference.h"
#include "engine/kernels/conv_winograd.h"
#include "engine/kernels/workspace.h"

using namespace qt;

namespace {

using Forward = void (*)(Workspace&, const ConvShape&, const float* x, const float* w,
                         const float* bias, float* y);
using Backward = void (*)(Workspace&, const ConvShape&, const float* x, const float* w,
                          const float* dy, float* dw, float* db, float* dx);

struct Kernel {
  const char* name;
  bool (*applies)(const ConvShape&);
  Forward forward;
  Backward backward;
};

const Kernel kKernels[] = {
    {"im2col", [](const ConvShape&) { return true; }, im2col_conv_forward, im2col_conv_backward},
    {"direct stride 1",
     [](const ConvShape& g) {
       return direct_conv_available() && g.stride == 1 && 2 * g.pad == g.k - 1;
     },
     direct_conv_forward, direct_conv_backward},
    // Narrower padding than "same" (LeNet-5's conv2): y, dW and db by the direct kernel, dx by
    // im2col, as Conv2d combines them.
    {"direct stride 1, valid",
     [](const ConvShape& g) {
       return direct_conv_available() && g.stride == 1 && 2 * g.pad < g.k - 1;
     },
     direct_conv_forward,
     [](Workspace& ws, const ConvShape& g, const float* x, const float* w, const float* dy,
        float* dw, float* db, float* dx) {
       direct_conv_backward(ws, g, x, w, dy, dw, db, nullptr);
       im2col_conv_backward(ws, g, x, w, dy, nullptr, nullptr, dx);
     }},
    {"direct stride 2",
     [](const ConvShape& g) {
       return g.stride == 2 && direct_conv_s2_applies(g.k, g.pad, g.h, g.w);
     },
     direct_conv_s2_forward, direct_conv_s2_backward},
    {"winograd", [](const ConvShape& g) { return g.k == 3 && g.stride == 1; }, winograd_forward,
     winograd_backward},
};

// Batches and planes large enough for several chunks of every algorithm (and several dW groups of
// the direct one), next to small and odd shapes: n, Cin, Cout, H, W, k, stride, padding.
const ConvShape kShapes[] = {
    {5, 3, 4, 9, 8, 3, 1, 1},
    {40, 3, 8, 10, 10, 3, 1, 1},
    {6, 5, 7, 6, 7, 1, 1, 0},
    {4, 4, 6, 7, 7, 1, 2, 0},
    {3, 2, 5, 11, 12, 5, 1, 2},
    {9, 3, 4, 9, 9, 3, 2, 1},
    {2, 16, 16, 33, 33, 3, 1, 1},
    {7, 2, 3, 13, 10, 5, 2, 0},
    {9, 16, 16, 33, 33, 3, 1, 1},
    {25, 4, 4, 64, 64, 3, 1, 1},
    {20, 12, 10, 2, 2, 3, 1, 1},
    {6, 9, 11, 7, 5, 3, 1, 0},
    {6, 9, 11, 7, 5, 3, 1, 1},
    {4, 3, 6, 12, 12, 5, 1, 2},
    {40, 16, 8, 8, 8, 3, 1, 1},
    {9, 3, 4, 10, 10, 3, 2, 1},
    {40, 16, 32, 16, 16, 3, 2, 1},
    {5, 4, 6, 12, 8, 5, 2, 2},
    {6, 8, 8, 8, 8, 1, 2, 0},
    {20, 12, 10, 4, 4, 3, 2, 1},
    {24, 6, 16, 14, 14, 5, 1, 0},
    {40, 4, 8, 12, 12, 3, 1, 0},
    {5, 3, 5, 13, 11, 5, 1, 1},
    {20, 32, 32, 8, 8, 3, 1, 1},
    {21, 32, 24, 6, 6, 3, 1, 1},
    {18, 32, 20, 12, 10, 3, 2, 1},
    {1, 3, 4, 40, 40, 3, 1, 1},
    {3, 8, 6, 7, 9, 3, 1, 1},
    {4, 4, 4, 5, 5, 3, 1, 2},
    {11, 1, 6, 9, 9, 5, 1, 0},
    {2, 5, 3, 1, 1, 1, 1, 0},
    {3, 7, 5, 3, 3, 3, 2, 0},
    // Planes too large for a one-pass dW: passes into 16-lane partial sums.
    {40, 2, 3, 64, 64, 3, 1, 1},
    {40, 2, 3, 128, 128, 3, 2, 1},
};

struct Result {
  std::vector<float> y, dx, dw, db;
};

std::vector<float> random_vector(int64_t n, Rng& rng) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.normal();
  return v;
}

std::string describe(const ConvShape& g, bool bias) {
  return "n " + std::to_string(g.n) + ", " + std::to_string(g.cin) + " -> " +
         std::to_string(g.cout) + ", " + std::to_string(g.h) + "×" + std::to_string(g.w) + ", k " +
         std::to_string(g.k) + ", s " + std::to_string(g.stride) + ", p " + std::to_string(g.pad) +
         (bias ? "" : ", no bias");
}

// |got − want| ≤ tol·(1 + max|want|) everywhere; the first few misses are named.
void expect_close(const std::string& what, const std::vector<float>& got,
                  const std::vector<float>& want) {
  constexpr double kTol = 1e-5;
  REQUIRE(got.size() == want.size());
  double scale = 0.0;
  for (float v : want) scale = std::max(scale, std::abs(static_cast<double>(v)));
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(static_cast<double>(got[i]) - want[i]) <= kTol * (1.0 + scale)) && ++bad <= 3)
      FAIL_CHECK(what << "[" << i << "]: got " << got[i] << ", the reference gives " << want[i]);
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << want.size()
                               << " differ from the reference convolution");
}

void expect_same_bits(const std::string& what, const std::vector<float>& got,
                      const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  CHECK_MESSAGE(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0,
                what << " differs in its bits from the 1-thread result");
}

// The kernel on shape g, one workspace reused across thread counts (as a model reuses its own).
void check_kernel(const Kernel& kernel, const ConvShape& g, bool bias) {
  Rng rng(static_cast<uint64_t>(g.n * 1000 + g.cin * 100 + g.k * 10 + g.stride));
  const int64_t nx = g.n * g.cin * g.h * g.w, nw = g.cout * g.cin * g.k * g.k,
                ny = g.n * g.cout * g.ho() * g.wo();
  const std::vector<float> x = random_vector(nx, rng), w = random_vector(nw, rng),
                           b = random_vector(g.cout, rng), dy = random_vector(ny, rng);
  const float* bp = bias ? b.data() : nullptr;
  Result ref{std::vector<float>(ny), std::vector<float>(nx), std::vector<float>(nw),
             std::vector<float>(g.cout)};
  reference_conv_forward(g, x.data(), w.data(), bp, ref.y.data());
  reference_conv_backward(g, x.data(), w.data(), dy.data(), ref.dw.data(),
                          bias ? ref.db.data() : nullptr, ref.dx.data());

  Workspace ws;
  Result first;
  for (int threads : {1, 2, 3}) {
    INFO("threads ", threads);
    set_threads(threads);
    // NaN-filled outputs: a kernel that leaves an entry unwritten fails.
    Result r{std::vector<float>(ny, NAN), std::vector<float>(nx, NAN), std::vector<float>(nw, NAN),
             std::vector<float>(g.cout, NAN)};
    kernel.forward(ws, g, x.data(), w.data(), bp, r.y.data());
    kernel.backward(ws, g, x.data(), w.data(), dy.data(), r.dw.data(), bias ? r.db.data() : nullptr,
                    r.dx.data());
    // No dx asked: the same dW and db.
    std::vector<float> dw2(nw, NAN), db2(g.cout, NAN);
    kernel.backward(ws, g, x.data(), w.data(), dy.data(), dw2.data(), bias ? db2.data() : nullptr,
                    nullptr);
    expect_same_bits("dW without dx", dw2, r.dw);
    if (bias) expect_same_bits("db without dx", db2, r.db);
    if (threads == 1) {
      expect_close("y", r.y, ref.y);
      expect_close("dx", r.dx, ref.dx);
      expect_close("dW", r.dw, ref.dw);
      if (bias) expect_close("db", r.db, ref.db);
      first = r;
      continue;
    }
    expect_same_bits("y", r.y, first.y);
    expect_same_bits("dx", r.dx, first.dx);
    expect_same_bits("dW", r.dw, first.dw);
    if (bias) expect_same_bits("db", r.db, first.db);
  }
  set_threads(0);
}

}  // namespace

TEST_CASE("every convolution kernel matches the reference, on any thread count") {
  int checked = 0;
  for (const Kernel& kernel : kKernels)
    for (size_t i = 0; i < std::size(kShapes); ++i) {
      const ConvShape& g = kShapes[i];
      if (!kernel.applies(g)) continue;
      const bool bias = i % 2 == 0;
      INFO("kernel ", std::string(kernel.name), ", ", describe(g, bias));
      check_kernel(kernel, g, bias);
      ++checked;
    }
  // im2col takes every shape; the others only theirs (the direct ones need AVX-512).
  CHECK(checked >= static_cast<int>(std::size(kShapes)));
}

TEST_CASE("the reference convolution is the definition, on a case small enough to write out") {
  // x = [[1, 2], [3, 4]], one 2×2 kernel [[1, 0], [0, −1]], bias 0.5, padding 0: y = 1 − 4 + 0.5.
  const ConvShape g{1, 1, 1, 2, 2, 2, 1, 0};
  const float x[] = {1, 2, 3, 4}, w[] = {1, 0, 0, -1}, b[] = {0.5f}, dy[] = {2};
  float y[1], dx[4], dw[4], db[1];
  reference_conv_forward(g, x, w, b, y);
  CHECK(y[0] == -2.5f);
  reference_conv_backward(g, x, w, dy, dw, db, dx);
  const float want_dx[] = {2, 0, 0, -2}, want_dw[] = {2, 4, 6, 8};
  for (int i = 0; i < 4; ++i) {
    CHECK(dx[i] == want_dx[i]);
    CHECK(dw[i] == want_dw[i]);
  }
  CHECK(db[0] == 2.0f);
}
