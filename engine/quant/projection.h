#pragma once
// Projections Q(w) of a float weight tensor onto a quantized set (docs/math.md §1).
//
// They work on plain float spans and know nothing of layers. One scale α per tensor, or one per
// output channel (per_channel: one per row of shape[0]). Every projection is deterministic and
// gives bit-identical results for every thread count: reductions run over fixed chunks in a
// fixed order (projection_kernels.h).
//
// Every kind but ternary-twn-n is idempotent, bit for bit: Q(Q(w)) = Q(w). sign(0) = +1, and
// zeros of Q are +0. All-zero input gives α = 0 and Q = 0 (binary-noscale: Q = +1); NaN or
// infinite weights throw std::runtime_error (the training has diverged).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qt {

enum class ProjectionKind {
  // {−α, +α}, α = mean|w|: the exact Euclidean projection.
  Binary,
  // {−α, +α}, α = median|w| (the lower median, as torch.median): an option of the BCGD code.
  BinaryMedian,
  // {−1, +1}: sign(w) (BinaryConnect, Iterative Training).
  BinaryNoScale,
  // {−α, 0, +α}: the exact Euclidean projection (BinaryRelax paper).
  Ternary,
  // {−α, 0, +α}: TWN, Δ = 0.7·mean|w|, α = the mean of |w_i| over |w_i| > Δ.
  TernaryTwn,
  // As TWN but α = Σ_{|w_i|>Δ}|w_i| / n, as the BinaryRelax and BCGD code: not idempotent,
  // Q(Q(w)) = (kept/n)·Q(w).
  TernaryTwnN,
  // {0, ±1, …, ±m}·α, m = 2^(b−1) − 1, b = 3..8: Lloyd iterations from the max
  // (projection_bits.cpp); α has 25 − b significant bits, so every level is an exact float.
  Bits,
};

struct ProjectionSpec {
  ProjectionKind kind = ProjectionKind::Binary;
  int bits = 1;         // the set's width: 1 for binary kinds, 2 for ternary kinds, 3..8 for Bits
  int lloyd_iters = 1;  // Bits only: alternations of code assignment and least-squares α
  bool per_channel = false;  // one α per row of shape[0] instead of one per tensor
};

// Names: binary, binary-median, binary-noscale, ternary, ternary-twn, ternary-twn-n, bits.
// `bits` = 0 means "not given". For "bits" it is required: 1 → binary, 2 → ternary (exact),
// 3..8 → Bits. For the other names it must be 0 or the name's own width (1 or 2).
// Throws qt::UsageError naming the valid values.
ProjectionSpec parse_projection(std::string_view name, int bits = 0, int lloyd_iters = 1,
                                bool per_channel = false);
// The name parse_projection accepts for this spec's kind (with spec.bits it round-trips).
std::string projection_name(const ProjectionSpec& spec);
// One line per name, for --help.
std::string projection_help();

// The most distinct values of Q per tensor (per row when per_channel): 2, 3 or 2^b − 1.
int64_t set_size(const ProjectionSpec& spec);
// Bits of an index into a set of n values, ceil(log2 n) and at least 1: a packed weight's width
// (1 binary, 2 ternary, b for 2^b − 1 levels).
inline int index_bits(int64_t n) {
  int b = 1;
  while ((int64_t{1} << b) < n) ++b;
  return b;
}

struct ProjectionResult {
  std::vector<float> alpha;  // one per row when per_channel, else one (1 for binary-noscale)
  double error2 = 0;         // ‖w − Q‖², summed over rows
  double norm2 = 0;          // ‖w‖²: the relative projection error is sqrt(error2 / norm2)
};

// Writes Q(w) into q (same size; q may be w itself, for an in-place projection, but must not
// partially overlap it). `rows` is shape[0]: used only when spec.per_channel, then it must
// divide w.size(). Throws std::invalid_argument on mismatched sizes.
ProjectionResult project(const ProjectionSpec& spec, std::span<const float> w, std::span<float> q,
                         int64_t rows = 1);

// Checks that q lies in the spec's set (per row when per_channel): binary-noscale ±1 only;
// binary one magnitude; ternary kinds magnitudes ⊆ {0, α}; Bits magnitudes ⊆ {0, α, …, mα}
// for one α (to a relative 1e-6). Returns "" when it does, else a one-line reason.
std::string check_in_set(const ProjectionSpec& spec, std::span<const float> q, int64_t rows = 1);

// The number of distinct values in v (−0 and +0 count as one): the "lies in its set" figure of
// docs/math.md §6.
int64_t distinct_values(std::span<const float> v);

}  // namespace qt
