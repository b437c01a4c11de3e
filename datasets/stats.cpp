#include "datasets/stats.h"

#include <tbb/combinable.h>

#include <cmath>

#include "engine/core/parallel.h"

namespace qt {

DatasetStats dataset_stats(const Dataset& d) {
  DatasetStats s;
  s.class_counts.assign(d.classes, 0);
  for (int32_t y : d.labels) ++s.class_counts[y];
  // Image files are decoded batch by batch: their pixel statistics would take a whole pass.
  if (d.file_backed()) return s;
  const int C = d.channels;
  const int64_t plane = int64_t{d.height} * d.width;
  // Integer sums of p and p² (p ≤ 255): exact, so the split between threads cannot matter.
  struct Sums {
    std::vector<uint64_t> sum, sq;
  };
  tbb::combinable<Sums> partial([C] {
    return Sums{std::vector<uint64_t>(C), std::vector<uint64_t>(C)};
  });
  parallel_for(d.size(), 256, [&](int64_t i0, int64_t i1) {
    Sums& p = partial.local();
    for (int64_t i = i0; i < i1; ++i)
      for (int c = 0; c < C; ++c) {
        const uint8_t* px = d.pixels.data() + (i * C + c) * plane;
        uint64_t s1 = 0, s2 = 0;
        for (int64_t j = 0; j < plane; ++j) {
          s1 += px[j];
          s2 += uint32_t{px[j]} * px[j];
        }
        p.sum[c] += s1;
        p.sq[c] += s2;
      }
  });
  Sums total{std::vector<uint64_t>(C), std::vector<uint64_t>(C)};
  partial.combine_each([&](const Sums& p) {
    for (int c = 0; c < C; ++c) {
      total.sum[c] += p.sum[c];
      total.sq[c] += p.sq[c];
    }
  });
  const double count = static_cast<double>(d.size()) * static_cast<double>(plane);
  for (int c = 0; c < C; ++c) {
    const double m = count > 0 ? total.sum[c] / count : 0.0;
    const double var = count > 0 ? total.sq[c] / count - m * m : 0.0;
    s.mean.push_back(m / 255.0);
    s.std.push_back(std::sqrt(std::max(var, 0.0)) / 255.0);
  }
  return s;
}

Normalization computed_normalization(const Dataset& d) {
  const DatasetStats s = dataset_stats(d);
  Normalization n;
  for (size_t c = 0; c < s.mean.size(); ++c) {
    n.mean.push_back(static_cast<float>(s.mean[c]));
    // A constant channel would divide by zero: leave its scale alone.
    n.std.push_back(s.std[c] > 1e-6 ? static_cast<float>(s.std[c]) : 1.0f);
  }
  return n;
}

}  // namespace qt
