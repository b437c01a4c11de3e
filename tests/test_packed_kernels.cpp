// The packed inference kernels (packed_conv.h, packed_signselect.h, packed_expanded.h) against the
// reference
// convolution (conv_reference.h), in the style of test_kernels.cpp: one table of shapes, strides,
// paddings and odd channel counts (padding bits in the last 64-bit word), every weight set
// (binary, ternary) and input set (binary, b-bit codes, float), on 1, 2 and 3 threads and on
// every instruction-set path this CPU can run. With unit weights and α = 1 the integer sums must
// equal the reference exactly; with scales, to float rounding; across threads and paths, bit for
// bit.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/kernels/conv_reference.h"
#include "engine/kernels/packed_conv.h"
#include "engine/kernels/packed_expanded.h"
#include "engine/kernels/packed_pool.h"
#include "engine/kernels/packed_signselect.h"
#include "engine/kernels/packed_weights.h"
#include "engine/layers/max_pool2d.h"

using namespace qt;

namespace {

// Float: signselect_conv; FloatExpanded: expanded_conv (the same function by the float kernels).
enum class Input { Binary, Codes, Float, FloatExpanded };

// n, Cin, Cout, H, W, k, stride, padding
const ConvShape kShapes[] = {
    {2, 3, 5, 9, 8, 3, 1, 1},    {3, 64, 16, 6, 6, 3, 1, 1},   {2, 65, 17, 7, 5, 3, 1, 1},
    {2, 130, 33, 5, 6, 3, 2, 1}, {1, 7, 9, 11, 12, 5, 1, 2},   {3, 9, 20, 9, 9, 3, 2, 0},
    {2, 16, 6, 8, 8, 1, 2, 0},   {4, 100, 30, 1, 1, 1, 1, 0},  {5, 300, 10, 1, 1, 1, 1, 0},
    {1, 128, 64, 4, 4, 3, 1, 1}, {2, 63, 15, 10, 7, 3, 1, 2},  {1, 1, 3, 13, 10, 5, 2, 0},
    {2, 200, 40, 3, 3, 3, 1, 1}, {1, 33, 48, 14, 14, 7, 2, 3},
};

std::string describe(const ConvShape& g) {
  return "n " + std::to_string(g.n) + ", " + std::to_string(g.cin) + " -> " +
         std::to_string(g.cout) + ", " + std::to_string(g.h) + "×" + std::to_string(g.w) + ", k " +
         std::to_string(g.k) + ", s " + std::to_string(g.stride) + ", p " + std::to_string(g.pad);
}

struct Case {
  float alpha = 1.0f;
  std::vector<float> x, w, scale, shift, want;
};

// Weights ±β_o (with zeros when ternary), inputs of the set; the reference's y mapped through
// the same scale and shift the kernel is given (scale = α·β_o, shift = a bias).
Case make_case(const ConvShape& g, Input in, int bits, bool ternary, bool unit, Rng& rng) {
  Case c;
  const int64_t nx = g.n * g.cin * g.h * g.w, row = g.cin * g.k * g.k;
  const float alpha = unit ? 1.0f : 0.37f;
  c.alpha = alpha;
  c.x.resize(static_cast<size_t>(nx));
  for (float& v : c.x) {
    if (in == Input::Binary) v = rng.uniform() < 0.5f ? -1.0f : 1.0f;
    if (in == Input::Codes)
      v = alpha * static_cast<float>(std::min<int64_t>(
                      static_cast<int64_t>(rng.uniform() * static_cast<float>(1 << bits)),
                      (1 << bits) - 1));
    if (in == Input::Float || in == Input::FloatExpanded) v = rng.normal();
  }
  c.w.resize(static_cast<size_t>(g.cout * row));
  c.scale.resize(static_cast<size_t>(g.cout));
  c.shift.resize(static_cast<size_t>(g.cout));
  std::vector<float> unit_w(c.w.size());
  for (int64_t o = 0; o < g.cout; ++o) {
    const float beta = unit ? 1.0f : 0.05f + rng.uniform();
    for (int64_t i = 0; i < row; ++i) {
      const float u = rng.uniform();
      const float s = ternary && u < 0.3f ? 0.0f : (u < 0.65f ? 1.0f : -1.0f);
      unit_w[static_cast<size_t>(o * row + i)] = s;
      c.w[static_cast<size_t>(o * row + i)] = s * beta;
    }
    c.scale[static_cast<size_t>(o)] = (in == Input::Codes ? alpha : 1.0f) * beta;
    c.shift[static_cast<size_t>(o)] = unit ? 0.0f : rng.normal();
  }
  c.want.resize(static_cast<size_t>(g.n * g.cout * g.ho() * g.wo()));
  reference_conv_forward(g, c.x.data(), c.w.data(), c.shift.data(), c.want.data());
  return c;
}

std::vector<float> run_kernel(const ConvShape& g, Input in, int bits, const PackedWeights& pw,
                              const Case& c) {
  std::vector<float> y(c.want.size(), NAN);  // an entry left unwritten fails
  std::vector<uint64_t> packed;
  if (in == Input::Binary) {
    pack_signs(c.x.data(), g.n, g.cin, g.h, g.w, packed);
    xnor_conv(g, pw, packed.data(), c.scale.data(), c.shift.data(), y.data());
  } else if (in == Input::Codes) {
    REQUIRE(pack_codes(c.x.data(), g.n, g.cin, g.h, g.w, c.alpha, bits, packed));
    bitserial_conv(g, bits, pw, packed.data(), c.scale.data(), c.shift.data(), y.data());
  } else if (in == Input::Float) {
    signselect_conv(g, pw, c.x.data(), c.scale.data(), c.shift.data(), y.data());
  } else {
    Workspace ws;
    expanded_conv(ws, g, pw, c.x.data(), c.scale.data(), c.shift.data(), y.data());
  }
  return y;
}

// The kernel with the sign fused into it gives pack_signs of its y, bit for bit.
void check_fused_signs(const ConvShape& g, Input in, int bits, const PackedWeights& pw,
                       const Case& c, const std::vector<float>& y) {
  std::vector<uint64_t> packed, want, got;
  pack_signs(y.data(), g.n, g.cout, g.ho(), g.wo(), want);
  if (in == Input::Binary) {
    pack_signs(c.x.data(), g.n, g.cin, g.h, g.w, packed);
    xnor_conv_signs(g, pw, packed.data(), c.scale.data(), c.shift.data(), got);
  } else {
    REQUIRE(pack_codes(c.x.data(), g.n, g.cin, g.h, g.w, c.alpha, bits, packed));
    bitserial_conv_signs(g, bits, pw, packed.data(), c.scale.data(), c.shift.data(), got);
  }
  CHECK_MESSAGE(got == want, "the fused signs differ from pack_signs of y");
}

void check_case(const ConvShape& g, Input in, int bits, bool ternary, bool unit) {
  Rng rng(static_cast<uint64_t>(g.n * 7919 + g.cin * 131 + g.cout * 17 + g.k * 5 + g.stride +
                                bits * 1000 + ternary * 77 + unit));
  const Case c = make_case(g, in, bits, ternary, unit, rng);
  PackedWeights pw;
  std::string why;
  REQUIRE_MESSAGE(pack_weights(c.w.data(), g.cout, g.cin, g.k, pw, why), why);
  double scale = 0.0;
  for (float v : c.want) scale = std::max(scale, std::abs(static_cast<double>(v)));
  // Integer sums are exact (unit weights, α = 1, no shift); float inputs and scales round.
  const bool float_in = in == Input::Float || in == Input::FloatExpanded;
  const double tol = unit && !float_in ? 0.0 : 2e-5 * (1.0 + scale);
  std::vector<float> first;
  for (PackedPath path : {PackedPath::Portable, PackedPath::Avx2, PackedPath::Avx512}) {
    if (!packed_path_available(path)) continue;
    set_packed_path(path);
    for (int threads : {1, 2, 3}) {
      INFO(packed_path_name(path), ", threads ", threads);
      set_threads(threads);
      const std::vector<float> y = run_kernel(g, in, bits, pw, c);
      if (in == Input::Binary || in == Input::Codes) check_fused_signs(g, in, bits, pw, c, y);
      if (first.empty()) {
        int bad = 0;
        for (size_t i = 0; i < y.size(); ++i)
          if (!(std::abs(static_cast<double>(y[i]) - c.want[i]) <= tol) && ++bad <= 3)
            FAIL_CHECK("y[" << i << "]: got " << y[i] << ", the reference gives " << c.want[i]);
        CHECK_MESSAGE(bad == 0, bad << " of " << y.size() << " differ from the reference");
        first = y;
        continue;
      }
      CHECK_MESSAGE(std::memcmp(y.data(), first.data(), y.size() * sizeof(float)) == 0,
                    "differs in its bits from the first path's 1-thread result");
    }
  }
  clear_packed_path();
  set_threads(0);
}

}  // namespace

