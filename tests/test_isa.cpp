// Instruction sets: the start-up check's decision over made-up CPUs and end to end through
// QTRAIN_CPU, `qtrain --version`, forcing the kernel path, the layers giving the same results on
// both paths, and (from qtrain's disassembly) that no AVX-512 instruction sits outside the AVX-512
// kernels and none of AVX at all in the start-up check.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/isa.h"
#include "engine/core/random.h"
#include "engine/kernels/conv_direct.h"
#include "engine/layers/batch_norm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/max_pool2d.h"
#include "test_sweep_util.h"

using namespace qt;

namespace {

const std::string kV3 = "sse3 ssse3 sse4.1 sse4.2 popcnt avx avx2 bmi bmi2 f16c fma lzcnt movbe";

std::string missing(const std::string& required, const std::string& present) {
  char out[512];
  missing_features(required.c_str(), present.c_str(), out, sizeof out);
  return out;
}

bool build_has(const char* feature) {
  std::istringstream in(kBuildFeatures);
  for (std::string w; in >> w;)
    if (w == feature) return true;
  return false;
}

// The path restored at the end of a scope.
struct KernelPathScope {
  KernelPath saved = kernel_path();
  explicit KernelPathScope(KernelPath p) { set_kernel_path(p); }
  ~KernelPathScope() { set_kernel_path(saved); }
};

}  // namespace

TEST_CASE("the start-up check names the extensions a CPU lacks") {
  struct Case {
    std::string required, present, missing;
  };
  for (const Case& c : {
           // A Haswell-class CPU runs the portable build; anything older lacks part of it.
           Case{kV3, kV3, ""},
           Case{kV3, kV3 + " avx512f avx512bw avx512cd avx512dq avx512vl", ""},
           Case{kV3, "sse3 ssse3 sse4.1 sse4.2 popcnt avx",
                "AVX2, BMI, BMI2, F16C, FMA, LZCNT, MOVBE"},
           Case{kV3, "sse3 ssse3 sse4.1 sse4.2 popcnt",
                "AVX, AVX2, BMI, BMI2, F16C, FMA, LZCNT, MOVBE"},
           Case{kV3, "",
                "SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, AVX, AVX2, BMI, BMI2, F16C, FMA, "
                "LZCNT, MOVBE"},
           Case{kV3, "avx2 avx sse3 ssse3 sse4.1 sse4.2 popcnt bmi bmi2 fma lzcnt movbe", "F16C"},
           // A native AVX-512 build on an AVX2 machine; a whole word must match, not a prefix.
           Case{"avx2 avx512f avx512vnni", "avx2", "AVX512F, AVX512VNNI"},
           Case{"avx512f", "avx512fp16 avx512", "AVX512F"},
           Case{"  avx2   fma ", "fma avx2", ""},
           Case{"", "", ""},
       }) {
    INFO("required '", c.required, "', present '", c.present, "'");
    CHECK(missing(c.required, c.present) == c.missing);
  }
  char small[8];
  CHECK(missing_features("avx avx2 fma", "", small, sizeof small) == 3);
  CHECK(std::string(small) == "AVX, AV");  // truncated, terminated
}

TEST_CASE("QTRAIN_CPU names a level") {
  CHECK(cpu_level_from_name(nullptr) == 4);
  CHECK(cpu_level_from_name("") == 4);
  CHECK(cpu_level_from_name("x86-64") == 1);
  CHECK(cpu_level_from_name("x86-64-v2") == 2);
  CHECK(cpu_level_from_name("avx2") == 3);
  CHECK(cpu_level_from_name("x86-64-v3") == 3);
  CHECK(cpu_level_from_name("avx512") == 4);
  CHECK(cpu_level_from_name("x86-64-v4") == 4);
  CHECK(cpu_level_from_name("AVX2") == -1);
  CHECK(cpu_level_from_name("sse") == -1);
}

TEST_CASE("the build's required extensions are the baseline's") {
  const std::string baseline = kBuildBaseline;
  INFO("baseline ", baseline, ", features '", kBuildFeatures, "'");
  REQUIRE((baseline == "x86-64-v3" || baseline == "native"));
  if (baseline == "x86-64-v3") {
    CHECK(missing(kV3, kBuildFeatures).empty());
    CHECK(missing(kBuildFeatures, kV3).empty());  // nothing beyond x86-64-v3
  }
  // This process passed the check, so the CPU has everything the build requires.
  CHECK(missing(kBuildFeatures, cpu_feature_string()).empty());
}

