#pragma once
// Instruction sets: what this build requires of the CPU, what the CPU offers, and which kernel
// path the engine takes.
//
// The portable build compiles everything for x86-64-v3 (AVX2, FMA, BMI2) and its AVX-512 kernels
// for AVX-512 (engine/kernels/conv_direct_blocks.h and the functions marked kAvx512Target),
// choosing them at run time when the CPU has AVX-512F/BW/CD/DQ/VL. A native build (QTRAIN_NATIVE)
// compiles everything for the building machine. Before any other code runs, a check (isa_check.cpp,
// built for plain x86-64 so that it runs anywhere) compares the CPU with the build's requirements
// and ends the process with one message and exit code 1 rather than dying of SIGILL later.
//
// QTRAIN_CPU=x86-64|x86-64-v2|avx2|avx512 (also x86-64-v3, x86-64-v4) makes the process treat the
// CPU as having no more than that level's extensions: the AVX2 kernels on an AVX-512 machine, or
// the start-up check's message on any machine. Anything else is refused at start-up (exit 2).
#include <cstddef>
#include <string>

namespace qt {

// The target of the AVX-512 kernels, the x86-64-v4 extensions: QT_AVX512 on a function, or
// QT_AVX512_BEGIN … QT_AVX512_END around a region (after its #includes, so that the inline
// functions and templates of other headers stay compiled for the baseline in every translation
// unit). Code compiled for it may run only when kernel_path() is Avx512.
#define QT_AVX512 __attribute__((target("avx512f,avx512bw,avx512cd,avx512dq,avx512vl")))
// (Unformatted: a _Pragma takes one string literal.)
// clang-format off
#define QT_AVX512_BEGIN _Pragma("GCC push_options") \
  _Pragma("GCC target(\"avx512f,avx512bw,avx512cd,avx512dq,avx512vl\")")
// clang-format on
#define QT_AVX512_END _Pragma("GCC pop_options")

enum class KernelPath { Avx2, Avx512 };

// The path the kernels take now: Avx512 when the CPU (as QTRAIN_CPU presents it) has the
// x86-64-v4 extensions, unless set_kernel_path chose Avx2.
KernelPath kernel_path();
bool use_avx512();  // kernel_path() == KernelPath::Avx512
// Whether the CPU (as QTRAIN_CPU presents it) can run the AVX-512 kernels.
bool cpu_has_avx512();
// Forces a path for this process (tests: the same layers on both paths). Avx512 needs
// cpu_has_avx512(), else std::invalid_argument.
void set_kernel_path(KernelPath p);
const char* kernel_path_name(KernelPath p);  // "AVX2", "AVX-512"

// The lines `qtrain --version` prints about instruction sets: the build's baseline and the kernel
// path in use, with why.
std::string isa_version_lines();

// ---- the start-up check (isa_check.cpp), exposed for tests -------------------------------------

// The extensions the compiler could use for this build (from its predefined macros), as
// space-separated lower-case names ("avx avx2 bmi ..."), and the baseline's name ("x86-64-v3" or
// "native").
extern const char kBuildFeatures[];
extern const char kBuildBaseline[];

// The level QTRAIN_CPU names: 1 x86-64, 2 x86-64-v2, 3 avx2 / x86-64-v3, 4 avx512 / x86-64-v4;
// 4 for null or empty (no limit), -1 for an unknown name.
int cpu_level_from_name(const char* name);
// Writes to out (size n, always terminated) the names of `required` (space-separated) missing
// from `present` (space-separated), upper-case and comma-separated ("AVX2, FMA"); returns how
// many are missing.
int missing_features(const char* required, const char* present, char* out, size_t n);
// This CPU's extensions among those kBuildFeatures can name, as QTRAIN_CPU presents them.
const char* cpu_feature_string();

}  // namespace qt