TEST_CASE("packed kernels match the reference convolution on every path and thread count") {
  int checked = 0;
  for (const ConvShape& g : kShapes)
    for (bool ternary : {false, true})
      for (bool unit : {true, false}) {
        INFO(describe(g), ternary ? ", ternary" : ", binary", unit ? ", unit scales" : "");
        {
          INFO("binary input");
          check_case(g, Input::Binary, 1, ternary, unit);
        }
        for (int bits : {1, 2, 4}) {
          INFO(bits, "-bit codes");
          check_case(g, Input::Codes, bits, ternary, unit);
        }
        {
          INFO("float input");
          check_case(g, Input::Float, 1, ternary, unit);
        }
        {
          INFO("float input, expanded signs");
          check_case(g, Input::FloatExpanded, 1, ternary, unit);
        }
        checked += 6;
      }
  CHECK(checked == 6 * 4 * static_cast<int>(std::size(kShapes)));
}

TEST_CASE("weights outside a binary or ternary set are refused, naming the channel") {
  const std::vector<float> w = {0.5f, -0.5f, 0.5f, 0.25f};  // row 1: 0.5 and 0.25
  PackedWeights pw;
  std::string why;
  CHECK_FALSE(pack_weights(w.data(), 2, 2, 1, pw, why));
  CHECK(why.find("output channel 1") != std::string::npos);
  const std::vector<float> ok = {0.5f, -0.5f, 0.0f, 0.25f};
  CHECK(pack_weights(ok.data(), 2, 2, 1, pw, why));
  CHECK(pw.ternary);
  CHECK(pw.beta == std::vector<float>{0.5f, 0.25f});
}

