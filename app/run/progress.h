#pragma once
// A live progress line on a terminal (redrawn in place, at most 5 times a second);
// nothing when the output is not a terminal, where the per-epoch lines are the log.
#include <chrono>
#include <string>

#include "app/train/trainer.h"

namespace qt {

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled);
  void update(const TrainProgress& p);
  void clear();  // before printing a normal line

 private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

bool stderr_is_terminal();

}  // namespace qt
