#include "engine/core/blas_kernel.h"

#include <cblas.h>
#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace qt {

namespace {

constexpr const char* kReexecVar = "QTRAIN_BLAS_REEXEC";

// OpenBLAS 0.3.21's x86-64 DYNAMIC_ARCH kernels (driver/others/dynamic.c's corename table) by the
// instructions they use: 0 SSE2/SSE3, 1 SSE4.2, 2 AVX, 3 AVX2 and FMA, 4 AVX-512; -1 unknown (not
// x86, or a newer OpenBLAS's name), which qtrain leaves alone.
int kernel_level(const std::string& name) {
  static const std::pair<const char*, int> table[] = {
      {"Katmai", 0},      {"Coppermine", 0},    {"Northwood", 0},  {"Prescott", 0},
      {"Banias", 0},      {"Atom", 0},          {"Core2", 0},      {"Penryn", 0},
      {"Dunnington", 0},  {"Athlon", 0},        {"Opteron", 0},    {"Opteron_SSE3", 0},
      {"Barcelona", 0},   {"Nano", 0},          {"Bobcat", 0},     {"Nehalem", 1},
      {"Sandybridge", 2}, {"Bulldozer", 2},     {"Piledriver", 2}, {"Steamroller", 2},
      {"Excavator", 2},   {"Haswell", 3},       {"Zen", 3},        {"SkylakeX", 4},
      {"Cooperlake", 4},  {"SapphireRapids", 4}};
  for (const auto& [n, level] : table)
    if (strcasecmp(n, name.c_str()) == 0) return level;
  return -1;
}

int cpu_level(const CpuFeatures& c) {
  if (c.avx512()) return 4;
  if (c.avx2 && c.fma) return 3;
  if (c.avx) return 2;
  if (c.sse4_2) return 1;
  return 0;
}

const char* level_name(int level) {
  static const char* names[] = {"SSE3", "SSE4.2", "AVX", "AVX2 and FMA", "AVX-512"};
  return names[level];
}

// Whether a kernel qtrain may have set (inherited by a process on another machine) runs here.
bool runs_on(const std::string& kernel, const CpuFeatures& c) {
  if (strcasecmp(kernel.c_str(), "Cooperlake") == 0) return c.avx512() && c.avx512_bf16;
  if (strcasecmp(kernel.c_str(), "SapphireRapids") == 0)
    return c.avx512() && c.avx512_bf16 && c.avx512_fp16 && c.amx_tile;
  return kernel_level(kernel) <= cpu_level(c);
}

BlasState read_state() {
  BlasState s;
  s.kernel = openblas_get_corename();
  s.dynamic = std::strstr(openblas_get_config(), "DYNAMIC_ARCH") != nullptr;
  if (const char* v = std::getenv("OPENBLAS_CORETYPE")) s.coretype = v;
  if (const char* v = std::getenv(kReexecVar)) s.reexec_from = v;
  return s;
}

// Set when ensure_blas_kernel could not restart: the reason and the fix.
std::string& restart_failure() {
  static std::string s;
  return s;
}

}  // namespace

std::string best_blas_kernel(const CpuFeatures& cpu) {
  static const char* kernels[] = {"", "Nehalem", "Sandybridge", "Haswell", "SkylakeX"};
  return kernels[cpu_level(cpu)];
}

