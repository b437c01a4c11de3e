// Projections (docs/math.md §1): one generic checker run on every projection and many inputs,
// exactness against brute force, the reference code's formulas, and thread-count independence.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/quant/projection.h"

using namespace qt;

namespace {

using Vec = std::vector<float>;

// Every projection the checker runs on: one line per projection.
std::vector<ProjectionSpec> all_specs() {
  return {
      parse_projection("binary"),         parse_projection("binary-median"),
      parse_projection("binary-noscale"), parse_projection("ternary"),
      parse_projection("ternary-twn"),    parse_projection("ternary-twn-n"),
      parse_projection("bits", 3),        parse_projection("bits", 4),
      parse_projection("bits", 4, 5),     parse_projection("bits", 8, 3),
  };
}

std::string describe(const ProjectionSpec& s) {
  return projection_name(s) + " bits=" + std::to_string(s.bits) +
         " lloyd=" + std::to_string(s.lloyd_iters) + (s.per_channel ? " per-channel" : "");
}

// Inputs of several shapes of distribution; the same seed gives the same vector.
enum class Dist { Gaussian, Laplace, Uniform, Ties, WideRange, Zeros, Outlier, Narrow };
constexpr Dist kDists[] = {Dist::Gaussian,  Dist::Laplace, Dist::Uniform, Dist::Ties,
                           Dist::WideRange, Dist::Zeros,   Dist::Outlier, Dist::Narrow};

Vec make(Dist d, int64_t n, uint64_t seed) {
  Rng rng(seed);
  Vec w(n);
  for (int64_t i = 0; i < n; ++i) {
    const float sign = rng.uniform() < 0.5f ? -1.0f : 1.0f;
    switch (d) {
      case Dist::Gaussian:
        w[i] = 0.05f * rng.normal();
        break;
      case Dist::Laplace:
        w[i] = sign * -std::log(1.0f - rng.uniform());
        break;
      case Dist::Uniform:
        w[i] = rng.uniform(-1.0f, 1.0f);
        break;
      // Few distinct magnitudes (inside their buckets): long runs of ties, some exact zeros.
      case Dist::Ties:
        w[i] = sign * 0.3f * static_cast<float>(rng.below(5));
        break;
      // 2^-40 .. 2^7: magnitudes in many octaves, below the fine buckets too.
      case Dist::WideRange:
        w[i] = sign * std::exp2(rng.uniform(-40.0f, 7.0f));
        break;
      case Dist::Zeros:
        w[i] = rng.uniform() < 0.5f ? 0.0f : rng.normal();
        break;
      case Dist::Outlier:
        w[i] = i == n / 2 ? 1000.0f : 0.01f * rng.normal();
        break;
      // All magnitudes within 0.1 %: one bucket holds them all.
      case Dist::Narrow:
        w[i] = sign * (1.0f + 0.001f * rng.uniform());
        break;
    }
  }
  return w;
}

bool same_bits(const Vec& a, const Vec& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

Vec project_vec(const ProjectionSpec& spec, const Vec& w, int64_t rows, ProjectionResult* r) {
  Vec q(w.size());
  *r = project(spec, w, q, rows);
  return q;
}

// The generic projection checker: what every projection must satisfy on any input.
void check_projection(const ProjectionSpec& spec, const Vec& w, int64_t rows = 1) {
  INFO(describe(spec) << ", n = " << w.size() << ", rows = " << rows);
  ProjectionResult r;
  const Vec q = project_vec(spec, w, rows, &r);
  const int64_t groups = spec.per_channel ? rows : 1;
  const size_t len = w.size() / groups;
  REQUIRE(static_cast<int64_t>(r.alpha.size()) == groups);

  // The reported errors are ‖w − Q‖² and ‖w‖².
  double e2 = 0, n2 = 0;
  REQUIRE(std::all_of(q.begin(), q.end(), [](float v) { return std::isfinite(v); }));
  for (size_t i = 0; i < w.size(); ++i) {
    e2 += (static_cast<double>(w[i]) - q[i]) * (static_cast<double>(w[i]) - q[i]);
    n2 += static_cast<double>(w[i]) * w[i];
  }
  // (Summed in a different order here: rounding differs by ~n·1e-16 relative.)
  CHECK(r.error2 == doctest::Approx(e2).epsilon(1e-10));
  CHECK(r.norm2 == doctest::Approx(n2).epsilon(1e-10));

  // Q lies in the set, with at most set_size values per group.
  CHECK(check_in_set(spec, q, rows) == "");
  const int64_t m = spec.kind == ProjectionKind::Bits ? (1 << (spec.bits - 1)) - 1 : 1;
  for (int64_t g = 0; g < groups; ++g) {
    const std::span<const float> qg(q.data() + g * len, len), wg(w.data() + g * len, len);
    CHECK(distinct_values(qg) <= set_size(spec));
    const float alpha = r.alpha[g];
    CHECK(alpha >= 0.0f);
    // Every value is sign(w)·k·α with an integer code 0 ≤ k ≤ m (sign(0) = +1), and codes
    // grow with |w|.
    std::vector<size_t> order(len);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return std::fabs(wg[a]) < std::fabs(wg[b]); });
    float prev = 0.0f;
    int bad = 0;
    for (size_t i : order) {
      const float v = qg[i];
      if (v != 0.0f && (v > 0.0f) != (wg[i] >= 0.0f)) ++bad;
      const float k = alpha > 0.0f ? std::nearbyint(std::fabs(v) / alpha) : 0.0f;
      if (alpha > 0.0f && (k > m || std::fabs(v) != alpha * k)) ++bad;
      if (std::fabs(v) < prev) ++bad;
      prev = std::fabs(v);
    }
    CHECK_MESSAGE(bad == 0, bad << " values of group " << g << " are not sign(w)·k·α, k ≤ " << m
                                << ", non-decreasing in |w|");
  }

