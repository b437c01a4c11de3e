#pragma once
// Helpers of the fuzz tests of checkpoints, configuration and sweep files, and packages: the
// outcome of one mutated input (loaded, or refused with the typed error main maps to exit 2 or
// 3), a count per test case, byte edits and zlib's CRC-32.
//
// Include this header in exactly one file of a test executable: it also sets AddressSanitizer's
// options of the sanitized build (tools/sanitize), where any single allocation above 256 MiB
// aborts the test. The inputs here are at most a few megabytes, so such an allocation can only
// come from a size a mutated file declared and the reader believed.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <exception>
#include <string>
#include <typeinfo>

#include "engine/core/error.h"

extern "C" const char* __asan_default_options() {
  return "max_allocation_size_mb=256:allocator_may_return_null=0";
}

namespace fuzz {

enum class Outcome { Loaded, Usage, Data, Other };

struct Attempt {
  Outcome outcome = Outcome::Loaded;
  std::string message;  // of the error
  bool refused() const { return outcome == Outcome::Usage || outcome == Outcome::Data; }
};

// Runs `f`: loaded, refused with UsageError (exit 2) or DataError (exit 3), or — a failure of
// the test — any other exception, which main would report as exit 1.
template <class F>
Attempt attempt(F&& f) {
  try {
    f();
    return {};
  } catch (const qt::UsageError& e) {
    return {Outcome::Usage, e.what()};
  } catch (const qt::DataError& e) {
    return {Outcome::Data, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::Other, std::string(typeid(e).name()) + ": " + e.what()};
  }
}

// Mutated inputs checked by one test case, and how many of them loaded.
struct Tally {
  int cases = 0, loaded = 0;
  void count(const Attempt& a) {
    ++cases;
    if (a.outcome == Outcome::Loaded) ++loaded;
  }
  void report(const std::string& what, int minimum) const {
    MESSAGE(cases << " mutated " << what << " checked: " << loaded << " loaded, " << cases - loaded
                  << " refused");
    CHECK(cases >= minimum);
  }
};

inline uint64_t get_le(const std::string& b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}

inline void put_le(std::string& b, size_t at, int n, uint64_t v) {
  for (int i = 0; i < n; ++i) b[at + i] = static_cast<char>(i < 8 ? v >> (8 * i) & 0xff : 0);
}

inline uint32_t crc(const std::string& data, uint32_t start = 0) {
  return static_cast<uint32_t>(
      crc32(start, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace fuzz
