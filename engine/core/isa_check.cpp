// The start-up check of the CPU against the build (engine/core/isa.h). This file is compiled for
// plain x86-64 (engine/CMakeLists.txt) and runs before every other initialiser of the process:
// the rest of the program may use AVX2 anywhere, static initialisers included. So it calls only
// its own functions and the C library, never an inline function or template that another
// translation unit could have compiled for a newer CPU (the linker keeps one copy of those).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/core/isa.h"

namespace qt {

namespace isa_check {
namespace {

// The extensions the check knows, with the x86-64 level they belong to (1 baseline, 2 x86-64-v2,
// 3 x86-64-v3 and the other AVX-era extensions, 4 AVX-512). __builtin_cpu_supports takes only
// literals, hence the list macro. The names are those of kBuildFeatures (isa.cpp).
// clang-format off
#define QT_FEATURES(X)                                                                           \
  X("sse3", 2) X("ssse3", 2) X("sse4.1", 2) X("sse4.2", 2) X("popcnt", 2) X("sse4a", 2)          \
  X("avx", 3) X("avx2", 3) X("bmi", 3) X("bmi2", 3) X("f16c", 3) X("fma", 3) X("lzcnt", 3)       \
  X("movbe", 3) X("fma4", 3) X("xop", 3) X("avxvnni", 3) X("gfni", 3) X("vaes", 3)               \
  X("vpclmulqdq", 3)                                                                             \
  X("avx512f", 4) X("avx512bw", 4) X("avx512cd", 4) X("avx512dq", 4) X("avx512vl", 4)            \
  X("avx512vnni", 4) X("avx512bf16", 4) X("avx512vpopcntdq", 4) X("avx512ifma", 4)               \
  X("avx512vbmi", 4) X("avx512vbmi2", 4) X("avx512bitalg", 4) X("avx512vp2intersect", 4)         \
  X("avx512fp16", 4)
// clang-format on

struct Feature {
  const char* name;
  int level;
};

constexpr Feature kFeatures[] = {
#define QT_ROW(name, level) {name, level},
    QT_FEATURES(QT_ROW)
#undef QT_ROW
};

bool cpu_supports(const char* name) {
#define QT_TEST(n, level) \
  if (std::strcmp(name, n) == 0) return __builtin_cpu_supports(n);
  QT_FEATURES(QT_TEST)
#undef QT_TEST
  return false;
}

// Calls fn(word, length) for each space-separated word of s.
template <class Fn>
void for_each_word(const char* s, Fn fn) {
  while (*s) {
    while (*s == ' ') ++s;
    const char* end = s;
    while (*end && *end != ' ') ++end;
    if (end > s) fn(s, static_cast<size_t>(end - s));
    s = end;
  }
}

bool has_word(const char* list, const char* word, size_t len) {
  bool found = false;
  for_each_word(list, [&](const char* w, size_t n) {
    found = found || (n == len && std::strncmp(w, word, len) == 0);
  });
  return found;
}

// Appends s (len chars) to out (size n, `used` taken), truncating.
void append(char* out, size_t n, size_t& used, const char* s, size_t len, bool upper) {
  for (size_t i = 0; i < len && used + 1 < n; ++i) {
    const char c = s[i];
    out[used++] = upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  out[used] = '\0';
}

char g_present[512];
bool g_ready = false;

void detect() {
  if (g_ready) return;
  const int level = cpu_level_from_name(std::getenv("QTRAIN_CPU"));
  size_t used = 0;
  g_present[0] = '\0';
  for (const Feature& f : kFeatures)
    if (f.level <= (level < 0 ? 4 : level) && cpu_supports(f.name)) {
      if (used) append(g_present, sizeof g_present, used, " ", 1, false);
      append(g_present, sizeof g_present, used, f.name, std::strlen(f.name), false);
    }
  g_ready = true;
}

// Before every other initialiser of the executable (priorities 101 and up run first, the plain
// constructors of the other files last): a CPU the build cannot run on ends here, with exit 1.
__attribute__((constructor(101))) void check_cpu_at_start() {
  __builtin_cpu_init();
  const char* env = std::getenv("QTRAIN_CPU");
  if (cpu_level_from_name(env) < 0) {
    std::fprintf(stderr,
                 "qtrain: QTRAIN_CPU='%s' is not one of x86-64, x86-64-v2, avx2 (or x86-64-v3), "
                 "avx512 (or x86-64-v4)\n",
                 env);
    _exit(2);
  }
  detect();
  char missing[512];
  if (missing_features(kBuildFeatures, g_present, missing, sizeof missing) == 0) return;
  const char* limited = env && *env ? " (as QTRAIN_CPU presents it)" : "";
  if (std::strcmp(kBuildBaseline, "native") == 0)
    std::fprintf(stderr,
                 "qtrain: this CPU%s lacks %s, which this build of qtrain requires: it was "
                 "compiled with -march=native for the machine that built it. Rebuild qtrain on "
                 "this machine, or build the portable qtrain (cmake -DQTRAIN_NATIVE=OFF), which "
                 "runs on any x86-64-v3 CPU.\n",
                 limited, missing);
  else
    std::fprintf(stderr,
                 "qtrain: this CPU%s lacks %s, which this build of qtrain requires: it was "
                 "compiled for %s (AVX2, FMA, BMI2: Intel Haswell, AMD Zen or newer). Build "
                 "qtrain on this machine with cmake -DQTRAIN_NATIVE=ON.\n",
                 limited, missing, kBuildBaseline);
  _exit(1);
}

}  // namespace
}  // namespace isa_check

using namespace isa_check;

int cpu_level_from_name(const char* name) {
  if (!name || !*name) return 4;
  if (std::strcmp(name, "x86-64") == 0) return 1;
  if (std::strcmp(name, "x86-64-v2") == 0) return 2;
  if (std::strcmp(name, "avx2") == 0 || std::strcmp(name, "x86-64-v3") == 0) return 3;
  if (std::strcmp(name, "avx512") == 0 || std::strcmp(name, "x86-64-v4") == 0) return 4;
  return -1;
}

int missing_features(const char* required, const char* present, char* out, size_t n) {
  int count = 0;
  size_t used = 0;
  if (n) out[0] = '\0';
  for_each_word(required, [&](const char* w, size_t len) {
    if (has_word(present, w, len)) return;
    if (count++) append(out, n, used, ", ", 2, false);
    append(out, n, used, w, len, true);
  });
  return count;
}

const char* cpu_feature_string() {
  detect();
  return g_present;
}

}  // namespace qt
