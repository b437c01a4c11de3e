// Configuration resolution and its error messages; the data options down to the loader.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>

#include "app/cli/cmd_datasets.h"
#include "app/cli/cmd_sensitivity.h"
#include "app/cli/cmd_sweep.h"
#include "app/cli/cmd_train.h"
#include "app/cli/config_flags.h"
#include "app/config/config.h"
#include "datasets/dataset_writers.h"
#include "engine/core/error.h"
#include "test_datasets_fixtures.h"
#include "test_sweep_util.h"

using namespace qt;
using json = nlohmann::json;

static std::string usage_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_CASE("defaults validate and build a TrainConfig") {
  json cfg = default_config();
  validate_config(cfg);
  TrainConfig t = to_train_config(cfg);
  CHECK(t.model == cfg["model"].get<std::string>());
  CHECK(t.epochs == cfg["epochs"].get<int>());
  CHECK(t.optimizer.name == "sgd");
}

TEST_CASE("a config file merges nested keys; unknown keys get a did-you-mean") {
  json cfg = default_config();
  merge_config(cfg, json::parse(R"({"epochs": 3, "optimizer": {"momentum": 0.95}})"), "f.json");
  CHECK(cfg["epochs"] == 3);
  CHECK(cfg["optimizer"]["momentum"].get<double>() == doctest::Approx(0.95));
  std::string m = usage_error(
      [&] { merge_config(cfg, json::parse(R"({"optimizer": {"momentun": 0.9}})"), "f.json"); });
  CHECK(m.find("f.json") != std::string::npos);
  CHECK(m.find("optimizer.momentun") != std::string::npos);
  CHECK(m.find("did you mean 'optimizer.momentum'") != std::string::npos);
  // Equally distant keys: the one that shares the typo's beginning wins.
  CHECK(usage_error([&] {
          merge_config(cfg, json::parse(R"({"lrate": 0.1})"), "f.json");
        }).find("did you mean 'lr'") != std::string::npos);
  m = usage_error([&] { merge_config(cfg, json::parse(R"({"epochs": "ten"})"), "f.json"); });
  CHECK(m.find("epochs must be an integer") != std::string::npos);
}

TEST_CASE("values out of range or not among the choices are rejected, naming the key") {
  json cfg = default_config();
  cfg["lr"] = -0.1;
  CHECK(usage_error([&] { validate_config(cfg); }).find("lr = -0.1 is out of range") !=
        std::string::npos);
  cfg = default_config();
  cfg["model"] = "lenet";
  std::string m = usage_error([&] { validate_config(cfg); });
  CHECK(m.find("model = 'lenet' is not one of") != std::string::npos);
  CHECK(m.find("did you mean 'lenet5'") != std::string::npos);
  cfg = default_config();
  cfg["schedule"]["name"] = "multistep";
  CHECK(usage_error([&] { validate_config(cfg); }).find("needs --milestones") != std::string::npos);
  cfg["schedule"]["milestones"] = {5, 50};
  cfg["epochs"] = 10;
  CHECK(usage_error([&] { validate_config(cfg); }).find("after the last epoch") !=
        std::string::npos);
}

TEST_CASE("command-line texts parse by type") {
  const ConfigOption* o = find_option("epochs");
  REQUIRE(o);
  CHECK(parse_value(*o, "12", "--epochs") == 12);
  CHECK(usage_error([&] { parse_value(*o, "12x", "--epochs"); }).find("'12x' is not an integer") !=
        std::string::npos);
  o = find_option("schedule.milestones");
  REQUIRE(o);
  CHECK(parse_value(*o, "80,140", "--milestones") == json::array({80, 140}));
  o = find_option("optimizer.nesterov");
  CHECK(parse_value(*o, "true", "--set") == true);
  CHECK(usage_error([&] { parse_value(*o, "maybe", "--set"); }).find("true or false") !=
        std::string::npos);
}