TEST_CASE("qtrain --version names the build's baseline and the kernel path") {
  const sweep_test::Streams r = sweep_test::run_streams({sweep_test::qtrain_bin(), "--version"});
  REQUIRE(r.code == 0);
  CHECK(r.out.starts_with("qtrain "));
  if (std::string(kBuildBaseline) == "native")
    CHECK(r.out.find("build: native") != std::string::npos);
  else
    CHECK(r.out.find("build: portable, x86-64-v3") != std::string::npos);
  const std::string kernels = cpu_has_avx512() ? "kernels: AVX-512 (this CPU has AVX-512"
                                               : "kernels: AVX2 (this CPU lacks AVX-512";
  CHECK_MESSAGE(r.out.find(kernels) != std::string::npos, r.out);
}

TEST_CASE("a CPU below the build's baseline gets one message and exit 1, not SIGILL") {
  // QTRAIN_CPU=x86-64 presents this CPU as one without AVX: every build requires more.
  for (const char* level : {"x86-64", "x86-64-v2"}) {
    const sweep_test::Streams r = sweep_test::run_streams({sweep_test::qtrain_bin(), "--version"},
                                                          {}, {{"QTRAIN_CPU", level}});
    INFO("QTRAIN_CPU=", std::string(level), ": ", r.err);
    CHECK(r.code == 1);
    CHECK(r.out.empty());  // stopped before main: no version printed
    CHECK(sweep_test::count(r.err, "\n") == 1);
    CHECK(r.err.starts_with("qtrain: this CPU (as QTRAIN_CPU presents it) lacks "));
    CHECK(r.err.find(" AVX, AVX2, BMI, BMI2, F16C, FMA, LZCNT, MOVBE") != std::string::npos);
    CHECK((r.err.find("SSE4.2") != std::string::npos) == (std::string(level) == "x86-64"));
    if (std::string(kBuildBaseline) == "native")
      CHECK(r.err.find("-march=native") != std::string::npos);
    else
      CHECK(r.err.find("compiled for x86-64-v3") != std::string::npos);
    CHECK(r.err.find("QTRAIN_NATIVE") != std::string::npos);
  }
  // An AVX2 CPU: the portable build runs on its AVX2 kernels, a native AVX-512 build stops.
  const sweep_test::Streams r = sweep_test::run_streams({sweep_test::qtrain_bin(), "--version"}, {},
                                                        {{"QTRAIN_CPU", "avx2"}});
  if (build_has("avx512f")) {
    CHECK(r.code == 1);
    CHECK(r.err.find("lacks AVX512F") != std::string::npos);
  } else {
    CHECK(r.code == 0);
    CHECK(r.out.find("kernels: AVX2 (QTRAIN_CPU=avx2)") != std::string::npos);
  }
  const sweep_test::Streams bad = sweep_test::run_streams({sweep_test::qtrain_bin(), "--version"},
                                                          {}, {{"QTRAIN_CPU", "pentium"}});
  CHECK(bad.code == 2);
  CHECK(bad.err.find("QTRAIN_CPU='pentium' is not one of x86-64, x86-64-v2, avx2") !=
        std::string::npos);
}

TEST_CASE("the kernel path can be forced to AVX2, and to AVX-512 only where the CPU has it") {
  const KernelPath before = kernel_path();
  {
    KernelPathScope avx2(KernelPath::Avx2);
    CHECK(kernel_path() == KernelPath::Avx2);
    CHECK_FALSE(use_avx512());
    CHECK_FALSE(direct_conv_available());
    ParamStore st;
    Conv2d conv(st, "c", 8, 8, 3, 1, 1);
    conv.set_algorithm(ConvAlgo::Direct);
    CHECK(conv.algorithm_for({2, 8, 16, 16}) == ConvAlgo::Im2col);
  }
  CHECK(kernel_path() == before);
  if (cpu_has_avx512()) {
    KernelPathScope avx512(KernelPath::Avx512);
    CHECK(direct_conv_available());
  } else {
    CHECK_THROWS_AS(set_kernel_path(KernelPath::Avx512), std::invalid_argument);
  }
}

