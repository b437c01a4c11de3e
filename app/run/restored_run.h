#pragma once
// A run's network back in memory, for `qtrain eval` and `qtrain export`: the configuration stored
// with it (over the defaults, its data folder optionally replaced, validated), its data and a
// Trainer, restored from the checkpoint when there is one.
#include <nlohmann/json.hpp>
#include <string>

#include "app/train/trainer.h"

namespace qt {

// UsageError unless `name` is train, val or test (checked before any data is read).
void check_split_name(const std::string& name);

class RestoredRun {
 public:
  // From a checkpoint file, or a run directory (its checkpoints/last.ckpt): weights, BatchNorm
  // statistics and the algorithm's state (weights and statistics only from a checkpoint whose
  // meta says "weights_only": tools/import_torch's). DataError when the checkpoint has no
  // configuration.
  RestoredRun(const std::string& checkpoint_or_run_dir, const std::string& data_dir);
  // From a stored configuration alone (a package's manifest; `where` names it in messages): the
  // network as initialised, for the caller to fill.
  RestoredRun(const nlohmann::json& stored_config, const std::string& where,
              const std::string& data_dir);

  // "train", "val" or "test"; UsageError for another name, or "val" when the run has none.
  const Dataset& split(const std::string& name) const;

  const std::string path;  // the checkpoint file ("" from a configuration)
  const Checkpoint ckpt;   // empty from a configuration
  const TrainConfig cfg;
  const DataSplits data;
  Trainer trainer;  // reads cfg and data: declared after them
};

}  // namespace qt