TEST_CASE("data options: split seed, CIFAR-100 labels, the synthetic set; each validated by key") {
  json cfg = default_config();
  TrainConfig t = to_train_config(cfg);
  CHECK(t.data.split_seed == 0);
  CHECK(t.data.cifar100_labels == "fine");
  const SyntheticSpec spec;  // the defaults are the spec's own
  CHECK(t.data.synthetic.channels == spec.channels);
  CHECK(t.data.synthetic.height == spec.height);
  CHECK(t.data.synthetic.classes == spec.classes);
  CHECK(t.data.synthetic.train_size == spec.train_size);
  CHECK(t.data.synthetic.test_size == spec.test_size);
  CHECK(t.data.synthetic.noise == spec.noise);

  merge_config(cfg, json::parse(R"({"data": {"split_seed": 7, "cifar100_labels": "coarse",
      "synthetic": {"shape": [3, 8, 6], "classes": 4, "size": [90, 30], "seed": 2, "noise": 0.25}}})"),
               "f.json");
  validate_config(cfg);
  t = to_train_config(cfg);
  CHECK(t.data.split_seed == 7);
  CHECK(t.data.cifar100_labels == "coarse");
  CHECK(t.data.synthetic.channels == 3);
  CHECK(t.data.synthetic.height == 8);
  CHECK(t.data.synthetic.width == 6);
  CHECK(t.data.synthetic.classes == 4);
  CHECK(t.data.synthetic.train_size == 90);
  CHECK(t.data.synthetic.test_size == 30);
  CHECK(t.data.synthetic.seed == 2);
  CHECK(t.data.synthetic.noise == 0.25f);

  auto refused = [](const std::string& key, const std::string& text) {
    json c = default_config();
    set_value(c, key, parse_value(*find_option(key), text, "--set"), "--set");
    return usage_error([&] { validate_config(c); });
  };
  std::string m = refused("data.cifar100_labels", "coarse20");
  CHECK(m.find("data.cifar100_labels = 'coarse20' is not one of: fine, coarse") !=
        std::string::npos);
  CHECK(refused("data.split_seed", "-1").find("data.split_seed = -1 is out of range") !=
        std::string::npos);
  CHECK(refused("data.synthetic.classes", "1")
            .find("data.synthetic.classes = 1 is out of range: allowed 2 … 65536") !=
        std::string::npos);
  CHECK(refused("data.synthetic.shape", "3,0,8").find("data.synthetic.shape = 0 is out of range") !=
        std::string::npos);
  CHECK(refused("data.synthetic.shape", "3,8")
            .find("data.synthetic.shape = [3,8] must have 3 values: C,H,W") != std::string::npos);
  CHECK(refused("data.synthetic.size", "100")
            .find("data.synthetic.size = [100] must have 2 values: TRAIN,TEST") !=
        std::string::npos);
  CHECK(refused("data.synthetic.noise", "1.5").find("data.synthetic.noise = 1.5 is out of range") !=
        std::string::npos);
}

TEST_CASE("a config.json written before a key existed: the key counts as its default") {
  json old = default_config();
  old["data"].erase("split_seed");
  old["data"].erase("synthetic");
  old["data"]["val_size"] = 100;
  validate_config(old);  // as `qtrain train --resume` does with an older run's config.json
  const TrainConfig t = to_train_config(old);
  CHECK(t.data.split_seed == 0);
  CHECK(t.data.val_size == 100);
  CHECK(t.data.synthetic.train_size == SyntheticSpec{}.train_size);
  const json full = complete_config(old);
  CHECK(full["data"]["split_seed"] == 0);
  CHECK(full["data"]["val_size"] == 100);
  json expected = default_config();
  expected["data"]["val_size"] = 100;
  // the defaults that follow the run's length, for the default 10 epochs
  expected["algo"]["phase2_epoch"] = expected["algo"]["relax_until"] = 7;
  expected["algo"]["lambda_growth"] = std::pow(1.04, 150.0 / 7);
  expected["algo"]["relax_growth"] = std::pow(1.02, 150.0 / 7);
  CHECK(full == expected);
  // a key whose default changed: an older run keeps what qtrain did then
  old["optimizer"].erase("decay_norm");
  CHECK(default_config()["optimizer"]["decay_norm"] == true);
  CHECK(complete_config(old)["optimizer"]["decay_norm"] == false);
  CHECK_FALSE(to_train_config(old).optimizer.decay_norm);
  CHECK(to_train_config(default_config()).optimizer.decay_norm);
}