  // Idempotent: Q(Q(w)) = Q(w) bit for bit. The /n TWN variant shrinks instead: the same
  // codes, α times the kept share.
  ProjectionResult r2;
  const Vec qq = project_vec(spec, q, rows, &r2);
  if (spec.kind == ProjectionKind::TernaryTwnN) {
    for (int64_t g = 0; g < groups; ++g) {
      int64_t kept = 0, same = 0;
      for (size_t i = g * len; i < (g + 1) * len; ++i) {
        kept += q[i] != 0.0f;
        same += (q[i] != 0.0f) == (qq[i] != 0.0f) && (q[i] > 0.0f) == (qq[i] > 0.0f);
      }
      CHECK(same == static_cast<int64_t>(len));
      CHECK(r2.alpha[g] ==
            doctest::Approx(r.alpha[g] * static_cast<double>(kept) / len).epsilon(1e-6));
    }
  } else {
    CHECK_MESSAGE(same_bits(q, qq), "Q(Q(w)) differs from Q(w)");
    CHECK(r2.alpha == r.alpha);
  }

  // In place (q = w) gives the same.
  Vec inplace = w;
  const ProjectionResult r3 = project(spec, inplace, inplace, rows);
  CHECK(same_bits(inplace, q));
  CHECK(r3.error2 == r.error2);

  // Per channel equals the per-tensor projection of each row.
  if (spec.per_channel) {
    ProjectionSpec layer = spec;
    layer.per_channel = false;
    for (int64_t g = 0; g < groups; ++g) {
      const Vec wg(w.begin() + g * len, w.begin() + (g + 1) * len);
      ProjectionResult rg;
      const Vec qg = project_vec(layer, wg, 1, &rg);
      CHECK(same_bits(qg, Vec(q.begin() + g * len, q.begin() + (g + 1) * len)));
      CHECK(rg.alpha[0] == r.alpha[g]);
    }
  }
}

double norm2(const Vec& w) {
  double s = 0;
  for (float x : w) s += static_cast<double>(x) * x;
  return s;
}

