#include "app/run/run_training.h"

#include <zlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "app/config/config.h"
#include "app/run/best_epoch.h"
#include "app/run/mpi_world.h"
#include "app/run/progress.h"
#include "app/train/trainer.h"
#include "app/version.h"
#include "engine/core/blas_kernel.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"

namespace qt {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string config_hash(const json& config) {
  json c = config;
  c.erase("threads");  // does not change results
  const std::string s = c.dump();
  uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08lx", crc);
  return buf;
}

namespace {

std::string epoch_line(const json& r, int epochs) {
  char buf[512];
  std::string val;
  if (r.contains("val_acc")) {
    char v[96];
    std::snprintf(v, sizeof v, "  val %.4f %6.2f%%", r["val_loss"].get<double>(),
                  100 * r["val_acc"].get<double>());
    val = v;
  }
  std::snprintf(
      buf, sizeof buf,
      "epoch %3d/%d  lr %.4g  train %.4f %6.2f%%%s  test %.4f %6.2f%%  %7.0f img/s  %.1fs",
      r["epoch"].get<int>(), epochs, r["lr"].get<double>(), r["train_loss"].get<double>(),
      100 * r["train_acc"].get<double>(), val.c_str(), r["test_loss"].get<double>(),
      100 * r["test_acc"].get<double>(), r["timing"]["images_per_second"].get<double>(),
      r["timing"]["train_seconds"].get<double>() + r["timing"]["eval_seconds"].get<double>());
  // Over several processes: what each received per training step, and the time it spent in the
  // exchanges (waiting for the slowest process included).
  const json& t = r["timing"];
  if (t.contains("bytes_received_per_step")) {
    char mpi[96];
    std::snprintf(mpi, sizeof mpi, "  MPI %.2f MB/step, %.0f ms/step",
                  t["bytes_received_per_step"].get<double>() / 1e6,
                  1e3 * t["communication_seconds_per_step"].get<double>());
    return buf + std::string(mpi);
  }
  return buf;
}

// The printed lines, also kept in log.txt (rewritten whole each time: it stays small).
class RunLog {
 public:
  // writer = false: another process (MPI rank 0) prints and writes; this one stays silent.
  RunLog(std::string path, bool quiet, bool writer = true)
      : path_(std::move(path)), quiet_(quiet), writer_(writer) {
    std::ifstream in(path_);
    if (in) text_.assign(std::istreambuf_iterator<char>(in), {});
  }
  void line(const std::string& s) {
    if (!writer_) return;
    if (!quiet_) {
      std::printf("%s\n", s.c_str());
      std::fflush(stdout);
    }
    text_ += s + "\n";
    write_file_atomic(path_, text_);
  }

