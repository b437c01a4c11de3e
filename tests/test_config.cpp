// Configuration resolution and its error messages.
#include <doctest/doctest.h>

#include <string>

#include "app/config.h"
#include "engine/core/error.h"

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
  std::string m = usage_error([&] { merge_config(cfg, json::parse(R"({"optimizer": {"momentun": 0.9}})"), "f.json"); });
  CHECK(m.find("f.json") != std::string::npos);
  CHECK(m.find("optimizer.momentun") != std::string::npos);
  CHECK(m.find("did you mean 'optimizer.momentum'") != std::string::npos);
  m = usage_error([&] { merge_config(cfg, json::parse(R"({"epochs": "ten"})"), "f.json"); });
  CHECK(m.find("epochs must be an integer") != std::string::npos);
}

TEST_CASE("values out of range or not among the choices are rejected, naming the key") {
  json cfg = default_config();
  cfg["lr"] = -0.1;
  CHECK(usage_error([&] { validate_config(cfg); }).find("lr = -0.1 is out of range") != std::string::npos);
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
  CHECK(usage_error([&] { validate_config(cfg); }).find("after the last epoch") != std::string::npos);
}

TEST_CASE("command-line texts parse by type") {
  const ConfigOption* o = find_option("epochs");
  REQUIRE(o);
  CHECK(parse_value(*o, "12", "--epochs") == 12);
  CHECK(usage_error([&] { parse_value(*o, "12x", "--epochs"); }).find("'12x' is not an integer") != std::string::npos);
  o = find_option("schedule.milestones");
  REQUIRE(o);
  CHECK(parse_value(*o, "80,140", "--milestones") == json::array({80, 140}));
  o = find_option("optimizer.nesterov");
  CHECK(parse_value(*o, "true", "--set") == true);
  CHECK(usage_error([&] { parse_value(*o, "maybe", "--set"); }).find("true or false") != std::string::npos);
}