// min over codes c of ‖w − αc‖² with the best α for each c: ‖w‖² − (c·w)²/‖c‖².
double brute_force(const Vec& w, const std::vector<int>& levels) {
  const size_t n = w.size();
  const double total_norm = norm2(w);
  double best = total_norm;
  int64_t total = 1;
  for (size_t i = 0; i < n; ++i) total *= static_cast<int64_t>(levels.size());
  for (int64_t code = 0; code < total; ++code) {
    int64_t rest = code;
    double cw = 0, cc = 0;
    for (size_t i = 0; i < n; ++i) {
      const int v = levels[rest % levels.size()];
      rest /= static_cast<int64_t>(levels.size());
      cw += v * static_cast<double>(w[i]);
      cc += v * v;
    }
    if (cc > 0) best = std::min(best, total_norm - cw * cw / cc);
  }
  return best;
}

}  // namespace

TEST_CASE("every projection passes the generic checker on every input") {
  for (const ProjectionSpec& spec : all_specs())
    for (Dist d : kDists)
      for (int64_t n : {1, 2, 7, 64, 1000, 100003}) check_projection(spec, make(d, n, 17 * n + 3));
}

TEST_CASE("every projection per channel equals per tensor row by row") {
  for (ProjectionSpec spec : all_specs()) {
    spec.per_channel = true;
    for (Dist d : kDists) {
      check_projection(spec, make(d, 16 * 27, 5), 16);   // a first conv: 16 × 3×3×3
      check_projection(spec, make(d, 3 * 40000, 6), 3);  // rows longer than one chunk
      check_projection(spec, make(d, 1 * 50, 7), 1);     // one row
      check_projection(spec, make(d, 9 * 1, 8), 9);      // rows of one element
    }
  }
}

TEST_CASE("all-zero weights give alpha 0 and Q = 0, without NaN") {
  for (const ProjectionSpec& spec : all_specs()) {
    INFO(describe(spec));
    const Vec w = {0.0f, -0.0f, 0.0f, 0.0f};
    ProjectionResult r;
    const Vec q = project_vec(spec, w, 1, &r);
    const float expect = spec.kind == ProjectionKind::BinaryNoScale ? 1.0f : 0.0f;
    CHECK(r.alpha[0] == expect);
    for (float v : q) CHECK(std::fabs(v) == expect);
    CHECK(r.error2 == (spec.kind == ProjectionKind::BinaryNoScale ? 4.0 : 0.0));
    check_projection(spec, w);
  }
}

TEST_CASE("a single weight is its own projection for the scaled binary and ternary kinds") {
  for (const char* name : {"binary", "binary-median", "ternary", "ternary-twn", "ternary-twn-n"}) {
    INFO(name);
    ProjectionResult r;
    const Vec q = project_vec(parse_projection(name), {-0.7f}, 1, &r);
    CHECK(q[0] == -0.7f);
    CHECK(r.error2 == 0.0);
  }
  ProjectionResult r;
  CHECK(project_vec(parse_projection("bits", 4), {-0.7f}, 1, &r)[0] ==
        doctest::Approx(-0.7).epsilon(1e-6));
}

TEST_CASE("NaN or infinite weights throw") {
  for (const ProjectionSpec& spec : all_specs()) {
    INFO(describe(spec));
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      Vec w = make(Dist::Gaussian, 100, 1), q(100);
      w[37] = bad;
      CHECK_THROWS_AS(project(spec, w, q), std::runtime_error);
    }
  }
}

TEST_CASE("binary is optimal: brute force over every sign pattern, n <= 10") {
  const ProjectionSpec spec = parse_projection("binary");
  for (int n = 1; n <= 10; ++n)
    for (Dist d : kDists)
      for (uint64_t seed = 0; seed < 6; ++seed) {
        const Vec w = make(d, n, 100 * n + seed);
        ProjectionResult r;
        project_vec(spec, w, 1, &r);
        const double best = brute_force(w, {-1, 1});
        INFO("n = " << n << ", seed = " << seed);
        CHECK(r.error2 == doctest::Approx(best).epsilon(1e-12).scale(norm2(w) + 1e-30));
      }
}