 private:
  std::string path_, text_;
  bool quiet_, writer_;
};

// Before anything else under several processes: every rank must have been given the same
// configuration and directory, and the shards must share out evenly. Every rank finds the same
// answer, so every rank throws the same LaunchError (app/run/mpi_world.h), reported once.
void check_launch(Communicator& comm, const json& config, const RunOptions& opt,
                  const TrainConfig& cfg) {
  json c = config;
  c.erase("threads");  // may differ between ranks: does not change results
  const std::string mine = config_hash(c) + " " + opt.out + (opt.resume ? " resume" : "");
  constexpr size_t kLen = 512;
  std::string padded = mine.substr(0, kLen);
  padded.resize(kLen, '\0');
  std::string all(kLen * comm.size(), '\0');
  comm.allgather(padded.data(), kLen, all.data());
  for (int r = 1; r < comm.size(); ++r)
    if (all.compare(r * kLen, kLen, all, 0, kLen) != 0)
      throw LaunchError("the " + std::to_string(comm.size()) +
                        " processes of this training were started with different "
                        "configurations (rank " +
                        std::to_string(r) +
                        " differs from rank 0 in its config, --out or --resume): start them all "
                        "with the same command");
  if (cfg.shards % comm.size() != 0)
    throw LaunchError("--shards " + std::to_string(cfg.shards) + " cannot be shared by " +
                      std::to_string(comm.size()) +
                      " processes: use a multiple of the process count (e.g. --shards " +
                      std::to_string(comm.size()) +
                      "); the results depend on --shards only, so the same --shards on any "
                      "process count dividing it gives the same bits");
  if (cfg.batch_size % cfg.shards != 0)
    throw LaunchError("--batch-size " + std::to_string(cfg.batch_size) +
                      " is not divisible by --shards " + std::to_string(cfg.shards) +
                      ": each shard of the global batch takes batch-size/shards samples");
}

// metrics.jsonl's records up to (and including) `epochs`; later lines belong to work after the
// checkpoint and are redone.
std::vector<json> read_metrics(const std::string& path, int epochs) {
  std::vector<json> recs;
  std::ifstream in(path);
  std::string line;
  while (recs.size() < static_cast<size_t>(epochs) && std::getline(in, line)) {
    try {
      recs.push_back(parse_bounded_json(line));
    } catch (const json::exception&) {
      throw DataError(path + ": line " + std::to_string(recs.size() + 1) + " is not valid JSON");
    }
  }
  if (recs.size() != static_cast<size_t>(epochs))
    throw DataError(path + ": has " + std::to_string(recs.size()) +
                    " epoch records, the checkpoint is at epoch " + std::to_string(epochs));
  return recs;
}

}  // namespace

json run_summary(const std::vector<json>& recs, double seconds, bool finished) {
  json s = {{"schema_version", 1}, {"finished", finished}, {"epochs_done", recs.size()}};
  // The kernel fixes the GEMMs' summation order: same kernel, same bits.
  s["blas"] = blas_info().to_json();
  if (recs.empty()) return s;
  const json& last = recs.back();
  const BestEpoch b = best_epoch(recs);
  s["final"] = {
      {"epoch", last["epoch"]}, {"test_acc", last["test_acc"]}, {"test_loss", last["test_loss"]}};
  if (last.contains("val_acc")) s["final"]["val_acc"] = last["val_acc"];
  if (b.index) {
    const json& best = recs[*b.index];
    s["best"] = {{"epoch", best["epoch"]},
                 {"selected_by", b.selected_by},
                 {"fully_quantized", b.fully_quantized},
                 {"test_acc", best["test_acc"]}};
    if (best.contains("val_acc")) s["best"]["val_acc"] = best["val_acc"];
  }
  s["max_test_acc"] = b.max_test ? json(*b.max_test) : json(nullptr);
  s["timing"] = {{"seconds", seconds}};
  s["versions"] = {{"qtrain", kQtrainVersion}, {"checkpoint_format", kCheckpointVersion}};
  return s;
}

RunResult run_training(const json& given, const RunOptions& opt) {
  // Every key and every default that follows the run's length, as config.json records them.
  const json config = complete_config(given);
  validate_config(config);
  TrainConfig cfg = to_train_config(config);
  set_threads(cfg.threads);
  Communicator* comm = opt.comm;
  if (comm && comm->size() > 1) check_launch(*comm, config, opt, cfg);
  const bool writer = !comm || comm->rank() == 0;  // only rank 0 writes the run directory

  RunResult result;
  result.dir = opt.out.empty() ? "runs/" + cfg.model + "-" + cfg.data.name + "-" + cfg.algo.name +
                                     "-" + config_hash(config)
                               : opt.out;
  const std::string ckpt_dir = result.dir + "/checkpoints", last_ckpt = ckpt_dir + "/last.ckpt";
  // Read everything that can fail before touching the run directory.
  Checkpoint resume_from;
  if (opt.resume) resume_from = load_checkpoint(last_ckpt);
  Checkpoint init;
  if (!opt.init_from.empty()) init = load_checkpoint(opt.init_from);
  if (!opt.resume && fs::exists(last_ckpt))
    throw UsageError("the run directory " + result.dir +
                     " already holds a run: continue it with --resume " + result.dir +
                     ", or choose another --out");

  const auto start = std::chrono::steady_clock::now();
  DataSplits data = load_splits(cfg.data);
  Trainer trainer(cfg, data, comm);
  std::vector<json> recs;
  double seconds_before = 0;
  if (opt.resume) {
    // The thread count may change between sessions: results do not depend on it.
    auto same_run = [](json a, json b) {
      a = complete_config(a);
      a.erase("threads");
      b.erase("threads");
      return a == b;
    };
    if (resume_from.meta.contains("config") &&
        (!resume_from.meta["config"].is_object() || !same_run(resume_from.meta["config"], config)))
      throw DataError(last_ckpt + ": was written with another configuration than " + result.dir +
                      "/config.json");
    trainer.restore(resume_from);
    recs = read_metrics(result.dir + "/metrics.jsonl", trainer.epoch());
    const json& rs =
        resume_from.meta.contains("run_seconds") ? resume_from.meta["run_seconds"] : json(0.0);
    if (!rs.is_number() || !std::isfinite(rs.get<double>()) || rs.get<double>() < 0)
      throw DataError(last_ckpt + ": run_seconds = " + rs.dump().substr(0, 60) +
                      ", expected a number of seconds ≥ 0");
    seconds_before = rs.get<double>();
  } else if (!opt.init_from.empty()) {
    trainer.load_weights(init);
  }

  if (writer) {
    make_dirs(ckpt_dir);
    write_file_atomic(result.dir + "/config.json", config.dump(2) + "\n");
  }
  RunLog log(result.dir + "/log.txt", opt.quiet, writer);
  ProgressLine progress(opt.progress && !opt.quiet && writer);
  char head[512];
  std::snprintf(head, sizeof head,
                "%s %s on %s (%lld train / %lld val / %lld test), %s, %d epochs → %s",
                opt.resume ? "resuming" : "training", cfg.model.c_str(), cfg.data.name.c_str(),
                static_cast<long long>(data.train.size()), static_cast<long long>(data.val.size()),
                static_cast<long long>(data.test.size()), cfg.algo.name.c_str(), cfg.epochs,
                result.dir.c_str());
  log.line(head);
  log.line("BLAS: " + blas_info().line());
  if (comm && comm->size() > 1)
    log.line("MPI: " + std::to_string(comm->size()) + " processes, " + std::to_string(cfg.shards) +
             " shards of " + std::to_string(cfg.batch_size / cfg.shards) + " samples per batch");
  if (!blas_info().warning.empty()) log.line("warning: " + blas_info().warning);
  if (opt.resume) {
    // Where in the data order the run continues: a resume inside an epoch proves that the
    // mid-epoch checkpoints work (tests/test_kill_resume counts these lines).
    const int64_t batch = resume_from.meta.value("batch", int64_t{0});
    log.line(batch > 0 ? "resumed mid-epoch from " + last_ckpt + ": epoch " +
                             std::to_string(trainer.epoch() + 1) + ", after batch " +
                             std::to_string(batch) + " of " +
                             std::to_string(trainer.config().algo.steps_per_epoch)
                       : "resumed from " + last_ckpt + " at the start of epoch " +
                             std::to_string(trainer.epoch() + 1));
  }

  auto elapsed = [&] {
    return seconds_before +
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto save = [&] {
    if (!writer) return;
    Checkpoint c = trainer.snapshot();
    c.meta["config"] = config;
    c.meta["run_seconds"] = elapsed();
    save_checkpoint(c, last_ckpt);
  };
  auto last_save = std::chrono::steady_clock::now();
  std::string metrics_text;
  for (auto& r : recs) metrics_text += r.dump() + "\n";

  trainer.set_log([&](const std::string& line) {
    progress.clear();
    log.line(line);
  });
  result.finished = trainer.run(
      [&](const json& rec) {
        progress.clear();
        recs.push_back(rec);
        metrics_text += rec.dump() + "\n";
        // Metrics first, then the checkpoint: a crash in between redoes the epoch on resume,
        // and read_metrics drops the extra line.
        if (writer) write_file_atomic(result.dir + "/metrics.jsonl", metrics_text);
        save();
        last_save = std::chrono::steady_clock::now();
        if (writer)
          write_file_atomic(result.dir + "/summary.json",
                            run_summary(recs, elapsed(), false).dump(2) + "\n");
        log.line(epoch_line(rec, cfg.epochs));
      },
      [&](const TrainProgress& p) {
        progress.update(p);
        if (opt.checkpoint_every > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - last_save).count() >
                opt.checkpoint_every) {
          save();
          last_save = std::chrono::steady_clock::now();
        }
      },
      opt.stop);
  progress.clear();

  if (!result.finished) {
    save();
    log.line("stopped at epoch " + std::to_string(trainer.epoch() + 1) + ", step " +
             std::to_string(trainer.step()) + "; continue with: qtrain train --resume " +
             result.dir);
  }
  result.summary = run_summary(recs, elapsed(), result.finished);
  if (writer) write_file_atomic(result.dir + "/summary.json", result.summary.dump(2) + "\n");
  if (result.finished && !recs.empty()) {
    char tail[512];
    const json& b = result.summary["best"];
    std::snprintf(tail, sizeof tail,
                  "final test accuracy %.2f%%; best by %s: epoch %d, test %.2f%%; metrics in "
                  "%s/metrics.jsonl",
                  100 * recs.back()["test_acc"].get<double>(),
                  b["selected_by"].get<std::string>().c_str(), b["epoch"].get<int>(),
                  100 * b["test_acc"].get<double>(), result.dir.c_str());
    log.line(tail);
  }
  return result;
}

RunResult resume_training(const std::string& run_dir, RunOptions opt) {
  const std::string path = run_dir + "/config.json";
  if (!fs::exists(path))
    throw UsageError("--resume " + run_dir + ": no config.json there: is it a run directory?");
  json config;
  try {
    std::ifstream in(path);
    config = parse_bounded_json(in);
  } catch (const json::exception& e) {
    throw DataError(path + ": is not valid JSON: " + e.what());
  }
  opt.out = run_dir;
  opt.resume = true;
  if (opt.threads >= 0) config["threads"] = opt.threads;
  return run_training(config, opt);
}

}  // namespace qt
