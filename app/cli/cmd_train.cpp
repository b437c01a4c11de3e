#include "app/cli/cmd_train.h"

#include <cstdio>
#include <limits>
#include <memory>

#include "app/cli/config_flags.h"
#include "app/cli/exit_code.h"
#include "app/config/config.h"
#include "app/run/describe_run.h"
#include "app/run/interrupt.h"
#include "app/run/mpi_world.h"
#include "app/run/progress.h"
#include "app/run/run_training.h"
#include "engine/core/error.h"
#include "engine/models/model.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

using json = nlohmann::json;

namespace {

struct TrainArgs {
  ConfigFlags config;
  std::string out, resume, init_from;
  double checkpoint_every = 300;
  double mpi_timeout = 300;
  bool dry_run = false, quiet = false, list_layers = false, list_tensors = false;
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd =
      app.add_subcommand("train", "Train one network: model, dataset, algorithm, schedule.");
  cmd->add_option("--out", args->out,
                  "run directory [default: runs/<model>-<dataset>-<algo>-<hash>]");
  cmd->add_option(
      "--resume", args->resume,
      "continue the run in this directory from its last checkpoint (its config.json is used)");
  cmd->add_option("--init-from", args->init_from,
                  "start from the weights (and BatchNorm statistics) of this checkpoint, with a "
                  "fresh optimizer");
  cmd->add_option("--checkpoint-every", args->checkpoint_every,
                  "seconds between mid-epoch checkpoints (0 = only at epoch ends) [default: 300]")
      ->check(finite_number(0, std::numeric_limits<double>::infinity()));
  cmd->add_option("--mpi-timeout", args->mpi_timeout,
                  "under mpirun or srun: seconds a rank waits for another in an exchange before "
                  "naming it and ending every rank (a dead or stopped rank, when the launcher "
                  "does not end the job) [default: 300]")
      ->check(finite_number(0.001, std::numeric_limits<double>::infinity()));
  cmd->add_flag(
      "--dry-run", args->dry_run,
      "print the resolved configuration, the model summary and the quantized layers, and exit");
  cmd->add_flag("--list-layers", args->list_layers,
                "list the model's conv and linear layers (the names --layers takes) and which are "
                "quantized, and exit");
  cmd->add_flag("--list-tensors", args->list_tensors,
                "print, as JSON, the resolved configuration and every tensor a checkpoint of the "
                "model holds (name, shape: what --init-from needs; tools/import_torch reads it), "
                "and exit");
  cmd->add_flag("-q,--quiet", args->quiet, "no per-epoch lines");
  add_config_flags(*cmd, args->config);
  cmd->callback([args]() {
    if (!args->resume.empty()) {
      for (auto& [key, o] : args->config.options)
        if (o->count() && key != "threads")
          throw UsageError("--resume continues a run with its own config.json: " + o->get_name() +
                           " cannot change it (only --threads can)");
      if (!args->config.config_file.empty() || !args->config.sets.empty() ||
          !args->init_from.empty())
        throw UsageError(
            "--resume continues a run with its own config.json: drop --config, --set and "
            "--init-from");
    }
    // complete: the defaults that follow the run's length become numbers, as config.json has them
    const json cfg = complete_config(resolve_config(args->config));
    validate_config(cfg);
    if (args->list_layers) {
      TrainConfig t = to_train_config(cfg);
      std::printf("%s", describe_layers(t.model, model_options_for(t), t.algo, t.epochs).c_str());
      return;
    }
    if (args->list_tensors) {
      // The float model at the dataset's shape: an algorithm's own tensors (an activation
      // quantizer's α) are not in a network it starts from.
      const TrainConfig t = to_train_config(cfg);
      auto model = make_model(t.model, model_options_for(t));
      json tensors = json::array();
      for (const ModelTensor& m : model->tensors())
        tensors.push_back({{"name", m.name}, {"shape", m.shape()}});
      std::printf("%s\n", json({{"config", cfg}, {"tensors", tensors}}).dump(1).c_str());
      return;
    }
    if (args->dry_run) {
      std::printf("%s\n\n%s", cfg.dump(2).c_str(), describe_run(to_train_config(cfg)).c_str());
      return;
    }
    RunOptions opt;
    opt.out = args->out;
    opt.quiet = args->quiet;
    opt.progress = stderr_is_terminal();
    opt.checkpoint_every = args->checkpoint_every;
    opt.init_from = args->init_from;
    if (!args->resume.empty() && args->config.options.at("threads")->count())
      opt.threads = cfg["threads"].get<int>();
    opt.stop = install_interrupt_handler();
    // Under mpirun: one training over the processes (app/run/mpi_world.h).
    std::unique_ptr<Communicator> world = launch_world(args->mpi_timeout);
    opt.comm = world.get();
    const bool several = world->size() > 1, first = world->rank() == 0;
    try {
      RunResult r =
          args->resume.empty() ? run_training(cfg, opt) : resume_training(args->resume, opt);
      if (!r.finished)
        throw Interrupted(
            first ? "interrupted; checkpoint saved in " + r.dir + "/checkpoints/last.ckpt" : "");
    } catch (const LaunchError& e) {
      // Found alike by every rank: rank 0 says it, the others leave quietly with the same code.
      if (several && !first) throw UsageError("");
      throw;
    } catch (const Interrupted&) {
      throw;
    } catch (const std::exception& e) {
      if (!several) throw;
      // Found by this rank alone: the others may wait for it in a collective, so all end now.
      std::fprintf(stderr, "qtrain: error on MPI rank %d of %d: %s\n", world->rank(), world->size(),
                   e.what());
      std::fflush(stderr);
      abort_world(*world, exit_code_for(e));
    }
  });
}

}  // namespace qt