TEST_CASE("exact ternary is optimal: brute force over every {-1,0,1} code, n <= 8") {
  const ProjectionSpec spec = parse_projection("ternary");
  for (int n = 1; n <= 8; ++n)
    for (Dist d : kDists)
      for (uint64_t seed = 0; seed < 6; ++seed) {
        const Vec w = make(d, n, 1000 * n + seed);
        ProjectionResult r;
        project_vec(spec, w, 1, &r);
        const double best = brute_force(w, {-1, 0, 1});
        INFO("n = " << n << ", seed = " << seed);
        CHECK(r.error2 == doctest::Approx(best).epsilon(1e-12).scale(norm2(w) + 1e-30));
        // The approximations can only do worse.
        for (const char* other : {"ternary-twn", "ternary-twn-n"}) {
          ProjectionResult ro;
          project_vec(parse_projection(other), w, 1, &ro);
          CHECK(ro.error2 >= best - 1e-12 * norm2(w));  // best has cancellation error
        }
      }
}

TEST_CASE("exact ternary by hand, with ties") {
  ProjectionResult r;
  // f(j) = S_j²/j: 9, 8, 6.75 → keep one.
  CHECK(project_vec(parse_projection("ternary"), {3.0f, -1.0f, 0.5f}, 1, &r) ==
        Vec{3.0f, 0.0f, 0.0f});
  // 1, 2, 3, 2.56 → keep the three tied ones.
  CHECK(project_vec(parse_projection("ternary"), {1.0f, 1.0f, -1.0f, 0.2f}, 1, &r) ==
        Vec{1.0f, 1.0f, -1.0f, 0.0f});
  CHECK(r.alpha[0] == 1.0f);
}

// The histogram search against a plain sort with prefix sums, on large inputs.
TEST_CASE("exact ternary equals the sorted reference on large inputs") {
  const ProjectionSpec spec = parse_projection("ternary");
  for (Dist d : kDists)
    for (int64_t n : {100, 5000, 200000}) {
      const Vec w = make(d, n, 7 * n + 1);
      Vec mags(n);
      for (int64_t i = 0; i < n; ++i) mags[i] = std::fabs(w[i]);
      std::sort(mags.begin(), mags.end(), std::greater<float>());
      double s = 0, best = 0;
      for (int64_t j = 1; j <= n; ++j) {
        s += mags[j - 1];
        if (j == n || mags[j] != mags[j - 1]) best = std::max(best, s * s / j);
      }
      ProjectionResult r;
      project_vec(spec, w, 1, &r);
      INFO("n = " << n << ", distribution " << static_cast<int>(d));
      CHECK(r.error2 == doctest::Approx(norm2(w) - best).epsilon(1e-9).scale(norm2(w)));
    }
}

