#include "datasets/split.h"

#include <algorithm>
#include <cstring>

#include "engine/core/error.h"
#include "engine/core/random.h"

namespace qt {

namespace {

// Fisher–Yates with qtrain's own generator: the same order on every standard library.
void shuffle(std::vector<int64_t>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace

SplitIndices split_indices(const std::vector<int32_t>& labels, int classes, int64_t val_size,
                           bool stratified, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (val_size < 0 || val_size >= n)
    throw UsageError("validation size " + std::to_string(val_size) + ": expected 0 ≤ size < " +
                     std::to_string(n) + " (the training set's size)");
  Rng rng(derive(seed, "validation-split"));
  std::vector<char> is_val(n, 0);
  if (!stratified) {
    std::vector<int64_t> all(n);
    for (int64_t i = 0; i < n; ++i) all[i] = i;
    shuffle(all, rng);
    for (int64_t i = 0; i < val_size; ++i) is_val[all[i]] = 1;
  } else {
    std::vector<std::vector<int64_t>> by_class(classes);
    for (int64_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);
    // Quotas by largest remainder: floor(val·n_c/n), then one more for the largest fractions
    // (ties to the lower class), so they sum to val_size exactly.
    std::vector<int64_t> quota(classes);
    std::vector<std::pair<int64_t, int>> rest(classes);
    int64_t given = 0;
    for (int c = 0; c < classes; ++c) {
      const int64_t prod = val_size * static_cast<int64_t>(by_class[c].size());
      quota[c] = prod / n;
      rest[c] = {prod % n, c};
      given += quota[c];
    }
    std::stable_sort(rest.begin(), rest.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int64_t k = 0; given < val_size; ++k, ++given) ++quota[rest[k].second];
    for (int c = 0; c < classes; ++c) {
      shuffle(by_class[c], rng);
      for (int64_t i = 0; i < quota[c]; ++i) is_val[by_class[c][i]] = 1;
    }
  }
  SplitIndices s;
  s.val.reserve(val_size);
  s.train.reserve(n - val_size);
  for (int64_t i = 0; i < n; ++i) (is_val[i] ? s.val : s.train).push_back(i);
  return s;
}

Dataset subset(const Dataset& d, const std::vector<int64_t>& indices) {
  Dataset out;
  out.name = d.name;
  out.source = d.source;
  out.channels = d.channels;
  out.height = d.height;
  out.width = d.width;
  out.classes = d.classes;
  out.class_names = d.class_names;
  out.resize = d.resize;
  out.skip_bad = d.skip_bad;
  if (d.file_backed()) {
    out.labels.resize(indices.size());
    out.files.resize(indices.size());
    for (size_t k = 0; k < indices.size(); ++k) {
      out.labels[k] = d.labels[indices[k]];
      out.files[k] = d.files[indices[k]];
    }
    return out;
  }
  const int64_t ss = d.sample_size();
  out.pixels.resize(indices.size() * ss);
  out.labels.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    out.labels[k] = d.labels[indices[k]];
    std::memcpy(out.pixels.data() + k * ss, d.pixels.data() + indices[k] * ss, ss);
  }
  return out;
}

Dataset split_off(Dataset& train, const std::vector<int64_t>& val) {
  Dataset out = subset(train, val);
  const int64_t ss = train.sample_size();
  int64_t kept = 0;
  size_t v = 0;
  for (int64_t i = 0; i < train.size(); ++i) {
    if (v < val.size() && val[v] == i) {
      ++v;
      continue;
    }
    if (kept != i) {
      train.labels[kept] = train.labels[i];
      if (train.file_backed()) {
        train.files[kept] = std::move(train.files[i]);
        ++kept;
        continue;
      }
      std::memmove(train.pixels.data() + kept * ss, train.pixels.data() + i * ss, ss);
    }
    ++kept;
  }
  truncate(train, kept);
  return out;
}

void truncate(Dataset& d, int64_t n) {
  if (n <= 0 || n >= d.size()) return;
  d.labels.resize(n);
  if (d.file_backed()) {
    d.files.resize(n);
    d.files.shrink_to_fit();
  } else {
    d.pixels.resize(n * d.sample_size());
  }
  d.labels.shrink_to_fit();
  d.pixels.shrink_to_fit();
}

}  // namespace qt