TEST_CASE("inputs off the b-bit grid are refused") {
  const std::vector<float> x = {0.0f, 0.3f, 0.6f, 0.45f};
  std::vector<uint64_t> packed;
  CHECK(pack_codes(x.data(), 1, 1, 1, 3, 0.3f, 2, packed));
  CHECK_FALSE(pack_codes(x.data(), 1, 1, 2, 2, 0.3f, 2, packed));  // 0.45 = 1.5α
  const std::vector<float> big = {1.2f};                           // 4α > 3α
  CHECK_FALSE(pack_codes(big.data(), 1, 1, 1, 1, 0.3f, 2, packed));
}

TEST_CASE("max pooling of packed signs is max pooling of the signs, packed") {
  // n, C, H, W, k, stride, padding: odd channel counts, windows over the edge, overlapping ones
  const int64_t cases[][7] = {{2, 70, 8, 8, 2, 2, 0},
                              {1, 5, 7, 9, 3, 2, 1},
                              {3, 130, 5, 4, 3, 1, 1},
                              {1, 64, 6, 6, 2, 1, 0},
                              {2, 1, 9, 7, 3, 3, 0}};
  Rng rng(5);
  for (const auto& t : cases) {
    const int64_t n = t[0], c = t[1], h = t[2], w = t[3];
    INFO("n ", n, ", C ", c, ", ", h, "×", w, ", k ", t[4], ", s ", t[5], ", p ", t[6]);
    Tensor x({n, c, h, w}), y;
    // mostly −1, so that a window's maximum is often −1
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform() < 0.2f ? 1.0f : -1.0f;
    MaxPool2d pool("pool", t[4], t[5], t[6]);
    Context ctx;
    ctx.training = false;
    pool.forward(x, y, ctx);
    std::vector<uint64_t> packed, want, got;
    pack_signs(y.data(), n, c, y.dim(2), y.dim(3), want);
    pack_signs(x.data(), n, c, h, w, packed);
    for (int threads : {1, 3}) {
      set_threads(threads);
      or_pool(packed.data(), n, h, w, words_for(c), t[4], t[5], t[6], got);
      CHECK_MESSAGE(got == want, threads << " threads: differs from max pooling's signs");
    }
  }
  set_threads(0);
}

TEST_CASE("unpacking packed signs gives the ±1 values back, padding bits ignored") {
  Rng rng(6);
  for (int64_t c : {1, 63, 64, 65, 130}) {
    INFO("C ", c);
    const int64_t n = 2, h = 3, w = 5;
    Tensor x({n, c, h, w}), y({n, c, h, w});
    for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.uniform() < 0.5f ? 1.0f : -1.0f;
    std::vector<uint64_t> packed;
    pack_signs(x.data(), n, c, h, w, packed);
    // bits past C in the last word must not leak into any channel
    if (c % 64)
      for (size_t i = words_for(c) - 1; i < packed.size(); i += words_for(c))
        packed[i] |= ~uint64_t{0} << (c % 64);
    for (int threads : {1, 3}) {
      set_threads(threads);
      y.fill(0.0f);
      unpack_signs(packed.data(), n, c, h, w, y.data());
      bool same = true;
      for (int64_t i = 0; i < x.size(); ++i) same = same && y[i] == x[i];
      CHECK_MESSAGE(same, threads << " threads");
    }
  }
  set_threads(0);
}

