// Which OpenBLAS kernel qtrain runs: the CPU's features as cpuid reads them, the decision over a
// table of CPUs, OpenBLAS picks and environments, and qtrain end to end on this machine.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "engine/core/blas_kernel.h"
#include "engine/core/cpu_features.h"
#include "test_sweep_util.h"

using qt::BlasDecision;
using qt::BlasState;
using qt::CpuFeatures;

namespace {

CpuFeatures sse3() {
  CpuFeatures c;
  c.sse2 = c.sse3 = true;
  return c;
}
CpuFeatures sse42() {
  CpuFeatures c = sse3();
  c.ssse3 = c.sse4_1 = c.sse4_2 = true;
  return c;
}
CpuFeatures avx() {
  CpuFeatures c = sse42();
  c.os_ymm = c.avx = true;
  return c;
}
CpuFeatures avx2() {
  CpuFeatures c = avx();
  c.avx2 = c.fma = true;
  return c;
}
CpuFeatures avx512() {  // Skylake-SP, or the VM without its extras
  CpuFeatures c = avx2();
  c.os_zmm = c.avx512f = c.avx512bw = c.avx512dq = c.avx512vl = c.avx512cd = true;
  return c;
}
CpuFeatures sapphire_rapids() {  // the VM: AVX-512 with vpopcntdq, bf16, fp16 and AMX
  CpuFeatures c = avx512();
  c.avx512_vnni = c.avx512_bf16 = c.avx512_fp16 = c.avx512_vpopcntdq = true;
  c.os_amx = c.amx_tile = c.amx_bf16 = c.amx_int8 = true;
  return c;
}
CpuFeatures avx512_no_cd() {  // Knights Landing has CD but not BW/DQ/VL: SkylakeX's kernel faults
  CpuFeatures c = avx2();
  c.os_zmm = c.avx512f = c.avx512cd = true;
  return c;
}

BlasState picked(const std::string& kernel) {
  return {kernel, true, std::nullopt, std::nullopt};
}
BlasState user_set(const std::string& kernel, const std::string& coretype) {
  return {kernel, true, coretype, std::nullopt};
}
// A process qtrain restarted (or one that inherited its variables).
BlasState qtrain_set(const std::string& kernel, const std::string& coretype,
                     const std::string& first_pick) {
  return {kernel, true, coretype, first_pick};
}

}  // namespace

TEST_CASE("the best kernel follows the CPU's usable instruction sets") {
  CHECK(qt::best_blas_kernel(CpuFeatures{}) == "");
  CHECK(qt::best_blas_kernel(sse3()) == "");
  CHECK(qt::best_blas_kernel(sse42()) == "Nehalem");
  CHECK(qt::best_blas_kernel(avx()) == "Sandybridge");
  CHECK(qt::best_blas_kernel(avx2()) == "Haswell");
  CHECK(qt::best_blas_kernel(avx512()) == "SkylakeX");
  // Never Cooperlake or SapphireRapids: 0.3.21's Debian build has no SapphireRapids and takes an
  // unknown name as Cooperlake, and SkylakeX's sgemm is the same as Cooperlake's.
  CHECK(qt::best_blas_kernel(sapphire_rapids()) == "SkylakeX");
  CHECK(qt::best_blas_kernel(avx512_no_cd()) == "Haswell");
  CpuFeatures avx_without_fma = avx2();
  avx_without_fma.fma = false;
  CHECK(qt::best_blas_kernel(avx_without_fma) == "Sandybridge");
}