namespace {

struct Outputs {
  std::vector<float> y, dx, grads;
};

// Forward and backward of `layer` on fixed random data under path p.
Outputs run_on(KernelPath p, Layer& layer, ParamStore& st, const Shape& in, uint64_t seed) {
  KernelPathScope scope(p);
  Rng rng(seed);
  layer.init(rng);
  Tensor x(in);
  for (float& v : x.span()) v = rng.normal();
  Tensor y, dx;
  Context ctx;
  ctx.training = true;
  layer.forward(x, y, ctx);
  Tensor r(y.shape());
  for (float& v : r.span()) v = rng.normal();
  st.zero_grad();
  layer.backward(x, y, r, &dx);
  return {std::vector<float>(y.data(), y.data() + y.size()),
          std::vector<float>(dx.data(), dx.data() + dx.size()),
          std::vector<float>(st.grads().data(), st.grads().data() + st.grads().size())};
}

void expect_near(const char* what, const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double scale = 0.0, worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, static_cast<double>(std::abs(b[i])));
    worst = std::max(worst, static_cast<double>(std::abs(a[i] - b[i])));
  }
  CHECK_MESSAGE(worst <= 1e-5 * (1.0 + scale), what << ": paths differ by " << worst);
}

}  // namespace

TEST_CASE("layers give the same results on the AVX2 and AVX-512 paths") {
  if (!cpu_has_avx512()) {
    MESSAGE("this CPU has no AVX-512: one path only");
    return;
  }
  // Convolutions of LeNet-5, ResNet-20 and VGG-11: the AVX-512 path runs the direct kernels
  // where the AVX2 path runs im2col or Winograd, so they agree to rounding.
  struct ConvCase {
    int64_t cin, cout, k, s, p;
    Shape in;
  };
  for (const ConvCase& c :
       {ConvCase{1, 6, 5, 1, 2, {16, 1, 28, 28}}, ConvCase{6, 16, 5, 1, 0, {16, 6, 14, 14}},
        ConvCase{16, 16, 3, 1, 1, {8, 16, 32, 32}}, ConvCase{16, 32, 3, 2, 1, {8, 16, 32, 32}},
        ConvCase{64, 64, 3, 1, 1, {8, 64, 8, 8}}, ConvCase{3, 64, 3, 1, 1, {4, 3, 32, 32}}}) {
    INFO(c.cin, " -> ", c.cout, ", k ", c.k, ", s ", c.s, ", p ", c.p);
    ParamStore st;
    Conv2d conv(st, "conv", c.cin, c.cout, c.k, c.s, c.p);
    st.finalize();
    const Outputs a = run_on(KernelPath::Avx2, conv, st, c.in, 7);
    const Outputs b = run_on(KernelPath::Avx512, conv, st, c.in, 7);
    expect_near("y", a.y, b.y);
    expect_near("dx", a.dx, b.dx);
    expect_near("dW, db", a.grads, b.grads);
  }
  // Max pooling is exact on both paths, ties (the first maximum wins) and NaN (it wins) included.
  for (const Shape& in : {Shape{16, 6, 28, 28}, Shape{16, 16, 10, 10}, Shape{3, 2, 7, 9}}) {
    MaxPool2d mp("mp", 2);
    ParamStore st;
    st.finalize();
    std::map<KernelPath, Outputs> out;
    for (KernelPath p : {KernelPath::Avx2, KernelPath::Avx512}) {
      KernelPathScope scope(p);
      Rng rng(3);
      Tensor x(in);
      for (float& v : x.span()) v = std::round(rng.normal() * 2.0f);  // many ties
      x[5] = std::nanf("");
      Tensor y, dx;
      mp.forward(x, y, Context{});
      Tensor r(y.shape());
      for (float& v : r.span()) v = rng.normal();
      mp.backward(x, y, r, &dx);
      out[p] = {std::vector<float>(y.data(), y.data() + y.size()),
                std::vector<float>(dx.data(), dx.data() + dx.size()),
                {}};
    }
    CHECK(std::memcmp(out[KernelPath::Avx2].y.data(), out[KernelPath::Avx512].y.data(),
                      out[KernelPath::Avx2].y.size() * sizeof(float)) == 0);
    CHECK(out[KernelPath::Avx2].dx == out[KernelPath::Avx512].dx);
  }
}

