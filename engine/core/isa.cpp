#include "engine/core/isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace qt {

#ifndef QTRAIN_BASELINE
#define QTRAIN_BASELINE "unknown"
#endif

// Data only, so nothing here runs before the start-up check reads it: constant-initialised.
extern const char kBuildBaseline[] = QTRAIN_BASELINE;
extern const char kBuildFeatures[] =
    ""
#if defined(__SSE3__)
    " sse3"
#endif
#if defined(__SSSE3__)
    " ssse3"
#endif
#if defined(__SSE4_1__)
    " sse4.1"
#endif
#if defined(__SSE4_2__)
    " sse4.2"
#endif
#if defined(__POPCNT__)
    " popcnt"
#endif
#if defined(__SSE4A__)
    " sse4a"
#endif
#if defined(__AVX__)
    " avx"
#endif
#if defined(__AVX2__)
    " avx2"
#endif
#if defined(__BMI__)
    " bmi"
#endif
#if defined(__BMI2__)
    " bmi2"
#endif
#if defined(__F16C__)
    " f16c"
#endif
#if defined(__FMA__)
    " fma"
#endif
#if defined(__LZCNT__)
    " lzcnt"
#endif
#if defined(__MOVBE__)
    " movbe"
#endif
#if defined(__FMA4__)
    " fma4"
#endif
#if defined(__XOP__)
    " xop"
#endif
#if defined(__AVXVNNI__)
    " avxvnni"
#endif
#if defined(__GFNI__)
    " gfni"
#endif
#if defined(__VAES__)
    " vaes"
#endif
#if defined(__VPCLMULQDQ__)
    " vpclmulqdq"
#endif
#if defined(__AVX512F__)
    " avx512f"
#endif
#if defined(__AVX512BW__)
    " avx512bw"
#endif
#if defined(__AVX512CD__)
    " avx512cd"
#endif
#if defined(__AVX512DQ__)
    " avx512dq"
#endif
#if defined(__AVX512VL__)
    " avx512vl"
#endif
#if defined(__AVX512VNNI__)
    " avx512vnni"
#endif
#if defined(__AVX512BF16__)
    " avx512bf16"
#endif
#if defined(__AVX512VPOPCNTDQ__)
    " avx512vpopcntdq"
#endif
#if defined(__AVX512IFMA__)
    " avx512ifma"
#endif
#if defined(__AVX512VBMI__)
    " avx512vbmi"
#endif
#if defined(__AVX512VBMI2__)
    " avx512vbmi2"
#endif
#if defined(__AVX512BITALG__)
    " avx512bitalg"
#endif
#if defined(__AVX512VP2INTERSECT__)
    " avx512vp2intersect"
#endif
#if defined(__AVX512FP16__)
    " avx512fp16"
#endif
    ;

namespace {

// -1 until set_kernel_path, then the forced KernelPath.
std::atomic<int> g_forced{-1};

const char kAvx512Needs[] = "avx512f avx512bw avx512cd avx512dq avx512vl";

}  // namespace

bool cpu_has_avx512() {
  static const bool has = [] {
    char missing[128];
    return missing_features(kAvx512Needs, cpu_feature_string(), missing, sizeof missing) == 0;
  }();
  return has;
}

KernelPath kernel_path() {
  const int forced = g_forced.load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<KernelPath>(forced);
  return cpu_has_avx512() ? KernelPath::Avx512 : KernelPath::Avx2;
}

bool use_avx512() {
  return kernel_path() == KernelPath::Avx512;
}

void set_kernel_path(KernelPath p) {
  if (p == KernelPath::Avx512 && !cpu_has_avx512())
    throw std::invalid_argument("set_kernel_path: this CPU cannot run the AVX-512 kernels");
  g_forced.store(static_cast<int>(p), std::memory_order_relaxed);
}

const char* kernel_path_name(KernelPath p) {
  return p == KernelPath::Avx512 ? "AVX-512" : "AVX2";
}

std::string isa_version_lines() {
  std::string build;
  if (std::string(kBuildBaseline) == "native") {
    char all[512];
    missing_features(kBuildFeatures, "", all, sizeof all);  // every name, as the check prints it
    build = std::string("build: native, -march=native of the machine that built it (") + all + ")";
  } else {
    build = "build: portable, " + std::string(kBuildBaseline) +
            " (AVX2, FMA, BMI2), AVX-512 kernels chosen at run time";
  }
  const KernelPath p = kernel_path();
  std::string why;
  const char* env = std::getenv("QTRAIN_CPU");
  if (g_forced.load(std::memory_order_relaxed) >= 0)
    why = "forced";
  else if (p == KernelPath::Avx512)
    why = "this CPU has AVX-512F/BW/CD/DQ/VL";
  else if (env && *env && cpu_level_from_name(env) < 4)
    why = std::string("QTRAIN_CPU=") + env;
  else
    why = "this CPU lacks AVX-512F/BW/CD/DQ/VL";
  return build + "\nkernels: " + kernel_path_name(p) + " (" + why + ")";
}

}  // namespace qt
