#pragma once
// The instruction sets this CPU offers, read with cpuid. A flag is true only when the CPU reports
// the instructions AND the operating system saves their registers on a context switch (XGETBV's
// XCR0): a VM or kernel may hide AVX-512's or AMX's state even when cpuid lists them, and then
// using them faults. Used to check which OpenBLAS kernel the CPU can run (blas_kernel.h) and to
// report the machine; all false on other architectures than x86.
#include <string>

namespace qt {

struct CpuFeatures {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ... ("" when unknown)
  std::string brand;   // the model name, e.g. "Intel(R) Xeon(R) Processor" ("" when unknown)
  bool sse2 = false, sse3 = false, ssse3 = false, sse4_1 = false, sse4_2 = false;
  bool avx = false, fma = false, avx2 = false;  // need the OS to save the ymm registers
  // AVX-512 (needs the OS to save the zmm and mask registers).
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false, avx512cd = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx512_vpopcntdq = false;
  bool amx_tile = false, amx_bf16 = false, amx_int8 = false;  // need the OS to save the tiles
  // What the OS saves (XCR0): ymm for AVX, zmm and masks for AVX-512, tiles for AMX.
  bool os_ymm = false, os_zmm = false, os_amx = false;

  // The AVX-512 subset of Skylake-SP and later (F, BW, DQ, VL, CD): what compilers' x86-64-v4
  // and OpenBLAS's SkylakeX kernels use.
  bool avx512() const { return avx512f && avx512bw && avx512dq && avx512vl && avx512cd; }
  // The usable flags, space-separated ("sse2 ... avx512f ... amx_int8").
  std::string names() const;
};

// This CPU's features (read once; cheap to call again).
const CpuFeatures& cpu_features();

}  // namespace qt
