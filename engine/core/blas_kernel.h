#pragma once
// Which OpenBLAS kernel runs qtrain's GEMMs, and making it the best one the CPU can run.
//
// OpenBLAS built with DYNAMIC_ARCH (Debian's is) picks its kernel when the library loads, from
// the CPU's model number. On a CPU it does not know (cloud VMs that report a generic "Intel(R)
// Xeon(R) Processor", or a newer AMD family) it falls back to an older kernel: Prescott (SSE3) or
// Haswell (AVX2) on an AVX-512 CPU, 2-5x slower. OPENBLAS_CORETYPE overrides the pick but is only
// read at load time, so qtrain sets it and restarts itself once (ensure_blas_kernel, first thing
// in main) when the kernel is below what the CPU's features (cpuid) allow and the user has not
// set the variable. A different kernel sums in another order: results are bit-identical for the
// same kernel, which each run records (summary.json's "blas").
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/core/cpu_features.h"

namespace qt {

// What the process found: the library's report and the two environment variables.
struct BlasState {
  std::string kernel;   // openblas_get_corename(), e.g. "Haswell"
  bool dynamic = true;  // built with DYNAMIC_ARCH: OPENBLAS_CORETYPE can change the kernel
  std::optional<std::string> coretype;     // OPENBLAS_CORETYPE
  std::optional<std::string> reexec_from;  // QTRAIN_BLAS_REEXEC: qtrain set OPENBLAS_CORETYPE
                                           // because OpenBLAS had picked this kernel
};

struct BlasDecision {
  enum Action { keep, reexec, warn } action = keep;
  std::string coretype;  // reexec: the OPENBLAS_CORETYPE to restart with
  std::string how;       // keep: how the kernel was chosen, e.g. "chosen by OpenBLAS"
  std::string warning;   // warn: the cause and the fix, one line
};

// The kernel OPENBLAS_CORETYPE should name on a CPU with these features: SkylakeX (AVX-512),
// Haswell (AVX2 and FMA), Sandybridge (AVX), Nehalem (SSE4.2), or "" (nothing to gain).
std::string best_blas_kernel(const CpuFeatures& cpu);

// The pure decision: leave the kernel alone, restart with OPENBLAS_CORETYPE set, or warn.
BlasDecision decide_blas_kernel(const CpuFeatures& cpu, const BlasState& state);

// Reads the state, and when the decision is to restart, sets OPENBLAS_CORETYPE and
// QTRAIN_BLAS_REEXEC and execs /proc/self/exe with argv (same pid; does not return); a warning
// goes to stderr prefixed with `program`. Call first thing in main, before any thread starts.
void ensure_blas_kernel(char** argv, const char* program);

// The BLAS this process runs, for --version, log.txt, summary.json and benchmark headers.
struct BlasInfo {
  std::string library = "OpenBLAS", version, kernel, how, warning;
  std::string line() const;  // "OpenBLAS 0.3.21, kernel SkylakeX (set by qtrain: ...)"
  nlohmann::json to_json() const;
};
const BlasInfo& blas_info();

}  // namespace qt