TEST_CASE("the decision over CPUs, OpenBLAS's pick and the environment") {
  struct Case {
    const char* name;
    CpuFeatures cpu;
    BlasState state;
    BlasDecision::Action action;
    std::string coretype;  // reexec: the kernel to restart with
    std::string in_text;   // in how (keep) or in the warning (warn)
  };
  const Case cases[] = {
      // The VM: a generic model name, OpenBLAS falls back to Prescott.
      {"VM, Prescott", sapphire_rapids(), picked("Prescott"), BlasDecision::reexec, "SkylakeX", ""},
      {"AVX-512, Haswell", avx512(), picked("Haswell"), BlasDecision::reexec, "SkylakeX", ""},
      {"AVX-512, Zen", avx512(), picked("Zen"), BlasDecision::reexec, "SkylakeX", ""},
      {"AVX-512, Nehalem", avx512(), picked("Nehalem"), BlasDecision::reexec, "SkylakeX", ""},
      {"AVX-512, Sandybridge", avx512(), picked("Sandybridge"), BlasDecision::reexec, "SkylakeX",
       ""},
      {"AVX-512, SkylakeX", avx512(), picked("SkylakeX"), BlasDecision::keep, "",
       "chosen by OpenBLAS"},
      {"bf16, Cooperlake", sapphire_rapids(), picked("Cooperlake"), BlasDecision::keep, "",
       "chosen by OpenBLAS"},
      {"AMX, SapphireRapids", sapphire_rapids(), picked("SapphireRapids"), BlasDecision::keep, "",
       "chosen by OpenBLAS"},
      {"AVX2, Prescott", avx2(), picked("Prescott"), BlasDecision::reexec, "Haswell", ""},
      {"AVX2, Sandybridge", avx2(), picked("Sandybridge"), BlasDecision::reexec, "Haswell", ""},
      {"AVX2, Haswell", avx2(), picked("Haswell"), BlasDecision::keep, "", "chosen by OpenBLAS"},
      {"AVX2, Zen", avx2(), picked("Zen"), BlasDecision::keep, "", "chosen by OpenBLAS"},
      {"AVX, Prescott", avx(), picked("Prescott"), BlasDecision::reexec, "Sandybridge", ""},
      {"AVX, Sandybridge", avx(), picked("Sandybridge"), BlasDecision::keep, "", "OpenBLAS"},
      {"SSE4.2, Prescott", sse42(), picked("Prescott"), BlasDecision::reexec, "Nehalem", ""},
      {"SSE4.2, Nehalem", sse42(), picked("Nehalem"), BlasDecision::keep, "", "OpenBLAS"},
      {"SSE3, Prescott", sse3(), picked("Prescott"), BlasDecision::keep, "", "OpenBLAS"},
      {"no cpuid (not x86)", CpuFeatures{}, picked("Prescott"), BlasDecision::keep, "", ""},
      {"a name 0.3.21 does not have", avx512(), picked("ARMV8"), BlasDecision::keep, "", ""},
      {"KNL-like AVX-512, Haswell", avx512_no_cd(), picked("Haswell"), BlasDecision::keep, "", ""},
      // The user's OPENBLAS_CORETYPE is left alone, even below what the CPU runs.
      {"user Haswell on AVX-512", avx512(), user_set("Haswell", "Haswell"), BlasDecision::keep, "",
       "set by the user: OPENBLAS_CORETYPE=Haswell; this CPU could run SkylakeX"},
      {"user Prescott on the VM", sapphire_rapids(), user_set("Prescott", "prescott"),
       BlasDecision::keep, "", "set by the user: OPENBLAS_CORETYPE=prescott;"},
      {"user SkylakeX", avx512(), user_set("SkylakeX", "SkylakeX"), BlasDecision::keep, "",
       "set by the user: OPENBLAS_CORETYPE=SkylakeX"},
      // After the restart: kept, and said how.
      {"restarted, took", sapphire_rapids(), qtrain_set("SkylakeX", "SkylakeX", "Prescott"),
       BlasDecision::keep, "",
       "set by qtrain: OpenBLAS picked Prescott on this CPU, which has AVX-512"},
      // After the restart OpenBLAS still runs the low kernel: warn, never restart again.
      {"restarted, ignored", avx512(), qtrain_set("Prescott", "SkylakeX", "Prescott"),
       BlasDecision::warn, "", "though qtrain set OPENBLAS_CORETYPE=SkylakeX"},
      // A sweep's child on another node inherits the variables: a kernel this CPU cannot run is
      // replaced by its own best; one it can run (and not below its best) is kept.
      {"inherited, too high", avx2(), qtrain_set("SkylakeX", "SkylakeX", "Prescott"),
       BlasDecision::reexec, "Haswell", ""},
      {"inherited Cooperlake without bf16", avx512(),
       qtrain_set("Cooperlake", "Cooperlake", "Prescott"), BlasDecision::reexec, "SkylakeX", ""},
      {"inherited, too low", avx512(), qtrain_set("Haswell", "Haswell", "Prescott"),
       BlasDecision::reexec, "SkylakeX", ""},
      {"inherited, fine", sapphire_rapids(), qtrain_set("SkylakeX", "SkylakeX", "Haswell"),
       BlasDecision::keep, "", "set by qtrain: OpenBLAS picked Haswell"},
      // A library built for one CPU: OPENBLAS_CORETYPE does nothing, so say so.
      {"no DYNAMIC_ARCH",
       avx512(),
       {"Haswell", false, std::nullopt, std::nullopt},
       BlasDecision::warn,
       "",
       "no DYNAMIC_ARCH"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const BlasDecision d = qt::decide_blas_kernel(c.cpu, c.state);
    CHECK(d.action == c.action);
    CHECK(d.coretype == c.coretype);
    if (d.action == BlasDecision::warn) {
      CHECK(d.warning.find(c.in_text) != std::string::npos);
      // The warning names the cause: the kernel OpenBLAS runs.
      CHECK(d.warning.find("OpenBLAS runs its " + c.state.kernel + " kernel") == 0);
    } else {
      CHECK(d.warning.empty());
      CHECK(d.how.find(c.in_text) != std::string::npos);
    }
    // Restarting with the decided variable lands on a state the decision keeps (no loop).
    if (d.action == BlasDecision::reexec) {
      const BlasState after{d.coretype, true, d.coretype,
                            c.state.reexec_from.value_or(c.state.kernel)};
      CHECK(qt::decide_blas_kernel(c.cpu, after).action == BlasDecision::keep);
    }
  }
}

TEST_CASE("cpuid's features match the kernel's /proc/cpuinfo flags") {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line))
    if (line.starts_with("flags")) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;
    }
  if (flags.empty()) return;  // not Linux on x86
  const CpuFeatures& c = qt::cpu_features();
  CAPTURE(c.names());
  // Linux lists a flag only when it also enabled the registers' state (XCR0).
  CHECK(c.sse2 == flags.count("sse2"));
  CHECK(c.sse3 == flags.count("pni"));
  CHECK(c.ssse3 == flags.count("ssse3"));
  CHECK(c.sse4_1 == flags.count("sse4_1"));
  CHECK(c.sse4_2 == flags.count("sse4_2"));
  CHECK(c.avx == flags.count("avx"));
  CHECK(c.fma == flags.count("fma"));
  CHECK(c.avx2 == flags.count("avx2"));
  for (const char* f :
       {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512_vnni", "avx512_bf16",
        "avx512_fp16", "avx512_vpopcntdq", "amx_tile", "amx_bf16", "amx_int8"}) {
    CAPTURE(f);
    std::string padded = " ", needle = " ";
    padded += c.names() + " ";
    needle += std::string(f) + " ";
    const bool ours = padded.find(needle) != std::string::npos;
    CHECK(ours == (flags.count(f) == 1));
  }
  CHECK(c.vendor.size() == 12);
}

