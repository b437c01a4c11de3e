#include "engine/core/cpu_features.h"

#include <cstring>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace qt {

namespace {

#if defined(__x86_64__) || defined(__i386__)
struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

// cpuid(leaf, subleaf); all zero when the leaf is above the CPU's maximum.
Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) r = {};
  return r;
}

bool bit(unsigned reg, int n) {
  return (reg >> n) & 1u;
}

// XCR0: which register states the OS saves. Only readable when the OS set OSXSAVE.
unsigned long long xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures read_features() {
  CpuFeatures f;
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  f.vendor = vendor;
  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    f.brand = brand;
    const size_t first = f.brand.find_first_not_of(' '), last = f.brand.find_last_not_of(' ');
    f.brand = first == std::string::npos ? "" : f.brand.substr(first, last - first + 1);
  }

  const Regs l1 = cpuid(1);
  f.sse2 = bit(l1.d, 26);
  f.sse3 = bit(l1.c, 0);
  f.ssse3 = bit(l1.c, 9);
  f.sse4_1 = bit(l1.c, 19);
  f.sse4_2 = bit(l1.c, 20);
  if (bit(l1.c, 27)) {  // OSXSAVE
    const unsigned long long x = xcr0();
    f.os_ymm = (x & 0x6) == 0x6;                // SSE and AVX state
    f.os_zmm = f.os_ymm && (x & 0xe0) == 0xe0;  // opmask, upper zmm0-15, zmm16-31
    f.os_amx = (x & 0x60000) == 0x60000;        // tile config and tile data
  }
  const unsigned max_leaf = v.a;
  const Regs l7 = max_leaf >= 7 ? cpuid(7, 0) : Regs{};
  const Regs l7s1 = max_leaf >= 7 && l7.a >= 1 ? cpuid(7, 1) : Regs{};
  f.avx = f.os_ymm && bit(l1.c, 28);
  f.fma = f.os_ymm && bit(l1.c, 12);
  f.avx2 = f.os_ymm && bit(l7.b, 5);
  f.avx512f = f.os_zmm && bit(l7.b, 16);
  f.avx512dq = f.os_zmm && bit(l7.b, 17);
  f.avx512cd = f.os_zmm && bit(l7.b, 28);
  f.avx512bw = f.os_zmm && bit(l7.b, 30);
  f.avx512vl = f.os_zmm && bit(l7.b, 31);
  f.avx512_vnni = f.os_zmm && bit(l7.c, 11);
  f.avx512_vpopcntdq = f.os_zmm && bit(l7.c, 14);
  f.avx512_fp16 = f.os_zmm && bit(l7.d, 23);
  f.avx512_bf16 = f.os_zmm && bit(l7s1.a, 5);
  f.amx_bf16 = f.os_amx && bit(l7.d, 22);
  f.amx_tile = f.os_amx && bit(l7.d, 24);
  f.amx_int8 = f.os_amx && bit(l7.d, 25);
  return f;
}
#else
CpuFeatures read_features() {
  return {};
}
#endif

}  // namespace

std::string CpuFeatures::names() const {
  const std::vector<std::pair<const char*, bool>> all = {{"sse2", sse2},
                                                         {"sse3", sse3},
                                                         {"ssse3", ssse3},
                                                         {"sse4_1", sse4_1},
                                                         {"sse4_2", sse4_2},
                                                         {"avx", avx},
                                                         {"fma", fma},
                                                         {"avx2", avx2},
                                                         {"avx512f", avx512f},
                                                         {"avx512bw", avx512bw},
                                                         {"avx512dq", avx512dq},
                                                         {"avx512vl", avx512vl},
                                                         {"avx512cd", avx512cd},
                                                         {"avx512_vnni", avx512_vnni},
                                                         {"avx512_bf16", avx512_bf16},
                                                         {"avx512_fp16", avx512_fp16},
                                                         {"avx512_vpopcntdq", avx512_vpopcntdq},
                                                         {"amx_tile", amx_tile},
                                                         {"amx_bf16", amx_bf16},
                                                         {"amx_int8", amx_int8}};
  std::string s;
  // Two appends rather than `sep + std::string(name)`: GCC 12 at -O3 reports a false -Wrestrict
  // on that temporary (GCC bug 105329), which -Werror builds would stop at.
  for (const auto& [name, on] : all) {
    if (!on) continue;
    if (!s.empty()) s += ' ';
    s += name;
  }
  return s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = read_features();
  return f;
}

}  // namespace qt