TEST_CASE("TWN and its /n variant by hand") {
  // mean|w| = 8/8 = 1, Δ = 0.7: keep 1, −2, 3, −1.2 (sum 7.2): α = 7.2/4 or 7.2/8.
  const Vec w = {1.0f, -2.0f, 0.5f, 3.0f, -0.1f, 0.0f, 0.2f, -1.2f};
  ProjectionResult r;
  Vec q = project_vec(parse_projection("ternary-twn"), w, 1, &r);
  CHECK(r.alpha[0] == doctest::Approx(1.8).epsilon(1e-6));
  for (size_t i = 0; i < w.size(); ++i)
    CHECK(q[i] == (std::fabs(w[i]) > 0.7f ? std::copysign(r.alpha[0], w[i]) : 0.0f));
  q = project_vec(parse_projection("ternary-twn-n"), w, 1, &r);
  CHECK(r.alpha[0] == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(q == Vec{r.alpha[0], -r.alpha[0], 0, r.alpha[0], 0, 0, 0, -r.alpha[0]});
}

TEST_CASE("binary median and no-scale by hand") {
  ProjectionResult r;
  // |w| sorted: 0.1 0.2 0.5 0.9: the lower median is 0.2.
  Vec q = project_vec(parse_projection("binary-median"), {0.5f, -0.1f, 0.9f, -0.2f}, 1, &r);
  CHECK(q == Vec{0.2f, -0.2f, 0.2f, -0.2f});
  q = project_vec(parse_projection("binary-median"), {0.5f, -0.1f, 0.9f}, 1, &r);
  CHECK(r.alpha[0] == 0.5f);
  q = project_vec(parse_projection("binary-noscale"), {0.5f, -0.1f, 0.0f, -0.0f}, 1, &r);
  CHECK(q == Vec{1.0f, -1.0f, 1.0f, 1.0f});  // sign(0) = +1
  q = project_vec(parse_projection("binary"), {0.5f, -0.1f, 0.0f, -0.6f}, 1, &r);
  CHECK(r.alpha[0] == 0.3f);
  CHECK(q == Vec{0.3f, -0.3f, 0.3f, -0.3f});
}

TEST_CASE("3-bit projection by hand") {
  // m = 3, α0 = 2/7: codes 3 2 1 0 3 3 0 1; α1 = Σ|w|k/Σk² = 9.45/33.
  const Vec w = {1.0f, 0.5f, -0.3f, 0.1f, 0.75f, -0.9f, 0.0f, 0.2f};
  ProjectionResult r;
  const Vec q = project_vec(parse_projection("bits", 3), w, 1, &r);
  const double a = 9.45 / 33;
  CHECK(r.alpha[0] == doctest::Approx(a).epsilon(1e-6));
  const double expect[] = {3 * a, 2 * a, -a, 0, 3 * a, -3 * a, 0, a};
  for (size_t i = 0; i < w.size(); ++i) CHECK(q[i] == doctest::Approx(expect[i]).epsilon(1e-6));
}

// The BCGD code's quantize_fbit, transcribed: δ = max/15, code k for (2k−1)δ < |w| ≤ (2k+1)δ,
// 7 above 13δ, then the least-squares scale.
TEST_CASE("4-bit with one Lloyd step is the reference code's quantize_fbit") {
  for (Dist d : {Dist::Gaussian, Dist::Laplace, Dist::Uniform, Dist::Outlier}) {
    const Vec w = make(d, 20000, 99);
    double max = 0;
    for (float x : w) max = std::max(max, static_cast<double>(std::fabs(x)));
    const double delta = max / 15;
    std::vector<int> code(w.size());
    double wk = 0, kk = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      const double a = std::fabs(w[i]);
      code[i] = 0;
      for (int c = 1; c <= 7; ++c)
        if (a > (2 * c - 1) * delta && (c == 7 || a <= (2 * c + 1) * delta)) code[i] = c;
      wk += a * code[i];
      kk += code[i] * code[i];
    }
    const double scale = wk / kk;
    ProjectionResult r;
    const Vec q = project_vec(parse_projection("bits", 4), w, 1, &r);
    CHECK(r.alpha[0] == doctest::Approx(scale).epsilon(1e-6));
    int bad = 0;
    for (size_t i = 0; i < w.size(); ++i)
      bad += q[i] != doctest::Approx(std::copysign(scale * code[i], w[i])).epsilon(1e-6);
    CHECK(bad == 0);
  }
}

TEST_CASE("b-bit projection error does not increase with Lloyd iterations") {
  for (int bits : {3, 4, 6})
    for (Dist d : kDists) {
      const Vec w = make(d, 5000, 31 * bits);
      std::vector<double> errors;
      for (int t = 1; t <= 5; ++t) {
        ProjectionResult r;
        project_vec(parse_projection("bits", bits, t), w, 1, &r);
        errors.push_back(r.error2);
      }
      INFO("bits = " << bits << ", distribution " << static_cast<int>(d));
      for (int t = 1; t < 5; ++t) CHECK(errors[t] <= errors[t - 1]);
      // Starting from the max is far from the best scale for a bell-shaped distribution.
      if (d == Dist::Gaussian && bits <= 4) CHECK(errors[4] < 0.9 * errors[0]);
    }
}

// Many weights just under the top of code 1's cell pull the least-squares α up so far that,
// uncapped, the largest weight would drop to code m − 1 and Q would not be idempotent.
TEST_CASE("b-bit projection keeps the largest weight on the top level") {
  Vec w(101, 0.42f);
  w[50] = -1.0f;
  for (int t = 1; t <= 5; ++t) {
    const ProjectionSpec spec = parse_projection("bits", 3, t);
    ProjectionResult r;
    const Vec q = project_vec(spec, w, 1, &r);
    INFO("lloyd-iters = " << t);
    CHECK(q[50] == -3 * r.alpha[0]);
    check_projection(spec, w);
  }
}

