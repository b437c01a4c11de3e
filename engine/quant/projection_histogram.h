#pragma once
// Magnitudes |w| in buckets, largest first: the parallel selection behind the exact ternary
// projection and the median, instead of sorting millions of weights every step.
//
// A bucket is a range of the bits of |w| (which order like the magnitudes): 2 to 128 buckets per
// octave (more for larger tensors) for the 10 octaves below max|w|, then one per exponent. So a
// bucket holds ~1% of the weights of a small tensor, ~0.2% of a large one. Each holds a single
// float exponent, so its sum is an exact integer sum of significands: counts and sums come out
// the same whatever the order or the threads that added them.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/quant/projection_kernels.h"

namespace qt::detail {

class MagnitudeHistogram {
 public:
  // max_bits = magnitude_bits(max|w|) > 0. Counts and sums w (in parallel).
  MagnitudeHistogram(std::span<const float> w, uint32_t max_bits);

  int size() const { return nfine_ + ncoarse_; }
  int bucket(uint32_t magnitude_bits) const {
    const uint32_t key = magnitude_bits >> fine_shift_;
    if (key >= fine_lo_) return static_cast<int>(fine_hi_ - key);
    return nfine_ + static_cast<int>(coarse_hi_ - (magnitude_bits >> 23));
  }
  int64_t count(int b) const { return count_[b]; }
  double sum(int b) const { return sum_[b]; }  // exact (rounded once to double)
  // Every magnitude in bucket b is ≥ from_bits(lower_bits(b)) and ≤ upper(b) (max|w| for
  // bucket 0, else where bucket b − 1 starts).
  uint32_t lower_bits(int b) const;
  double upper(int b) const;
  // The magnitudes of the elements whose bucket is marked in `take`, in no particular order.
  std::vector<float> gather(std::span<const float> w, const std::vector<char>& take) const;

 private:
  static constexpr int kFineOctaves = 10;
  int exponent(int b) const;

  uint32_t max_bits_;
  int fine_shift_;  // fine key = bits >> fine_shift_: the exponent and 23 − shift bits
  uint32_t fine_hi_, fine_lo_;  // fine keys covered: [fine_lo_, fine_hi_]
  uint32_t coarse_hi_ = 0;      // coarse buckets: exponents coarse_hi_ down to 0
  int nfine_, ncoarse_ = 0;
  std::vector<int64_t> count_;
  std::vector<double> sum_;
};

}  // namespace qt::detail
