#include "engine/core/random.h"

#include <cmath>

namespace qt {

uint64_t derive(uint64_t seed, const char* tag) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the tag
  for (const char* p = tag; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 0x100000001b3ULL;
  return derive(seed, h);
}

void Rng::reseed(uint64_t seed) {
  uint64_t z = seed;
  for (auto& s : state) {
    z += 0x9e3779b97f4a7c15ULL;
    s = mix64(z);
  }
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t Rng::next() {
  const uint64_t result = rotl(state[1] * 5, 7) * 9;
  const uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

float Rng::uniform() {
  return static_cast<float>(next() >> 40) * 0x1.0p-24f;
}

float Rng::uniform(float lo, float hi) {
  return lo + (hi - lo) * uniform();
}

float Rng::normal() {
  // u1 in (0, 1] so that log never sees 0.
  double u1 = (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53;
  double u2 = static_cast<double>(next() >> 11) * 0x1.0p-53;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

uint64_t Rng::below(uint64_t n) {
  if (n <= 1) return 0;
  uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);  // reject the uneven tail
  uint64_t r;
  do r = next();
  while (r >= limit);
  return r % n;
}

}  // namespace qt
