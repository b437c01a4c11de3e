// The main of every test executable. QTRAIN_TEST_KERNELS=avx2 runs the tests on the AVX2 kernels
// even where the CPU has AVX-512 (tests/CMakeLists.txt runs the layer and model tests so, once
// more): both paths of the engine are tested on one machine.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/core/isa.h"

int main(int argc, char** argv) {
  if (const char* k = std::getenv("QTRAIN_TEST_KERNELS"); k && *k) {
    if (std::string(k) != "avx2") {
      std::fprintf(stderr, "QTRAIN_TEST_KERNELS='%s': only avx2 forces a path\n", k);
      return 2;
    }
    qt::set_kernel_path(qt::KernelPath::Avx2);
  }
  doctest::Context context(argc, argv);
  return context.run();
}
