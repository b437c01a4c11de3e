#include "engine/quant/projection_histogram.h"

#include <tbb/combinable.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "engine/quant/projection_kernels.h"

namespace qt::detail {

namespace {

// The integer significand of a finite float magnitude: |x| = significand · 2^(max(e,1) − 150).
uint64_t significand(uint32_t u) {
  return (u & 0x7fffffu) | (u >= 0x800000u ? 0x800000u : 0u);
}

}  // namespace

MagnitudeHistogram::MagnitudeHistogram(std::span<const float> w, uint32_t max_bits)
    : max_bits_(max_bits) {
  const int64_t n = static_cast<int64_t>(w.size());
  // Sums of up to n 24-bit significands stay exact in a double below 2^53.
  if (n >= (int64_t{1} << 29))
    throw std::invalid_argument("projection: tensors of 2^29 elements or more are not supported");
  // 2^(⌈log2 n⌉ − 7) buckets per octave, from 2 to 128: a few candidate buckets to sort, and not
  // many more buckets than weights to scan.
  const int log2n = std::bit_width(static_cast<uint64_t>(std::max<int64_t>(n, 1) - 1));
  fine_shift_ = 23 - std::clamp(log2n - 7, 1, 7);
  const uint32_t fine_buckets = uint32_t{kFineOctaves} << (23 - fine_shift_);
  fine_hi_ = max_bits >> fine_shift_;
  fine_lo_ = fine_hi_ >= fine_buckets - 1 ? fine_hi_ - (fine_buckets - 1) : 0;
  nfine_ = static_cast<int>(fine_hi_ - fine_lo_) + 1;
  if (fine_lo_ > 0) {
    coarse_hi_ = (fine_lo_ - 1) >> (23 - fine_shift_);
    ncoarse_ = static_cast<int>(coarse_hi_) + 1;
  }
  const size_t buckets = static_cast<size_t>(size());
  struct Table {
    std::vector<int64_t> count;
    std::vector<uint64_t> significands;
    explicit Table(size_t buckets) : count(buckets), significands(buckets) {}
    void add(std::span<const float> w, int64_t b, int64_t e, const MagnitudeHistogram& h) {
      for (int64_t i = b; i < e; ++i) {
        const uint32_t u = magnitude_bits(w[i]);
        const int k = h.bucket(u);
        ++count[k];
        significands[k] += significand(u);
      }
    }
  };
  Table table(buckets);
  if (n <= kChunk) {
    table.add(w, 0, n, *this);  // one row of a per-channel projection, say
  } else {
    tbb::combinable<Table> locals([&] { return Table(buckets); });
    parallel_for(n, kChunk, [&](int64_t b, int64_t e) { locals.local().add(w, b, e, *this); });
    // Integer sums: the order in which the threads' tables are merged does not matter.
    locals.combine_each([&](const Table& l) {
      for (size_t k = 0; k < buckets; ++k) {
        table.count[k] += l.count[k];
        table.significands[k] += l.significands[k];
      }
    });
  }
  count_ = std::move(table.count);
  const std::vector<uint64_t>& total = table.significands;
  sum_.resize(buckets);
  int scale_exponent = -1;
  double scale = 0;
  for (size_t k = 0; k < buckets; ++k) {
    // |x| = significand · 2^(max(e,1) − 150): a power of two within double's range, so the
    // product is exact.
    const int e = std::max(exponent(static_cast<int>(k)), 1);
    if (e != scale_exponent) scale = std::ldexp(1.0, (scale_exponent = e) - 150);
    sum_[k] = static_cast<double>(total[k]) * scale;
  }
}

int MagnitudeHistogram::exponent(int b) const {
  if (b < nfine_) return static_cast<int>((fine_hi_ - b) >> (23 - fine_shift_));
  return static_cast<int>(coarse_hi_) - (b - nfine_);
}

uint32_t MagnitudeHistogram::lower_bits(int b) const {
  if (b < nfine_) return (fine_hi_ - b) << fine_shift_;
  return static_cast<uint32_t>(exponent(b)) << 23;
}

double MagnitudeHistogram::upper(int b) const {
  return b == 0 ? from_bits(max_bits_) : from_bits(lower_bits(b - 1));
}

std::vector<float> MagnitudeHistogram::gather(std::span<const float> w,
                                              const std::vector<char>& take) const {
  // The marked buckets as ranges of bits [lo, lo + len), adjacent ones merged: usually one
  // range, tested with a single unsigned compare per element.
  struct Range {
    uint32_t lo, len;
  };
  std::vector<Range> ranges;
  for (int b = 0; b < size(); ++b) {
    if (!take[b]) continue;
    const uint32_t lo = lower_bits(b), hi = b == 0 ? max_bits_ + 1 : lower_bits(b - 1);
    if (!ranges.empty() && ranges.back().lo == hi)
      ranges.back() = {lo, ranges.back().len + (hi - lo)};
    else
      ranges.push_back({lo, hi - lo});
  }
  const int64_t n = static_cast<int64_t>(w.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<std::vector<float>> parts(chunks);
  parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      std::vector<float>& part = parts[c];
      const int64_t end = std::min(n, (c + 1) * kChunk);
      for (const Range r : ranges)  // a local copy: the loop below then keeps it in registers
        for (int64_t i = c * kChunk; i < end; ++i) {
          const uint32_t u = magnitude_bits(w[i]);
          if (u - r.lo < r.len) part.push_back(from_bits(u));
        }
    }
  });
  std::vector<float> out;
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

}  // namespace qt::detail
