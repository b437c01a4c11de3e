#include <stdexcept>

#include "datasets/dataset.h"
#include "datasets/image_batch.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"

namespace qt {

void make_batch(const Dataset& data, std::span<const int64_t> indices, const Normalization& norm,
                const Augmentation& aug, uint64_t key, Batch& out, int64_t first) {
  if (first < 0) throw std::logic_error("make_batch: negative first position");
  if (data.file_backed()) return make_file_batch(data, indices, norm, aug, key, out, first);
  const int64_t b = static_cast<int64_t>(indices.size());
  const int C = data.channels, H = data.height, W = data.width;
  if (static_cast<int>(norm.mean.size()) != C || static_cast<int>(norm.std.size()) != C)
    throw std::logic_error("make_batch: normalisation has " + std::to_string(norm.mean.size()) +
                           " channels, data has " + std::to_string(C));
  out.x.resize({b, C, H, W});
  out.y.resize(b);
  out.indices.assign(indices.begin(), indices.end());
  out.first = first;
  out.total = first + b;
  out.problems.clear();
  parallel_for(b, 8, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t idx = indices[i];
      out.y[i] = data.labels[idx];
      const uint8_t* src = data.pixels.data() + idx * data.sample_size();
      float* dst = out.x.data() + i * data.sample_size();
      const int64_t at = first + i;  // the position in the whole batch keys the draws
      int dy = 0, dx = 0;
      bool flip = false;
      if (aug.pad_crop > 0) {
        const int range = 2 * aug.pad_crop + 1;
        dy = static_cast<int>(uniform_at(key, 3 * at) * range) - aug.pad_crop;
        dx = static_cast<int>(uniform_at(key, 3 * at + 1) * range) - aug.pad_crop;
      }
      if (aug.hflip) flip = uniform_at(key, 3 * at + 2) < 0.5f;
      for (int c = 0; c < C; ++c) {
        const float scale = 1.0f / (255.0f * norm.std[c]);
        const float shift = -norm.mean[c] / norm.std[c];
        const float pad_value = shift;  // a zero pixel, normalised
        for (int y = 0; y < H; ++y) {
          const int sy = y + dy;
          for (int x = 0; x < W; ++x) {
            const int sx = (flip ? W - 1 - x : x) + dx;
            float v = pad_value;
            if (sy >= 0 && sy < H && sx >= 0 && sx < W)
              v = src[(c * H + sy) * W + sx] * scale + shift;
            dst[(c * H + y) * W + x] = v;
          }
        }
      }
    }
  });
}

}  // namespace qt
