#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"

namespace qt {

Dataset make_synthetic(const SyntheticSpec& spec, int split) {
  if (spec.channels < 1 || spec.height < 1 || spec.width < 1 || spec.classes < 2 ||
      spec.classes > 65536 || spec.train_size < 1 || spec.test_size < 1)
    throw UsageError(
        "synthetic dataset: expected channels, height, width ≥ 1, 2 ≤ classes ≤ 65536 "
        "and train/test sizes ≥ 1, found " +
        std::to_string(spec.channels) + "×" + std::to_string(spec.height) + "×" +
        std::to_string(spec.width) + ", " + std::to_string(spec.classes) + " classes, sizes " +
        std::to_string(spec.train_size) + "/" + std::to_string(spec.test_size));
  Dataset d;
  d.name = "synthetic";
  d.source = "synthetic (seed " + std::to_string(spec.seed) + ")";
  d.channels = spec.channels;
  d.height = spec.height;
  d.width = spec.width;
  d.classes = spec.classes;
  for (int c = 0; c < spec.classes; ++c) d.class_names.push_back("class" + std::to_string(c));
  const int64_t n = split == 0 ? spec.train_size : spec.test_size;
  const int64_t ss = d.sample_size();
  d.pixels.resize(static_cast<size_t>(n * ss));
  d.labels.resize(static_cast<size_t>(n));
  const uint64_t proto_key = derive(spec.seed, "synthetic-prototypes");
  const uint64_t sample_key = derive(derive(spec.seed, "synthetic-samples"), split);
  const float noise = std::clamp(spec.noise, 0.0f, 1.0f);
  // Every value is a pure function of (seed, split, index): identical for any thread count.
  parallel_for(n, 64, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const uint64_t key = derive(sample_key, static_cast<uint64_t>(i));
      const int label = static_cast<int>(mix64(key) % static_cast<uint64_t>(spec.classes));
      d.labels[i] = label;
      const uint64_t pkey = derive(proto_key, static_cast<uint64_t>(label));
      uint8_t* dst = d.pixels.data() + i * ss;
      for (int64_t j = 0; j < ss; ++j) {
        const float proto = uniform_at(pkey, j);
        const float v = (1.0f - noise) * proto + noise * uniform_at(key, j);
        dst[j] = static_cast<uint8_t>(std::lround(v * 255.0f));
      }
    }
  });
  return d;
}

}  // namespace qt
