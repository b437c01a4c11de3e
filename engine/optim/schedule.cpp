#include "engine/optim/schedule.h"

#include <cmath>

#include "engine/core/error.h"

namespace qt {

void validate_schedule(const ScheduleOptions& s, int epochs) {
  if (s.name != "constant" && s.name != "multistep" && s.name != "cosine" &&
      s.name != "exponential")
    throw UsageError("unknown schedule '" + s.name +
                     "': expected constant, multistep, cosine or exponential");
  int prev = 0;
  for (int m : s.milestones) {
    if (m <= prev || m >= epochs + 1)
      throw UsageError("schedule milestones must be increasing epochs in [1, " +
                       std::to_string(epochs) + "], got " + std::to_string(m));
    prev = m;
  }
  if (s.gamma <= 0) throw UsageError("schedule gamma must be > 0, got " + std::to_string(s.gamma));
}

float learning_rate(const ScheduleOptions& s, float base_lr, int epoch, int epochs) {
  if (s.name == "constant") return base_lr;
  if (s.name == "multistep") {
    double lr = base_lr;
    for (int m : s.milestones)
      if (epoch >= m) lr *= s.gamma;
    return static_cast<float>(lr);
  }
  if (s.name == "exponential")
    return static_cast<float>(base_lr * std::pow(static_cast<double>(s.gamma), epoch));
  if (s.name == "cosine") {
    // PyTorch's CosineAnnealingLR closed form with T_max = epochs.
    const double pi = 3.14159265358979323846;
    return static_cast<float>(s.min_lr +
                              (base_lr - s.min_lr) * (1 + std::cos(pi * epoch / epochs)) / 2);
  }
  throw UsageError("unknown schedule '" + s.name + "'");
}

}  // namespace qt