namespace {

// The standard output of a shell command.
std::string shell(const std::string& cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  char buf[4096];
  while (pipe && std::fgets(buf, sizeof buf, pipe.get())) out += buf;
  return out;
}

// qtrain's disassembly, function by function: name → its instructions' first opcode bytes
// classified as 'e' (EVEX: AVX-512), 'v' (VEX: AVX) or '.' (anything else).
std::map<std::string, std::string> disassembly(const std::string& binary) {
  std::map<std::string, std::string> fns;
  const std::string cmd = "objdump -d -C --insn-width=16 '" + binary + "' 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return fns;
  std::string* cur = nullptr;
  char buf[8192];
  while (std::fgets(buf, sizeof buf, pipe.get())) {
    const std::string line(buf);
    const size_t open = line.find(" <");
    if (line.size() > 3 && line[0] != ' ' && open != std::string::npos &&
        line.rfind(">:") != std::string::npos) {
      cur = &fns[line.substr(open + 2, line.rfind(">:") - open - 2)];
      continue;
    }
    // "  401234:\t62 f1 7c 48 10 04 24 \tvmovups (%rsp),%zmm0"
    const size_t tab = line.find(":\t");
    if (!cur || tab == std::string::npos) continue;
    std::istringstream bytes(line.substr(tab + 2, line.find('\t', tab + 2) - tab - 2));
    std::string b;
    char kind = '.';
    while (bytes >> b) {
      if (b.size() != 2) break;
      static const std::set<std::string> prefixes = {"66", "67", "f2", "f3", "2e", "36",
                                                     "3e", "26", "64", "65", "f0"};
      if (prefixes.count(b) || (b[0] == '4' && b.size() == 2)) continue;  // legacy, REX
      kind = b == "62" ? 'e' : (b == "c4" || b == "c5") ? 'v' : '.';
      break;
    }
    cur->push_back(kind);
  }
  return fns;
}

}  // namespace

TEST_CASE("the start-up check runs first and uses no AVX; AVX-512 only in the AVX-512 kernels") {
  if (std::system("objdump --version >/dev/null 2>&1") != 0) {
    MESSAGE("objdump is not installed: the disassembly is not checked");
    return;
  }
  const std::string bin = sweep_test::qtrain_bin();
  // The check is the executable's first initialiser, before any static constructor of the code
  // compiled for the baseline: .init_array's first entry (little-endian) is its address.
  std::istringstream init(shell("objdump -s -j .init_array '" + bin + "'"));
  std::string word;
  while (init >> word && word != ".init_array:") {
  }
  std::string lo, hi;
  init >> word >> lo >> hi;
  std::string first;
  for (const std::string& w : {hi, lo})
    for (int i = 6; i >= 0; i -= 2) first += w.substr(i, 2);
  const std::string nm = shell("nm '" + bin + "' | grep check_cpu_at_start");
  REQUIRE(nm.size() > 16);
  CHECK_MESSAGE(std::stoull(first, nullptr, 16) == std::stoull(nm.substr(0, 16), nullptr, 16),
                ".init_array starts with " << first << ", the check is at " << nm);

  const std::map<std::string, std::string> fns = disassembly(bin);
  REQUIRE(fns.size() > 1000);
  // The start-up check and everything it calls: plain x86-64.
  int check_fns = 0;
  for (const auto& [name, kinds] : fns)
    if (name.find("qt::isa_check::") != std::string::npos ||
        name.starts_with("qt::missing_features(") || name.starts_with("qt::cpu_feature_string(") ||
        name.starts_with("qt::cpu_level_from_name(") || name == "__cpu_indicator_init") {
      ++check_fns;
      INFO(name);
      CHECK(kinds.find_first_of("ev") == std::string::npos);
    }
  CHECK(check_fns >= 3);
  if (build_has("avx512f")) return;  // a native AVX-512 build may use it anywhere
  // The portable build: EVEX only in the kernels compiled for AVX-512 (direct convolutions in
  // qt::direct, the packed popcount convolutions in qt::packed_avx512, the *_avx512 functions),
  // and there indeed.
  int kernels = 0;
  for (const auto& [name, kinds] : fns) {
    const bool evex = kinds.find('e') != std::string::npos;
    const bool kernel = name.find("qt::direct::") != std::string::npos ||
                        name.find("qt::packed_avx512::") != std::string::npos ||
                        name.find("_avx512(") != std::string::npos;
    kernels += evex && kernel;
    if (evex && !kernel) FAIL_CHECK("AVX-512 instructions outside the AVX-512 kernels: " << name);
  }
  CHECK(kernels >= 5);
}