TEST_CASE("packing signs equals the bit-by-bit definition: odd sizes, NaN, −0, thread counts") {
  Rng rng(7);
  // channel counts around the 8-channel groups and 64-bit words, widths around 8-pixel blocks
  for (int64_t c : {1, 7, 8, 9, 63, 64, 65, 130})
    for (int64_t w : {1, 7, 8, 9, 17}) {
      INFO("C ", c, ", W ", w);
      const int64_t n = 2, h = 3, words = words_for(c);
      Tensor x({n, c, h, w});
      for (int64_t i = 0; i < x.size(); ++i) {
        const float u = rng.uniform();
        x[i] = u < 0.05f ? std::nanf("") : u < 0.1f ? -0.0f : u < 0.15f ? 0.0f : rng.normal();
      }
      std::vector<uint64_t> want(static_cast<size_t>(n * h * w * words), 0), got;
      for (int64_t s = 0; s < n; ++s)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t y = 0; y < h; ++y)
            for (int64_t j = 0; j < w; ++j)
              if (x[((s * c + ch) * h + y) * w + j] >= 0.0f)
                want[static_cast<size_t>(((s * h + y) * w + j) * words + ch / 64)] |= uint64_t{1}
                                                                                      << (ch % 64);
      for (int threads : {1, 3}) {
        set_threads(threads);
        got.assign(want.size() + 3, ~uint64_t{0});  // stale contents must not survive
        pack_signs(x.data(), n, c, h, w, got);
        CHECK_MESSAGE(got == want, threads << " threads");
      }
    }
  set_threads(0);
}

TEST_CASE(
    "packing b-bit codes equals the bit-by-bit definition; off-grid values anywhere refused") {
  Rng rng(8);
  const float alpha = 0.37f;
  for (int bits : {1, 2, 4})
    for (int64_t c : {1, 9, 64, 65})
      for (int64_t w : {7, 8, 17}) {
        INFO(bits, " bits, C ", c, ", W ", w);
        const int64_t n = 2, h = 2, words = words_for(c), top = (int64_t{1} << bits) - 1;
        Tensor x({n, c, h, w});
        std::vector<int64_t> q(static_cast<size_t>(x.size()));
        for (int64_t i = 0; i < x.size(); ++i) {
          q[static_cast<size_t>(i)] =
              std::min<int64_t>(top, static_cast<int64_t>(rng.uniform() * (top + 1)));
          x[i] = alpha *
                 static_cast<float>(q[static_cast<size_t>(i)]);  // as the quantizer computes it
        }
        std::vector<uint64_t> want(static_cast<size_t>(n * h * w * bits * words), 0), got;
        for (int64_t s = 0; s < n; ++s)
          for (int64_t ch = 0; ch < c; ++ch)
            for (int64_t y = 0; y < h; ++y)
              for (int64_t j = 0; j < w; ++j)
                for (int b = 0; b < bits; ++b)
                  if ((q[static_cast<size_t>(((s * c + ch) * h + y) * w + j)] >> b) & 1)
                    want[static_cast<size_t>((((s * h + y) * w + j) * bits + b) * words +
                                             ch / 64)] |= uint64_t{1} << (ch % 64);
        for (int threads : {1, 3}) {
          set_threads(threads);
          got.assign(want.size() + 5, ~uint64_t{0});  // stale contents must not survive
          REQUIRE(pack_codes(x.data(), n, c, h, w, alpha, bits, got));
          CHECK_MESSAGE(got == want, threads << " threads");
        }
        // one value off the grid, in the 8-pixel blocks or in the tail, at any channel: refused
        for (int64_t at : {int64_t{0}, x.size() / 2, x.size() - 1}) {
          Tensor bad = x;
          bad[at] += 0.5f * alpha;
          CHECK_FALSE(pack_codes(bad.data(), n, c, h, w, alpha, bits, got));
          bad[at] = std::nanf("");
          CHECK_FALSE(pack_codes(bad.data(), n, c, h, w, alpha, bits, got));
          bad[at] = -alpha;
          CHECK_FALSE(pack_codes(bad.data(), n, c, h, w, alpha, bits, got));
          bad[at] = alpha * static_cast<float>(top + 1);
          CHECK_FALSE(pack_codes(bad.data(), n, c, h, w, alpha, bits, got));
        }
      }
  set_threads(0);
}