TEST_CASE("results are bit-identical with 1 and 2 threads") {
  // 128 × 512×3×3: 18 chunks of 32768.
  const int64_t rows = 128, n = rows * 4608;
  for (Dist d : {Dist::Gaussian, Dist::Ties, Dist::WideRange, Dist::Narrow}) {
    const Vec w = make(d, n, 2024);
    for (ProjectionSpec spec : all_specs())
      for (bool per_channel : {false, true}) {
        spec.per_channel = per_channel;
        INFO(describe(spec));
        ProjectionResult r1, r2;
        set_threads(1);
        const Vec q1 = project_vec(spec, w, rows, &r1);
        set_threads(2);
        const Vec q2 = project_vec(spec, w, rows, &r2);
        CHECK(same_bits(q1, q2));
        CHECK(r1.alpha == r2.alpha);
        CHECK(r1.error2 == r2.error2);
        CHECK(r1.norm2 == r2.norm2);
      }
  }
  set_threads(0);
}

TEST_CASE("parse_projection: names, widths and errors") {
  for (const ProjectionSpec& spec : all_specs()) {
    const ProjectionSpec back =
        parse_projection(projection_name(spec), spec.bits, spec.lloyd_iters);
    CHECK(back.kind == spec.kind);
    CHECK(back.bits == spec.bits);
  }
  CHECK(parse_projection("bits", 1).kind == ProjectionKind::Binary);
  CHECK(parse_projection("bits", 2).kind == ProjectionKind::Ternary);
  CHECK(parse_projection("bits", 4).kind == ProjectionKind::Bits);
  CHECK(parse_projection("ternary", 2).kind == ProjectionKind::Ternary);
  CHECK(set_size(parse_projection("binary-noscale")) == 2);
  CHECK(set_size(parse_projection("ternary-twn")) == 3);
  CHECK(set_size(parse_projection("bits", 4)) == 15);
  CHECK_THROWS_WITH_AS(parse_projection("trinary"), doctest::Contains("ternary-twn-n"), UsageError);
  CHECK_THROWS_AS(parse_projection("binary", 2), UsageError);
  CHECK_THROWS_AS(parse_projection("bits"), UsageError);
  CHECK_THROWS_AS(parse_projection("bits", 9), UsageError);
  CHECK_THROWS_AS(parse_projection("bits", 4, 0), UsageError);
  CHECK(projection_help().find("binary-median") != std::string::npos);
  Vec w(10), q(10);
  CHECK_THROWS_AS(project(parse_projection("binary", 0, 1, true), w, q, 3), std::invalid_argument);
  Vec short_q(9);
  CHECK_THROWS_AS(project(parse_projection("binary"), w, short_q), std::invalid_argument);
}

TEST_CASE("check_in_set rejects values outside the set") {
  CHECK(check_in_set(parse_projection("binary"), Vec{0.5f, -0.5f, 0.0f}) != "");
  CHECK(check_in_set(parse_projection("binary-noscale"), Vec{0.5f, -0.5f}) != "");
  CHECK(check_in_set(parse_projection("ternary"), Vec{0.5f, -0.25f, 0.0f}) != "");
  CHECK(check_in_set(parse_projection("ternary"), Vec{0.5f, -0.5f, 0.0f}) == "");
  CHECK(check_in_set(parse_projection("bits", 3), Vec{0.1f, 0.25f}) != "");
  CHECK(check_in_set(parse_projection("bits", 3), Vec{0.1f, -0.3f, 0.2f, 0.0f}) == "");
  CHECK(check_in_set(parse_projection("bits", 3), Vec{0.1f, 0.2f, 0.3f, 0.4f}) != "");
  // Per channel: each row has its own α.
  const ProjectionSpec pc = parse_projection("ternary", 0, 1, true);
  CHECK(check_in_set(pc, Vec{0.5f, -0.5f, 0.25f, 0.0f}, 2) == "");
  CHECK(check_in_set(pc, Vec{0.5f, -0.25f, 0.25f, 0.0f}, 2).find("row 0") == 0);
  CHECK(distinct_values(Vec{0.0f, -0.0f, 1.0f, 1.0f, -1.0f}) == 3);
}
