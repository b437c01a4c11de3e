#include "app/run/restored_run.h"

#include <filesystem>

#include "app/config/config.h"
#include "engine/core/error.h"

namespace qt {

using json = nlohmann::json;

namespace {

std::string checkpoint_file(const std::string& checkpoint_or_run_dir) {
  if (std::filesystem::is_directory(checkpoint_or_run_dir))
    return checkpoint_or_run_dir + "/checkpoints/last.ckpt";
  return checkpoint_or_run_dir;
}

const json& stored_config(const Checkpoint& ckpt, const std::string& path) {
  if (!ckpt.meta.contains("config") || !ckpt.meta["config"].is_object())
    throw DataError("checkpoint " + path +
                    ": has no configuration (not written by `qtrain train`)");
  return ckpt.meta["config"];
}

// Defaults ← the stored keys ← data_dir (when given), validated as `qtrain train` would.
TrainConfig resolve(const json& stored, const std::string& where, const std::string& data_dir) {
  json config = json::object();
  merge_config(config, stored, where);
  config = complete_config(config);  // a key the run did not record: what qtrain did then
  if (!data_dir.empty()) config["data"]["dir"] = data_dir;
  try {
    validate_config(config);
  } catch (const UsageError& e) {
    throw UsageError(where + ": " + e.what());
  }
  return to_train_config(config);
}

}  // namespace

RestoredRun::RestoredRun(const std::string& checkpoint_or_run_dir, const std::string& data_dir)
    : path(checkpoint_file(checkpoint_or_run_dir)),
      ckpt(load_checkpoint(path)),
      cfg(resolve(stored_config(ckpt, path), path + " (its configuration)", data_dir)),
      data(load_splits(cfg.data)),
      trainer(cfg, data) {
  // A checkpoint of weights alone (tools/import_torch) has no optimizer or position to restore.
  if (ckpt.meta.value("weights_only", false))
    trainer.load_weights(ckpt);
  else
    trainer.restore(ckpt);
}

RestoredRun::RestoredRun(const json& stored, const std::string& where, const std::string& data_dir)
    : cfg(resolve(stored, where, data_dir)), data(load_splits(cfg.data)), trainer(cfg, data) {}

void check_split_name(const std::string& name) {
  if (name != "train" && name != "val" && name != "test")
    throw UsageError("--split '" + name + "': expected train, val or test");
}

const Dataset& RestoredRun::split(const std::string& name) const {
  check_split_name(name);
  if (name == "train") return data.train;
  if (name == "test") return data.test;
  if (data.val.size() == 0)
    throw UsageError("the run has no validation split (data.val_size = 0): use --split test");
  return data.val;
}

}  // namespace qt
