#include "app/cmd_eval.h"

#include <cstdio>
#include <memory>

#include "app/evaluate_checkpoint.h"
#include "engine/core/files.h"

namespace qt {

void add_eval_command(CLI::App& app) {
  struct Args {
    EvalRequest req;
    std::string json_out;
    bool json_stdout = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix; check that every "
              "quantized layer lies in its set; report the model size at its quantized widths.");
  cmd->add_option("checkpoint", a->req.checkpoint, "a checkpoint file, or a run directory (its last checkpoint)")
      ->required();
  cmd->add_option("--split", a->req.split, "which split: train, val or test [default: test]");
  cmd->add_option("--data-dir", a->req.data_dir, "folder with the dataset (default: the run's data.dir)");
  cmd->add_option("--threads", a->req.threads, "worker threads (0 = all cores) [default: 0]");
  cmd->add_option("--json", a->json_out, "also write the result as JSON to this file");
  cmd->add_flag("--json-stdout", a->json_stdout, "print the JSON instead of the table");
  cmd->callback([a]() {
    nlohmann::json r = evaluate_checkpoint(a->req);
    if (!a->json_out.empty()) write_file_atomic(a->json_out, r.dump(2) + "\n");
    if (a->json_stdout)
      std::printf("%s\n", r.dump(2).c_str());
    else
      std::printf("%s", format_evaluation(r).c_str());
  });
}

}  // namespace qt