TEST_CASE("schedule defaults follow the run's length; explicit values win") {
  auto completed = [](int epochs, const json& algo = json::object()) {
    json c = default_config();
    c["epochs"] = epochs;
    for (auto& [k, v] : algo.items()) c["algo"][k] = v;
    return complete_config(c)["algo"];
  };
  for (int epochs : {1, 2, 3, 6, 10, 200, 1000}) {
    CAPTURE(epochs);
    const json a = completed(epochs);
    const int p2 = 3 * epochs / 4;
    CHECK(a["phase2_epoch"] == p2);
    CHECK(a["relax_until"] == p2);
    CHECK(a["epochs_per_layer"] == 0);
    CHECK(p2 < epochs);  // every run has its exact phase
    if (p2 > 0) {
      // λ of the last phase-I epoch is λ0·γ^phase2 = 1.04^150, η's last relaxed growth 1.02^300
      CHECK(std::pow(a["lambda_growth"].get<double>(), p2) ==
            doctest::Approx(std::pow(1.04, 150)).epsilon(1e-9));
      CHECK(std::pow(a["relax_growth"].get<double>(), 2 * p2) ==
            doctest::Approx(std::pow(1.02, 300)).epsilon(1e-9));
    }
    json c = default_config();
    c["epochs"] = epochs;
    for (const char* name : {"binaryrelax", "bcgd", "iterative"}) {
      c["algo"]["name"] = name;
      c["algo"]["relax"] = std::string(name) == "bcgd";
      CHECK_NOTHROW(validate_config(c));
    }
  }
  CHECK(completed(10)["lambda_growth"].get<double>() == doctest::Approx(2.318).epsilon(1e-3));
  // the paper's run: exactly the paper's numbers
  CHECK(completed(200)["phase2_epoch"] == 150);
  CHECK(completed(200)["lambda_growth"] == 1.04);
  CHECK(completed(200)["relax_growth"] == 1.02);
  // explicit values win, and an explicit phase II sets the growth that the default follows
  const json a =
      completed(10, {{"phase2_epoch", 5}, {"relax_growth", 1.5}, {"epochs_per_layer", 2}});
  CHECK(a["phase2_epoch"] == 5);
  CHECK(a["lambda_growth"].get<double>() == doctest::Approx(std::pow(1.04, 30)));
  CHECK(a["relax_until"] == 7);
  CHECK(a["relax_growth"] == 1.5);
  CHECK(a["epochs_per_layer"] == 2);
  CHECK(completed(10, {{"phase2_epoch", 150}})["lambda_growth"] == 1.04);
  CHECK(completed(10, {{"lambda_growth", 1.04}})["lambda_growth"] == 1.04);
  // a config.json completed once does not change when completed again (resume, sweeps)
  json once = default_config();
  once["epochs"] = 6;
  once = complete_config(once);
  CHECK(complete_config(once) == once);
  CHECK(to_train_config(once).algo.phase2_epoch == 4);
  json changed = once;
  changed["epochs"] = 200;  // a completed config keeps its numbers
  CHECK(complete_config(changed)["algo"]["phase2_epoch"] == 4);
}

