#include "engine/core/parallel.h"

#include <cblas.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <memory>

namespace qt {

namespace {
std::unique_ptr<tbb::global_control> g_control;  // process-wide by nature: one thread pool
int g_threads = 0;
}  // namespace

void set_threads(int n) {
  if (n <= 0) n = tbb::info::default_concurrency();
  g_control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    static_cast<size_t>(n));
  g_threads = n;
  openblas_set_num_threads(1);
}

int threads() {
  return g_threads > 0 ? g_threads : tbb::info::default_concurrency();
}

}  // namespace qt
