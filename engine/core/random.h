#pragma once
// Random numbers whose sequence is fixed by qtrain itself (not by the C++ library's
// distributions, which differ between implementations), and whose state fits in a checkpoint.
#include <cstdint>

namespace qt {

// splitmix64's finalizer: a good 64-bit mix, used for seeding and for counter-based draws.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A stream key derived from a seed and a purpose, e.g. derive(seed, "init") or derive(seed, epoch).
inline uint64_t derive(uint64_t seed, uint64_t tag) {
  return mix64(seed ^ mix64(tag + 0x9e3779b97f4a7c15ULL));
}
uint64_t derive(uint64_t seed, const char* tag);

// Counter-based uniform in [0, 1): the same value for (key, i) whatever thread computes it,
// so parallel loops (dropout masks, augmentation) are identical for every thread count.
inline float uniform_at(uint64_t key, uint64_t i) {
  return static_cast<float>(mix64(key + 0x9e3779b97f4a7c15ULL * (i + 1)) >> 40) * 0x1.0p-24f;
}

// xoshiro256** — sequential generator for initialisation and shuffling.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next();
  float uniform();                    // [0, 1), 24 random bits
  float uniform(float lo, float hi);  // [lo, hi)
  float normal();                     // N(0, 1), Box-Muller without a cached second value
  uint64_t below(uint64_t n);         // uniform integer in [0, n), unbiased
  uint64_t state[4];
};

}  // namespace qt
