#include "engine/quant/projection.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/quant/projection_kernels.h"

namespace qt {

namespace {

struct KindInfo {
  ProjectionKind kind;
  const char* name;
  int bits;  // the set's width; 0 for Bits (given by the user)
  const char* help;
};

constexpr KindInfo kKinds[] = {
    {ProjectionKind::Binary, "binary", 1, "{-a,+a}, a = mean|w|: the exact projection"},
    {ProjectionKind::BinaryMedian, "binary-median", 1,
     "{-a,+a}, a = median|w| (an option of the BCGD code)"},
    {ProjectionKind::BinaryNoScale, "binary-noscale", 1, "{-1,+1}: sign(w), no scale"},
    {ProjectionKind::Ternary, "ternary", 2, "{-a,0,+a}: the exact projection (BinaryRelax)"},
    {ProjectionKind::TernaryTwn, "ternary-twn", 2,
     "{-a,0,+a}: TWN, keep |w| > 0.7 mean|w|, a = mean of the kept |w|"},
    {ProjectionKind::TernaryTwnN, "ternary-twn-n", 2,
     "as ternary-twn but a = (sum of the kept |w|) / n, as the BinaryRelax/BCGD code"},
    {ProjectionKind::Bits, "bits", 0,
     "{0,+-1..+-m}a, m = 2^(b-1)-1: Lloyd iterations from a = 2 max|w|/(2m+1); "
     "b = 1: binary, b = 2: ternary"},
};

const KindInfo& info(ProjectionKind kind) {
  for (const KindInfo& k : kKinds)
    if (k.kind == kind) return k;
  throw std::invalid_argument("projection: unknown kind");
}

std::string valid_names() {
  std::string s;
  for (const KindInfo& k : kKinds) s += std::string(s.empty() ? "" : ", ") + k.name;
  return s;
}

detail::TensorFit project_tensor(const ProjectionSpec& spec, std::span<const float> w,
                                 std::span<float> q) {
  switch (spec.kind) {
    case ProjectionKind::Binary:
      return detail::project_binary_mean(w, q);
    case ProjectionKind::BinaryMedian:
      return detail::project_binary_median(w, q);
    case ProjectionKind::BinaryNoScale:
      return detail::project_binary_noscale(w, q);
    case ProjectionKind::Ternary:
      return detail::project_ternary_exact(w, q);
    case ProjectionKind::TernaryTwn:
      return detail::project_ternary_twn(w, q, false);
    case ProjectionKind::TernaryTwnN:
      return detail::project_ternary_twn(w, q, true);
    case ProjectionKind::Bits:
      return detail::project_bits(w, q, spec.bits, spec.lloyd_iters);
  }
  throw std::invalid_argument("projection: unknown kind");
}

int64_t checked_rows(const ProjectionSpec& spec, size_t n, int64_t rows) {
  if (!spec.per_channel) return 1;
  if (rows < 1 || static_cast<int64_t>(n) % rows != 0)
    throw std::invalid_argument("projection: " + std::to_string(n) + " weights do not split into " +
                                std::to_string(rows) + " rows");
  return rows;
}

// "0, 0.5, 1.5, …" — the first few sorted values, for messages.
std::string list(const std::vector<float>& v) {
  std::ostringstream s;
  for (size_t i = 0; i < v.size() && i < 5; ++i) s << (i ? ", " : "") << v[i];
  if (v.size() > 5) s << ", …";
  return s.str();
}

// Why one group of magnitudes (sorted, distinct) is not in the set, or "".
std::string group_reason(const ProjectionSpec& spec, const std::vector<float>& mags) {
  const std::string found =
      std::to_string(mags.size()) + " distinct magnitudes (" + list(mags) + ")";
  switch (spec.kind) {
    case ProjectionKind::BinaryNoScale:
      if (mags.size() == 1 && mags[0] == 1.0f) return "";
      return found + ", expected only 1";
    case ProjectionKind::Binary:
    case ProjectionKind::BinaryMedian:
      if (mags.size() <= 1) return "";
      return found + ", expected one";
    case ProjectionKind::Ternary:
    case ProjectionKind::TernaryTwn:
    case ProjectionKind::TernaryTwnN:
      if (mags.size() <= 1 || (mags.size() == 2 && mags[0] == 0.0f)) return "";
      return found + ", expected 0 and one a";
    case ProjectionKind::Bits: {
      const int m = (1 << (spec.bits - 1)) - 1;
      const double top = mags.back();
      if (top == 0) return "";
      // Some code kt of the largest magnitude makes every magnitude a multiple k·a, k ≤ m.
      for (int kt = m; kt >= 1; --kt) {
        const double a = top / kt;
        const bool fits = std::all_of(mags.begin(), mags.end(), [&](float d) {
          const double k = std::nearbyint(d / a);
          return k <= m && std::abs(d - k * a) <= 1e-6 * top;
        });
        if (fits) return "";
      }
      return found + ", expected multiples 0, a, ..., " + std::to_string(m) + "a of one a";
    }
  }
  return "unknown projection";
}

}  // namespace

ProjectionSpec parse_projection(std::string_view name, int bits, int lloyd_iters,
                                bool per_channel) {
  const KindInfo* found = nullptr;
  for (const KindInfo& k : kKinds)
    if (name == k.name) found = &k;
  if (!found)
    throw UsageError("unknown projection '" + std::string(name) + "' (expected one of " +
                     valid_names() + ")");
  if (lloyd_iters < 1)
    throw UsageError("lloyd-iters must be at least 1, got " + std::to_string(lloyd_iters));
  ProjectionSpec spec{found->kind, found->bits, lloyd_iters, per_channel};
  if (found->kind == ProjectionKind::Bits) {
    if (bits < 1 || bits > 8)
      throw UsageError("projection 'bits' needs bits from 1 to 8, got " + std::to_string(bits));
    spec.bits = bits;
    if (bits == 1) spec.kind = ProjectionKind::Binary;
    if (bits == 2) spec.kind = ProjectionKind::Ternary;  // the exact projection onto {−α, 0, α}
  } else if (bits != 0 && bits != found->bits) {
    throw UsageError("projection '" + std::string(name) + "' is " + std::to_string(found->bits) +
                     "-bit, but bits " + std::to_string(bits) +
                     " was given (use 'bits' for b-bit sets)");
  }
  return spec;
}

std::string projection_name(const ProjectionSpec& spec) {
  return info(spec.kind).name;
}

std::string projection_help() {
  std::string s;
  for (const KindInfo& k : kKinds) s += std::string(k.name) + ": " + k.help + "\n";
  return s;
}

int64_t set_size(const ProjectionSpec& spec) {
  if (spec.kind == ProjectionKind::Bits) return (int64_t{1} << spec.bits) - 1;
  return info(spec.kind).bits == 1 ? 2 : 3;
}

ProjectionResult project(const ProjectionSpec& spec, std::span<const float> w, std::span<float> q,
                         int64_t rows) {
  if (w.size() != q.size())
    throw std::invalid_argument("projection: " + std::to_string(w.size()) + " weights but " +
                                std::to_string(q.size()) + " outputs");
  if (spec.kind == ProjectionKind::Bits && (spec.bits < 3 || spec.bits > 8))
    throw std::invalid_argument("projection: Bits needs 3 to 8 bits (use parse_projection)");
  rows = checked_rows(spec, w.size(), rows);
  const size_t len = w.size() / static_cast<size_t>(rows);
  std::vector<detail::TensorFit> fits(rows);
  // Rows are independent, and each is projected the same way whichever thread takes it.
  const int64_t grain = std::max<int64_t>(1, detail::kChunk / std::max<size_t>(len, 1));
  parallel_for(rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      fits[r] = project_tensor(spec, w.subspan(r * len, len), q.subspan(r * len, len));
  });
  ProjectionResult result;
  result.alpha.reserve(rows);
  for (const detail::TensorFit& f : fits) {
    result.alpha.push_back(f.alpha);
    result.error2 += f.errors.error2;
    result.norm2 += f.errors.norm2;
  }
  return result;
}

std::string check_in_set(const ProjectionSpec& spec, std::span<const float> q, int64_t rows) {
  rows = checked_rows(spec, q.size(), rows);
  const size_t len = q.size() / static_cast<size_t>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> mags(len);
    for (size_t i = 0; i < len; ++i) {
      mags[i] = std::fabs(q[r * len + i]);
      if (!std::isfinite(mags[i])) return "holds a non-finite value";
    }
    std::sort(mags.begin(), mags.end());
    mags.erase(std::unique(mags.begin(), mags.end()), mags.end());
    if (mags.empty()) continue;
    std::string why = group_reason(spec, mags);
    if (!why.empty())
      return (spec.per_channel ? "row " + std::to_string(r) + ": " : std::string()) + why + " (" +
             projection_name(spec) + ")";
  }
  return "";
}

int64_t distinct_values(std::span<const float> v) {
  std::vector<float> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());  // −0 == +0, so unique merges them
  return std::unique(s.begin(), s.end()) - s.begin();
}

}  // namespace qt
