// The one ordered reduction (engine/kernels/ordered_reduction.h): each of its forms gives the same
// bits on 1 to 4 threads, and the bits of a plain sequential loop that takes the same order.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/kernels/ordered_reduction.h"

using namespace qt;

namespace {

// Values of very different magnitudes (2^−30 … 2^30: wider than a double holds exactly), so a sum
// in another order gives other bits.
std::vector<float> spread_values(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = rng.normal() * std::ldexp(1.0f, static_cast<int>(rng.below(60)) - 30);
  return v;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

TEST_CASE("chunked_reduce: the same bits on 1 to 4 threads, those of the chunks in order") {
  const std::vector<float> v = spread_values(100003, 1);
  const int64_t n = static_cast<int64_t>(v.size());
  auto chunk_sum = [&](int64_t b, int64_t e) {
    double s = 0;
    for (int64_t i = b; i < e; ++i) s += v[i];
    return s;
  };
  for (int64_t chunk : {int64_t{1} << 10, int64_t{1} << 14, int64_t{1} << 15, n, 2 * n}) {
    INFO("chunk ", chunk);
    double sequential = 0;
    for (int64_t b = 0; b < n; b += chunk) sequential += chunk_sum(b, std::min(n, b + chunk));
    for (int threads = 1; threads <= 4; ++threads) {
      INFO("threads ", threads);
      set_threads(threads);
      CHECK(same_bits(chunked_reduce<double>(n, chunk, chunk_sum), sequential));
    }
  }
  // Another chunking is another order: the chunk size is part of the result.
  set_threads(1);
  CHECK_FALSE(same_bits(chunked_reduce<double>(n, 1 << 10, chunk_sum),
                        chunked_reduce<double>(n, 1 << 14, chunk_sum)));
  CHECK(chunked_reduce<double>(0, 1 << 10, chunk_sum) == 0.0);
  set_threads(0);
}

TEST_CASE("sum_pieces and sum_weight_partials: piece order, whatever the split of the elements") {
  const int64_t pieces = 7, wsize = 9000, cout = 13, part = wsize + cout;
  const std::vector<float> parts = spread_values(pieces * part, 2);
  std::vector<float> want(part);
  for (int64_t e = 0; e < part; ++e) {
    float s = parts[e];
    for (int64_t p = 1; p < pieces; ++p) s += parts[p * part + e];
    want[e] = s;
  }
  for (int threads = 1; threads <= 4; ++threads) {
    INFO("threads ", threads);
    set_threads(threads);
    std::vector<float> dw(wsize), db(cout);
    sum_weight_partials(parts.data(), pieces, wsize, cout, dw.data(), db.data());
    CHECK(std::memcmp(dw.data(), want.data(), wsize * sizeof(float)) == 0);
    CHECK(std::memcmp(db.data(), want.data() + wsize, cout * sizeof(float)) == 0);
    sum_weight_partials(parts.data(), pieces, wsize, cout, dw.data(), nullptr);  // no bias
    CHECK(std::memcmp(dw.data(), want.data(), wsize * sizeof(float)) == 0);
  }
  set_threads(0);
}

TEST_CASE("lanes: element i to lane i % L, lanes in order; 16 float lanes folded two ways") {
  for (int64_t n : {0, 1, 15, 16, 17, 100, 1000, 4099}) {
    INFO("n ", n);
    const std::vector<float> v = spread_values(n, 3 + n);
    const float* p = v.data();

    double lane8[8] = {};
    for (int64_t i = 0; i < n; ++i) lane8[i % 8] += v[i];
    double want8 = 0;
    for (double l : lane8) want8 += l;
    Lanes<double, 8> lanes;
    // Two blocks, the first a multiple of L: the lanes carry on where it stopped.
    const int64_t half = n / 16 * 8;
    lanes.add(half, [&](int64_t j) { return static_cast<double>(p[j]); });
    lanes.add(n - half, [&](int64_t j) { return static_cast<double>(p[half + j]); });
    CHECK(same_bits(lanes.total(), want8));

    float lane16[16] = {};
    const int64_t whole = n / 16 * 16;
    for (int64_t i = 0; i < whole; ++i) lane16[i % 16] += v[i];
    float in_order = 0.0f;
    for (float l : lane16) in_order += l;
    float pairwise[16];
    std::memcpy(pairwise, lane16, sizeof pairwise);
    for (int w = 8; w > 0; w /= 2)
      for (int i = 0; i < w; ++i) pairwise[i] += pairwise[i + w];
    float tail_in_order = in_order, tail_pairwise = pairwise[0];
    double lanes_d = 0;
    for (float l : lane16) lanes_d += l;
    double tail_d = 0;
    for (int64_t i = whole; i < n; ++i) {
      tail_in_order += v[i];
      tail_pairwise += v[i];
      tail_d += v[i];
    }
    CHECK(sum_in_lane_order(p, n) == tail_in_order);
    CHECK(sum_pairwise(p, n) == tail_pairwise);

    // DoubleLanes16 on one plane: its lanes in double, then the tail.
    DoubleLanes16 d;
    const FloatLanes16 f = float_lanes16(p, n);
    CHECK(f.tail == whole);
    d.add(f.lo, f.hi);
    d.tail = tail_d;
    CHECK(same_bits(d.total(), lanes_d + tail_d));
  }
}
