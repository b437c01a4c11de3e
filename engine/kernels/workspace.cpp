#include "engine/kernels/workspace.h"

#include <tbb/task_arena.h>

#include <stdexcept>
#include <string>

namespace qt {

namespace {
float* grow(Tensor& t, int64_t n) {
  if (t.size() < n) t.resize({n});
  return t.data();
}
}  // namespace

float* Workspace::floats(int64_t n) {
  return grow(call_, n);
}

int32_t* Workspace::offsets(int64_t n) {
  if (static_cast<int64_t>(offsets_.size()) < n) offsets_.resize(static_cast<size_t>(n));
  return offsets_.data();
}

void Workspace::prepare_tasks() {
  const auto slots = static_cast<size_t>(tbb::this_task_arena::max_concurrency());
  if (tasks_.size() < slots) tasks_.resize(slots);
}

float* Workspace::task(int64_t n) {
  const int slot = tbb::this_task_arena::current_thread_index();
  if (slot < 0 || static_cast<size_t>(slot) >= tasks_.size())
    throw std::logic_error("Workspace::task: thread slot " + std::to_string(slot) + " of " +
                           std::to_string(tasks_.size()) + " (prepare_tasks not called?)");
  return grow(tasks_[static_cast<size_t>(slot)], n);
}

}  // namespace qt