TEST_CASE("an exact phase at or after the run's end is a usage error") {
  auto error = [](const json& algo) {
    json c = default_config();
    c["epochs"] = 4;
    for (auto& [k, v] : algo.items()) c["algo"][k] = v;
    return usage_error([&] { validate_config(c); });
  };
  CHECK(error({{"name", "binaryrelax"}, {"phase2_epoch", 3}}) == "(no error)");
  CHECK(error({{"name", "binaryrelax"}, {"phase2_epoch", 4}})
            .find("--phase2-epoch 4 leaves no epoch of phase II in a run of 4 epochs") !=
        std::string::npos);
  CHECK(error({{"name", "binaryrelax"}, {"phase2_epoch", 9}}).find("--phase2-epoch 9") !=
        std::string::npos);
  CHECK(error({{"name", "bcgd"}, {"relax", true}, {"relax_until", 3}}) == "(no error)");
  CHECK(error({{"name", "bcgd"}, {"relax", true}, {"relax_until", 4}})
            .find("--relax-until 4 leaves no epoch at exact Q(w)") != std::string::npos);
  CHECK(error({{"name", "bcgd"}, {"relax_until", 4}}) == "(no error)");  // relax off: unused
  CHECK(error({{"name", "iterative"}, {"epochs_per_layer", 2}})
            .find("raise --epochs or lower --epochs-per-layer") != std::string::npos);
}

TEST_CASE("auto: null in a file, 'auto' on the command line; help says so") {
  json cfg = default_config();
  merge_config(cfg, json::parse(R"({"epochs": 8, "algo": {"phase2_epoch": null}})"), "f.json");
  CHECK(complete_config(cfg)["algo"]["phase2_epoch"] == 6);
  CHECK(parse_value(*find_option("algo.lambda_growth"), "auto", "--lambda-growth").is_null());
  CHECK(usage_error([&] {
          parse_value(*find_option("epochs"), "auto", "--epochs");
        }).find("'auto' is not an integer") != std::string::npos);
  CHECK(usage_error([&] {
          set_value(cfg, "epochs", nullptr, "f.json");
        }).find("epochs must be an integer") != std::string::npos);
  CLI::App app;
  ConfigFlags f;
  add_config_flags(app, f);
  const std::string help = app.help();
  CHECK(help.find("⌊3/4 of --epochs⌋ (paper: 150 of 200) [default: auto] (algo.phase2_epoch)") !=
        std::string::npos);
  CHECK(help.find("[default: auto] (algo.lambda_growth)") != std::string::npos);
  CHECK(help.find("--no-decay-norm") != std::string::npos);
  std::vector<const char*> argv = {
      "qtrain", "--epochs", "4", "--phase2-epoch", "auto", "--set", "algo.relax_until=auto"};
  app.parse(static_cast<int>(argv.size()), argv.data());
  const json resolved = complete_config(resolve_config(f));
  CHECK(resolved["algo"]["phase2_epoch"] == 3);
  CHECK(resolved["algo"]["relax_until"] == 3);
}

