#include "app/cli/cmd_models.h"

#include <cstdio>
#include <memory>

#include "app/run/describe_run.h"
#include "engine/models/model.h"

namespace qt {

void add_models_command(CLI::App& app) {
  struct Args {
    std::string name, dataset = "cifar10";
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "models", "List the models, or show one model's layers for a dataset's input shape.");
  cmd->add_option("name", a->name, "a model: show its layers, output shapes and parameters");
  cmd->add_option("--dataset", a->dataset,
                  "the input shape and classes to build for [default: cifar10]");
  cmd->callback([a]() {
    TrainConfig run;
    run.data.name = a->dataset;
    const ModelOptions o = model_options_for(run);
    if (!a->name.empty()) {
      auto m = make_model(a->name, o);
      std::printf("%s for %s (%lld×%lld×%lld, %d classes)\n%s", a->name.c_str(), a->dataset.c_str(),
                  static_cast<long long>(o.in_channels), static_cast<long long>(o.height),
                  static_cast<long long>(o.width), o.classes, m->summary().c_str());
      return;
    }
    std::printf("%-12s %12s %14s   (built for %s)\n", "model", "parameters", "MACs/image",
                a->dataset.c_str());
    for (auto& n : model_names()) {
      auto m = make_model(n, o);
      std::printf("%-12s %12lld %14lld\n", n.c_str(), static_cast<long long>(m->params.count()),
                  static_cast<long long>(m->macs_per_image()));
    }
  });
}

}  // namespace qt
