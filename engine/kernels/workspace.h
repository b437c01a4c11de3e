#pragma once
// The scratch memory of the kernels, owned by whoever runs them: a Model owns one and hands it to
// its layers in the forward Context; a layer used alone (tests, benchmarks) keeps its own. Nothing
// global: two models, in two threads or two task arenas, never share a buffer.
//
// Buffers only grow, so a training loop allocates in its first steps and never again. Layers run
// one at a time, so one set of buffers serves the largest layer rather than the sum over layers;
// the values computed never depend on which buffer was used.
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace qt {

class Workspace {
 public:
  // The calling thread's buffers (outside parallel_for): at least n floats, n offsets. Each kernel
  // call takes them afresh; their contents do not survive to the next call.
  float* floats(int64_t n);
  int32_t* offsets(int64_t n);
  // The running worker's buffer of at least n floats, inside parallel_for: one per thread slot of
  // the task arena. Call prepare_tasks() before the parallel region (outside it, from the caller).
  void prepare_tasks();
  float* task(int64_t n);

 private:
  Tensor call_;
  std::vector<int32_t> offsets_;
  std::vector<Tensor> tasks_;
};

}  // namespace qt