TEST_CASE(
    "data options reach the loader: the split seed, coarse CIFAR-100 labels, the synthetic spec") {
  testing::TempDir tmp;
  // The split seed chooses other validation images, as many as before.
  json cfg = default_config();
  merge_config(cfg, json::parse(R"({"data": {"name": "synthetic", "val_size": 40,
      "synthetic": {"shape": [3, 5, 4], "classes": 3, "size": [200, 30]}}})"),
               "test");
  validate_config(cfg);
  const DataSplits a = load_splits(to_train_config(cfg).data);
  CHECK(a.train.sample_shape() == Shape{3, 5, 4});
  CHECK(a.train.classes == 3);
  CHECK(a.train.size() == 160);
  CHECK(a.val.size() == 40);
  CHECK(a.test.size() == 30);
  cfg["data"]["split_seed"] = 1;
  const DataSplits b = load_splits(to_train_config(cfg).data);
  CHECK(b.val.size() == a.val.size());
  CHECK(b.train.size() == a.train.size());
  CHECK(b.val.pixels != a.val.pixels);
  CHECK(b.test.pixels == a.test.pixels);  // the test set never depends on the split
  cfg["data"]["synthetic"]["seed"] = 1;   // other data
  CHECK(load_splits(to_train_config(cfg).data).test.pixels != a.test.pixels);

  // A generated CIFAR-100 file: 100 fine or 20 coarse classes, as data.cifar100_labels says.
  const Dataset c100 = testing::random_dataset(3, 32, 32, 100, 60, 11);
  std::vector<int32_t> coarse;
  for (int32_t l : c100.labels) coarse.push_back(l / 5);
  std::filesystem::create_directories(tmp.file("cifar-100-binary"));
  write_bytes(tmp.file("cifar-100-binary/train.bin"), cifar_bytes(c100, &coarse));
  write_bytes(tmp.file("cifar-100-binary/test.bin"), cifar_bytes(c100, &coarse));
  cfg = default_config();
  merge_config(cfg, json::parse(R"({"data": {"name": "cifar100", "val_size": 10}})"), "test");
  cfg["data"]["dir"] = tmp.path.string();
  validate_config(cfg);
  CHECK(load_splits(to_train_config(cfg).data).train.classes == 100);
  cfg["data"]["cifar100_labels"] = "coarse";
  validate_config(cfg);
  const DataSplits c = load_splits(to_train_config(cfg).data);
  CHECK(c.train.classes == 20);
  CHECK(c.test.labels == coarse);
  CHECK(c.train.size() + c.val.size() == 60);
}

TEST_CASE("the config flags on a command line; sensitivity --out creates its folder") {
  testing::TempDir tmp;
  auto parse = [](CLI::App& app, std::vector<std::string> args) {
    args.insert(args.begin(), "qtrain");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  };
  {
    CLI::App app;
    ConfigFlags f;
    add_config_flags(app, f);
    CHECK(app.help().find("--split-seed INT") != std::string::npos);
    CHECK(app.help().find("{fine|coarse} [default: fine] (data.cifar100_labels)") !=
          std::string::npos);
    CHECK(app.help().find("[default: 1,28,28] (data.synthetic.shape)") != std::string::npos);
    parse(app, {"--split-seed", "3", "--synthetic-size", "50,10", "--stratified", "--set",
                "data.synthetic.classes=3"});
    const json cfg = resolve_config(f);
    CHECK(cfg["data"]["split_seed"] == 3);
    CHECK(cfg["data"]["synthetic"]["size"] == json::array({50, 10}));
    CHECK(cfg["data"]["synthetic"]["classes"] == 3);
    CHECK(cfg["data"]["stratified"] == true);
    CHECK(cfg["epochs"] == default_config()["epochs"]);
  }
  CLI::App app;
  add_sensitivity_command(app);
  const std::string out = tmp.file("not/yet/there/sens.json");
  parse(app, {"sensitivity", "--model", "mlp", "--dataset", "synthetic", "--synthetic-size",
              "300,50", "--epochs", "1", "--threads", "1", "--out", out});
  const SensitivityReport r = read_sensitivity(out);
  CHECK(r.model == "mlp");
  CHECK_FALSE(r.layers.empty());
}