TEST_CASE("qtrain runs the kernel the CPU's features call for, unless the user set one") {
  using namespace sweep_test;
  const fs::path root = scratch("blas");
  const Cleanup cleanup{root};
  // The environment this test runs in may have set either variable: start from neither.
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv("QTRAIN_BLAS_REEXEC");
  auto train = [&](const std::string& out, const std::map<std::string, std::string>& env) {
    const Streams r = run_streams(
        {qtrain_bin(), "train", "--model", "mlp", "--dataset", "synthetic", "--epochs", "1",
         "--limit-train", "128", "--limit-test", "32", "--quiet", "--out", (root / out).string()},
        {}, env);
    REQUIRE(r.code == 0);
    const json blas = read_json(root / out / "summary.json")["blas"];
    CHECK(blas["library"] == "OpenBLAS");
    CHECK(!blas["version"].get<std::string>().empty());
    const std::string log = slurp(root / out / "log.txt");
    CHECK(log.find("BLAS: OpenBLAS " + blas["version"].get<std::string>() + ", kernel " +
                   blas["kernel"].get<std::string>() + " (" + blas["how"].get<std::string>() +
                   ")\n") != std::string::npos);
    return std::pair{blas, r.err};
  };

  SUBCASE("unset: a kernel the decision keeps, so not below what the features call for") {
    const auto [blas, err] = train("unset", {});
    const std::string kernel = blas["kernel"];
    const std::string how = blas["how"];
    if (how.starts_with("set by qtrain")) {
      CHECK(kernel == qt::best_blas_kernel(qt::cpu_features()));
    } else {
      CHECK(how == "chosen by OpenBLAS");
      CHECK(qt::decide_blas_kernel(qt::cpu_features(), {kernel, true, {}, {}}).action ==
            BlasDecision::keep);
    }
    CHECK(err.empty());
  }
  SUBCASE("set by the user: left alone") {
    const auto [blas, err] = train("user", {{"OPENBLAS_CORETYPE", "Nehalem"}});
    CHECK(blas["kernel"] == "Nehalem");
    CHECK(blas["how"].get<std::string>().starts_with("set by the user: OPENBLAS_CORETYPE=Nehalem"));
  }
  SUBCASE("qtrain's variables from a parent with a low kernel: restarted with the best one") {
    const std::string best = qt::best_blas_kernel(qt::cpu_features());
    if (best.empty()) return;  // nothing above Prescott to restart with
    const auto [blas, err] =
        train("inherited", {{"OPENBLAS_CORETYPE", "Prescott"}, {"QTRAIN_BLAS_REEXEC", "Prescott"}});
    CHECK(blas["kernel"] == best);
    CHECK(blas["how"].get<std::string>().starts_with(
        "set by qtrain: OpenBLAS picked Prescott on this CPU"));
    CHECK(err.empty());
  }
}

TEST_CASE("qtrain --version names the BLAS and its kernel; the exit code survives a restart") {
  using namespace sweep_test;
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv("QTRAIN_BLAS_REEXEC");
  const Streams v = run_streams({qtrain_bin(), "--version"});
  CHECK(v.code == 0);
  CHECK(v.out.find("BLAS: OpenBLAS ") != std::string::npos);
  CHECK(v.out.find(", kernel ") != std::string::npos);
  // A usage error after a restart still exits 2, with one message.
  const Streams bad =
      run_streams({qtrain_bin(), "train", "--no-such-flag"}, {},
                  {{"OPENBLAS_CORETYPE", "Prescott"}, {"QTRAIN_BLAS_REEXEC", "Prescott"}});
  CHECK(bad.code == 2);
  CHECK(count(bad.err, "--no-such-flag") == 1);
}
