#pragma once
// Everything that decides a run's numbers. The app resolves it from defaults, a config file,
// flags and overrides; the engine only reads it.
#include <cstdint>
#include <string>

#include "datasets/registry.h"
#include "engine/models/model.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "engine/quant/algo_options.h"

namespace qt {

struct TrainConfig {
  std::string model = "lenet5";
  ModelOptions model_options;  // input shape and classes are filled from the data
  DataRequest data;
  int epochs = 10;
  int64_t batch_size = 128;
  // The global batch in this many shards whose batch-wide sums are combined in shard order
  // (app/train/shard_group.h): 1 = the batch whole; N processes need a multiple of N.
  int shards = 1;
  int64_t eval_batch_size = 1000;
  float lr = 0.01f;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  AlgoOptions algo;
  uint64_t seed = 0;
  int threads = 0;  // 0 = all cores
};

}  // namespace qt