TEST_CASE("nan and inf are refused for every number key: flag, --set, config file, config.json") {
  auto cli = [](CLI::App& app, std::vector<std::string> args) {
    args.insert(args.begin(), "qtrain");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  };
  int floats = 0;
  for (const ConfigOption& o : config_options()) {
    if (o.kind != OptKind::Float) continue;
    ++floats;
    CAPTURE(o.key);
    for (const std::string text : {"nan", "NaN", "-nan", "inf", "-inf", "Infinity"}) {
      CAPTURE(text);
      std::string m = usage_error([&] { parse_value(o, text, "--set " + o.key); });
      CHECK(m.find("is not a finite number (for " + o.key + ")") != std::string::npos);
      if (!o.flag.empty()) {
        CLI::App app;
        ConfigFlags f;
        add_config_flags(app, f);
        cli(app, {o.flag, text});
        m = usage_error([&] { resolve_config(f); });
        CHECK(m.find(o.flag + ": '" + text + "' is not a finite number") != std::string::npos);
      }
      CLI::App app;
      ConfigFlags f;
      add_config_flags(app, f);
      cli(app, {"--set", o.key + "=" + text});
      CHECK(usage_error([&] { resolve_config(f); }).find("(for " + o.key + ")") !=
            std::string::npos);
    }
    // JSON cannot spell NaN, but a value can be set from code or read back as a double.
    for (double x : {std::nan(""), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
      json cfg = default_config();
      set_value(cfg, o.key, x, "test");
      CHECK(usage_error([&] { validate_config(cfg); }).find(o.key + " = ") == 0);
      CHECK(usage_error([&] { validate_config(cfg); }).find("is not a finite number") !=
            std::string::npos);
    }
    // A stored config.json where NaN became null (null means "auto" for the keys that default to
    // a value following the run's length, which complete_config resolves).
    if (o.def.is_null()) continue;
    json cfg = default_config();
    std::string ptr = "/" + o.key;
    std::replace(ptr.begin(), ptr.end(), '.', '/');
    cfg[json::json_pointer(ptr)] = nullptr;
    CHECK(usage_error([&] { validate_config(cfg); }).find(o.key + " must be a number") == 0);
  }
  CHECK(floats > 15);
  // The number flags outside the schema.
  std::ostringstream sink;
  for (std::vector<std::string> args :
       {std::vector<std::string>{"train", "--checkpoint-every", "nan"},
        {"train", "--checkpoint-every", "inf"},
        {"train", "--checkpoint-every", "-1"},
        {"sweep", "s.json", "--checkpoint-every", "nan"},
        {"datasets", "info", "synthetic", "--synthetic-noise", "nan"}}) {
    CLI::App app;
    add_train_command(app);
    add_sweep_command(app);
    add_datasets_command(app, sink);
    CAPTURE(args[1]);
    CHECK_THROWS_AS(cli(app, args), CLI::ValidationError);
  }
}

TEST_CASE("integer keys take a plain decimal integer and nothing else") {
  int ints = 0;
  for (const ConfigOption& o : config_options()) {
    if (o.kind != OptKind::Int && o.kind != OptKind::IntList) continue;
    ++ints;
    CAPTURE(o.key);
    for (const char* text :
         {"", " 3", "3 ", "+3", "3.0", "3e2", "0x3", "three", "3x", "99999999999999999999"}) {
      const std::string t = text;
      CAPTURE(t);
      if (t.empty() && o.kind == OptKind::IntList) continue;  // the empty list
      CHECK(usage_error([&] { parse_value(o, text, o.flag); }).find("is not ") !=
            std::string::npos);
    }
    if (o.kind == OptKind::Int) CHECK(parse_value(o, "-3", o.flag) == -3);
  }
  CHECK(ints > 10);
  const ConfigOption* m = find_option("schedule.milestones");
  REQUIRE(m);
  CHECK(parse_value(*m, "", "--milestones") == json::array());
  for (const char* text : {"1,,2", "1,", ",", ",1", "1, 2"})
    CHECK(usage_error([&] {
            parse_value(*m, text, "--milestones");
          }).find("is not a list of integers (for schedule.milestones)") != std::string::npos);
  // A config file's number where an integer belongs.
  json cfg = default_config();
  CHECK(usage_error([&] {
          merge_config(cfg, json::parse(R"({"epochs": 3.5})"), "f.json");
        }).find("epochs must be an integer") != std::string::npos);
}

TEST_CASE("qtrain train --lr nan exits 2 naming the flag and the key") {
  const auto r = sweep_test::run({sweep_test::qtrain_bin(), "train", "--lr", "nan", "--dry-run"});
  CHECK(r.code == 2);
  CHECK(r.output.find("--lr: 'nan' is not a finite number (for lr)") != std::string::npos);
}