BlasDecision decide_blas_kernel(const CpuFeatures& cpu, const BlasState& s) {
  BlasDecision d;
  const bool ours = s.coretype && s.reexec_from;
  const std::string target = best_blas_kernel(cpu);
  const int have = kernel_level(s.kernel), want = cpu_level(cpu);
  if (s.coretype && !ours) {
    d.how = "set by the user: OPENBLAS_CORETYPE=" + *s.coretype;
    if (have >= 0 && have < want) d.how += "; this CPU could run " + target;
    return d;
  }
  d.how = ours ? "set by qtrain: OpenBLAS picked " + *s.reexec_from + " on this CPU, which has " +
                     level_name(want)
               : "chosen by OpenBLAS";
  const bool too_low = have >= 0 && !target.empty() && have < want;
  const bool unsupported = ours && have >= 0 && !runs_on(s.kernel, cpu);
  if (!too_low && !unsupported) return d;

  const std::string cause = "OpenBLAS runs its " + s.kernel + " kernel" +
                            (too_low ? " but this CPU has " + std::string(level_name(want))
                                     : ", which this CPU cannot run") +
                            (target.empty() ? "" : " (OpenBLAS's " + target + " kernel)");
  d.action = BlasDecision::warn;
  if (!s.dynamic) {
    d.warning = cause +
                "; this OpenBLAS is built for one CPU (no DYNAMIC_ARCH), so OPENBLAS_CORETYPE "
                "cannot change it: install one built with DYNAMIC_ARCH=1 (as Debian's is)";
  } else if (target.empty()) {
    d.warning = cause + "; set OPENBLAS_CORETYPE to a kernel this CPU runs, e.g. Prescott";
  } else if (s.coretype && strcasecmp(s.coretype->c_str(), target.c_str()) == 0) {
    d.warning = cause + ", though qtrain set OPENBLAS_CORETYPE=" + target +
                "; this OpenBLAS does not take it: set OPENBLAS_CORETYPE to one of its kernels "
                "that this CPU runs, or install a newer OpenBLAS";
  } else {
    d.action = BlasDecision::reexec;
    d.coretype = target;
  }
  return d;
}

void ensure_blas_kernel(char** argv, const char* program) {
  const BlasState s = read_state();
  const BlasDecision d = decide_blas_kernel(cpu_features(), s);
  if (d.action == BlasDecision::reexec) {
    setenv("OPENBLAS_CORETYPE", d.coretype.c_str(), 1);
    // Keep the first pick when restarting a second time (a setting inherited on another CPU).
    if (!s.reexec_from || !s.coretype) setenv(kReexecVar, s.kernel.c_str(), 1);
    std::fflush(stdout);
    std::fflush(stderr);
    execv("/proc/self/exe", argv);
    const int err = errno;
    // Not restarted: put the environment back, so that this process reports what it runs.
    auto restore = [](const char* name, const std::optional<std::string>& v) {
      if (v)
        setenv(name, v->c_str(), 1);
      else
        unsetenv(name);
    };
    restore("OPENBLAS_CORETYPE", s.coretype);
    restore(kReexecVar, s.reexec_from);
    restart_failure() =
        "OpenBLAS runs its " + s.kernel + " kernel but this CPU can run " + d.coretype +
        "'s; qtrain could not restart itself with OPENBLAS_CORETYPE=" + d.coretype + " (" +
        std::strerror(err) + "): set OPENBLAS_CORETYPE=" + d.coretype + " before starting it";
  }
  const std::string& w = blas_info().warning;
  if (!w.empty()) std::fprintf(stderr, "%s: warning: %s\n", program, w.c_str());
}

std::string BlasInfo::line() const {
  return library + " " + version + ", kernel " + kernel + " (" + how + ")";
}

nlohmann::json BlasInfo::to_json() const {
  nlohmann::json j = {{"library", library}, {"version", version}, {"kernel", kernel}, {"how", how}};
  if (!warning.empty()) j["warning"] = warning;
  return j;
}

const BlasInfo& blas_info() {
  static const BlasInfo info = [] {
    const BlasState s = read_state();
    const BlasDecision d = decide_blas_kernel(cpu_features(), s);
    BlasInfo b;
    std::istringstream config(openblas_get_config());
    std::string name;
    config >> name >> b.version;  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
    b.kernel = s.kernel;
    b.how = d.how;
    if (d.action == BlasDecision::warn) b.warning = d.warning;
    // A process that did not restart (a test, or a failed exec) says what it runs and the fix.
    if (d.action == BlasDecision::reexec)
      b.warning = restart_failure().empty()
                      ? "OpenBLAS runs its " + s.kernel + " kernel but this CPU can run " +
                            d.coretype + "'s: set OPENBLAS_CORETYPE=" + d.coretype
                      : restart_failure();
    return b;
  }();
  return info;
}

}  // namespace qt
