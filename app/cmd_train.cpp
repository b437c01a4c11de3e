#include "app/cmd_train.h"

#include <map>
#include <memory>

#include "app/config.h"
#include "app/describe_run.h"
#include "engine/quant/make_algorithm.h"
#include "app/interrupt.h"
#include "app/progress.h"
#include "app/run_training.h"
#include "engine/core/error.h"

namespace qt {

using json = nlohmann::json;

namespace {

struct TrainArgs {
  std::map<std::string, std::string> flag_values;  // key → text given on the command line
  std::map<std::string, bool> bool_values;
  std::map<std::string, CLI::Option*> flags;
  std::string config_file, out, resume, init_from;
  double checkpoint_every = 300;
  std::vector<std::string> sets;
  bool dry_run = false, quiet = false, list_layers = false;
};

std::string default_text(const ConfigOption& o) {
  if (o.def.is_string()) return o.def.get<std::string>().empty() ? "\"\"" : o.def.get<std::string>();
  if (o.def.is_array()) {
    std::string s;
    for (auto& e : o.def) s += (s.empty() ? "" : ",") + (e.is_string() ? e.get<std::string>() : e.dump());
    return s.empty() ? "none" : s;
  }
  return o.def.dump();
}

std::string choices_text(const ConfigOption& o) {
  if (o.choices.empty()) return "";
  std::string s = " {";
  for (size_t i = 0; i < o.choices.size(); ++i) s += (i ? "|" : "") + o.choices[i];
  return s + "}";
}

}  // namespace

// The resolved configuration: defaults ← --config file ← flags ← --set.
static json resolve(const TrainArgs& a) {
  json cfg = default_config();
  if (!a.config_file.empty()) merge_config(cfg, read_config_file(a.config_file), a.config_file);
  for (auto& o : config_options()) {
    auto it = a.flags.find(o.key);
    if (it == a.flags.end() || it->second->count() == 0) continue;
    json v = o.kind == OptKind::Bool ? json(a.bool_values.at(o.key))
                                     : parse_value(o, a.flag_values.at(o.key), o.flag);
    set_value(cfg, o.key, v, o.flag);
  }
  for (auto& s : a.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) throw UsageError("--set '" + s + "': expected key.path=value");
    std::string key = s.substr(0, eq);
    const ConfigOption* o = find_option(key);
    if (!o) {
      set_value(cfg, key, nullptr, "--set");  // throws the unknown-key message
    }
    set_value(cfg, key, parse_value(*o, s.substr(eq + 1), "--set " + key), "--set");
  }
  validate_config(cfg);
  return cfg;
}

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train one network: model, dataset, algorithm, schedule.");
  cmd->add_option("--config", args->config_file, "JSON file of settings (keys as in config.json), applied before flags");
  cmd->add_option("--set", args->sets, "override any key: --set optimizer.momentum=0.95 (repeatable), applied last");
  cmd->add_option("--out", args->out, "run directory [default: runs/<model>-<dataset>-<algo>-<hash>]");
  cmd->add_option("--resume", args->resume, "continue the run in this directory from its last checkpoint (its config.json is used)");
  cmd->add_option("--init-from", args->init_from, "start from the weights (and BatchNorm statistics) of this checkpoint, with a fresh optimizer");
  cmd->add_option("--checkpoint-every", args->checkpoint_every, "seconds between mid-epoch checkpoints (0 = only at epoch ends) [default: 300]");
  cmd->add_flag("--dry-run", args->dry_run,
                "print the resolved configuration, the model summary and the quantized layers, and exit");
  cmd->add_flag("--list-layers", args->list_layers,
                "list the model's conv and linear layers (the names --layers takes) and which are quantized, and exit");
  cmd->add_flag("-q,--quiet", args->quiet, "no per-epoch lines");
  for (auto& o : config_options()) {
    if (o.flag.empty()) continue;
    std::string help = o.help + choices_text(o) + " [default: " + default_text(o) + "] (" + o.key + ")";
    if (o.kind == OptKind::Bool) {
      args->bool_values[o.key] = o.def.get<bool>();
      const std::string name = o.flag.substr(2);
      args->flags[o.key] = cmd->add_flag(o.flag + ",!--no-" + name, args->bool_values[o.key], help);
    } else {
      static const std::map<OptKind, std::string> type_names = {
          {OptKind::Int, "INT"}, {OptKind::Float, "FLOAT"}, {OptKind::String, "TEXT"},
          {OptKind::IntList, "INT,..."}, {OptKind::StringList, "TEXT,..."}};
      args->flags[o.key] = cmd->add_option(o.flag, args->flag_values[o.key], help)->type_name(type_names.at(o.kind));
    }
  }
  cmd->callback([args]() {
    if (!args->resume.empty()) {
      for (auto& [key, o] : args->flags)
        if (o->count() && key != "threads")
          throw UsageError("--resume continues a run with its own config.json: " + o->get_name() +
                           " cannot change it (only --threads can)");
      if (!args->config_file.empty() || !args->sets.empty() || !args->init_from.empty())
        throw UsageError("--resume continues a run with its own config.json: drop --config, --set and --init-from");
    }
    json cfg = resolve(*args);
    if (args->list_layers) {
      TrainConfig t = to_train_config(cfg);
      std::printf("%s", describe_layers(t.model, model_options_for(t), t.algo).c_str());
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
    opt.stop = install_interrupt_handler();
    RunResult r = args->resume.empty() ? run_training(cfg, opt) : resume_training(args->resume, opt);
    if (!r.finished) throw Interrupted("interrupted; checkpoint saved in " + r.dir + "/checkpoints/last.ckpt");
  });
}

}  // namespace qt
