#include "app/run_training.h"

#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "app/config.h"
#include "app/files.h"
#include "app/progress.h"
#include "engine/core/parallel.h"
#include "engine/train/trainer.h"

namespace qt {

using json = nlohmann::json;

std::string config_hash(const json& config) {
  json c = config;
  c.erase("threads");  // does not change results
  const std::string s = c.dump();
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08lx", crc);
  return buf;
}

static std::string epoch_line(const json& r, int epochs) {
  char buf[512];
  std::string val;
  if (r.contains("val_acc")) {
    char v[96];
    std::snprintf(v, sizeof v, "  val %.4f %6.2f%%", r["val_loss"].get<double>(), 100 * r["val_acc"].get<double>());
    val = v;
  }
  std::snprintf(buf, sizeof buf, "epoch %3d/%d  lr %.4g  train %.4f %6.2f%%%s  test %.4f %6.2f%%  %7.0f img/s  %.1fs",
                r["epoch"].get<int>(), epochs, r["lr"].get<double>(), r["train_loss"].get<double>(),
                100 * r["train_acc"].get<double>(), val.c_str(), r["test_loss"].get<double>(),
                100 * r["test_acc"].get<double>(), r["timing"]["images_per_second"].get<double>(),
                r["timing"]["train_seconds"].get<double>() + r["timing"]["eval_seconds"].get<double>());
  return buf;
}

RunResult run_training(const json& config, const RunOptions& opt) {
  validate_config(config);
  TrainConfig cfg = to_train_config(config);
  set_threads(cfg.threads);

  RunResult result;
  result.dir = opt.out.empty() ? "runs/" + cfg.model + "-" + cfg.data.name + "-" + cfg.algo.name + "-" +
                                     config_hash(config)
                               : opt.out;
  const auto start = std::chrono::steady_clock::now();
  DataSplits data = load_splits(cfg.data);
  Trainer trainer(cfg, data);

  make_dirs(result.dir);
  write_file_atomic(result.dir + "/config.json", config.dump(2) + "\n");
  std::string metrics;
  ProgressLine progress(opt.progress && !opt.quiet);
  if (!opt.quiet)
    std::printf("%s on %s (%lld train / %lld val / %lld test), %s, %d epochs → %s\n", cfg.model.c_str(),
                cfg.data.name.c_str(), static_cast<long long>(data.train.size()),
                static_cast<long long>(data.val.size()), static_cast<long long>(data.test.size()),
                cfg.algo.name.c_str(), cfg.epochs, result.dir.c_str());
  std::fflush(stdout);

  double best_test = -1, best_val = -1;
  int best_epoch = 0;
  json last;
  trainer.run(
      [&](const json& rec) {
        progress.clear();
        metrics += rec.dump() + "\n";
        write_file_atomic(result.dir + "/metrics.jsonl", metrics);
        // Model selection uses validation accuracy when there is a validation split.
        double sel = rec.contains("val_acc") ? rec["val_acc"].get<double>() : rec["test_acc"].get<double>();
        if (sel > best_val) {
          best_val = sel;
          best_test = rec["test_acc"];
          best_epoch = rec["epoch"];
        }
        last = rec;
        if (!opt.quiet) {
          std::printf("%s\n", epoch_line(rec, cfg.epochs).c_str());
          std::fflush(stdout);
        }
      },
      [&](const TrainProgress& p) { progress.update(p); });

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.summary = {{"final_test_acc", last["test_acc"]},
                    {"final_test_loss", last["test_loss"]},
                    {"best_epoch", best_epoch},
                    {"best_test_acc", best_test},
                    {"timing", {{"seconds", seconds}}}};
  if (last.contains("val_acc")) {
    result.summary["final_val_acc"] = last["val_acc"];
    result.summary["best_val_acc"] = best_val;
  }
  write_file_atomic(result.dir + "/summary.json", result.summary.dump(2) + "\n");
  if (!opt.quiet)
    std::printf("final test accuracy %.2f%% (best by %s: %.2f%% at epoch %d); metrics in %s/metrics.jsonl\n",
                100 * last["test_acc"].get<double>(), last.contains("val_acc") ? "validation" : "test",
                100 * best_test, best_epoch, result.dir.c_str());
  return result;
}

}  // namespace qt
