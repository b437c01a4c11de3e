#pragma once
// Learning-rate schedules, evaluated per epoch as PyTorch's schedulers stepped once per epoch.
#include <string>
#include <vector>

namespace qt {

struct ScheduleOptions {
  std::string name = "constant";  // constant | multistep | cosine | exponential
  std::vector<int> milestones;    // multistep: epochs at which lr *= gamma
  float gamma = 0.1f;             // multistep factor, or exponential per-epoch factor
  float min_lr = 0.0f;            // cosine: eta_min
};

// The learning rate of (0-based) `epoch` out of `epochs`, starting from `base_lr`.
// Throws UsageError on an unknown name or bad milestones.
float learning_rate(const ScheduleOptions& s, float base_lr, int epoch, int epochs);
void validate_schedule(const ScheduleOptions& s, int epochs);

}  // namespace qt
