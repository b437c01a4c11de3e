// export → eval round trip: a packed package evaluates exactly as the checkpoint it came from,
// its quantized tensors take the advertised bits, and damaged packages are refused.
// (test_export_exact compares the logits for every algorithm and activation.)
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>

#include "app/config/config.h"
#include "app/package/evaluate_checkpoint.h"
#include "app/package/export_package.h"
#include "app/run/run_training.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "test_sweep_util.h"

using namespace qt;
using json = nlohmann::json;
namespace fs = std::filesystem;

TEST_CASE("a ternary and a binary run: package accuracy equals checkpoint accuracy") {
  const fs::path root = fs::temp_directory_path() / "qtrain-export-test";
  fs::remove_all(root);
  for (std::string algo : {"ste", "binaryrelax"}) {
    json cfg = default_config();
    cfg["model"] = "lenet5";
    cfg["algo"]["name"] = algo;
    if (algo == "ste") cfg["algo"]["bits"] = 2;
    if (algo == "binaryrelax") cfg["algo"]["phase2_epoch"] = 1;
    cfg["epochs"] = 2;
    cfg["lr"] = 0.05;
    cfg["data"]["limit_train"] = 1000;
    cfg["data"]["limit_test"] = 400;
    RunOptions opt;
    opt.out = root / algo;
    opt.quiet = true;
    run_training(cfg, opt);
    json ev = evaluate_checkpoint({opt.out, "test", "", 0, ""});
    CHECK(ev["all_quantized_layers_in_set"] == true);
    json manifest = export_package(opt.out, root / (algo + "-pkg"));
    for (auto& t : manifest["tensors"])
      if (t["encoding"] == "codebook") CHECK(t["bits"].get<int>() == (algo == "ste" ? 2 : 1));
    json pe = evaluate_package(root / (algo + "-pkg"), "test", "", 0);
    CHECK(pe["accuracy"] == ev["accuracy"]);
    CHECK(pe["loss"] == ev["loss"]);
  }
  // A truncated weights file is refused with a message naming it.
  std::string blob = read_file(root / "ste-pkg/weights.bin");
  write_file_atomic(root / "ste-pkg/weights.bin", blob.substr(0, blob.size() / 2));
  try {
    evaluate_package(root / "ste-pkg", "test", "", 0);
    FAIL("no error");
  } catch (const DataError& e) {
    CHECK(std::string(e.what()).find("weights.bin") != std::string::npos);
  }
  fs::remove_all(root);
}

namespace {

// A BCGD LeNet-5 with 4-bit activations (learned α) on synthetic data, and its package, both
// through the command line.
struct BcgdPackage {
  fs::path root = sweep_test::scratch("export-cli");
  sweep_test::Cleanup cleanup{root};
  fs::path run = root / "run", pkg = root / "pkg";
  json manifest;

  BcgdPackage() {
    json cfg = default_config();
    cfg["model"] = "lenet5";
    cfg["data"]["name"] = "synthetic";
    cfg["data"]["synthetic"]["size"] = {512, 200};
    cfg["data"]["synthetic"]["noise"] = 0.2;  // learnable in 2 epochs: ~70 % test accuracy
    cfg["data"]["val_size"] = 0;
    cfg["batch_size"] = 32;
    cfg["epochs"] = 2;
    cfg["lr"] = 0.05;
    cfg["algo"]["name"] = "bcgd";
    cfg["algo"]["act_bits"] = 4;
    RunOptions opt;
    opt.out = run;
    opt.quiet = true;
    REQUIRE(run_training(cfg, opt).finished);
    auto r = sweep_test::run({sweep_test::qtrain_bin(), "export", run, "--out", pkg});
    REQUIRE_MESSAGE(r.code == 0, r.output);
    manifest = sweep_test::read_json(pkg / "manifest.json");
  }
  // `qtrain eval` of the package with `m` as its manifest
  sweep_test::Streams eval_with(const json& m) {
    sweep_test::write(pkg / "manifest.json", m.dump(1));
    return sweep_test::run_streams({sweep_test::qtrain_bin(), "eval", pkg, "--json-stdout"});
  }
};

float float_at(const fs::path& pkg, const json& entry) {
  const std::string blob = sweep_test::slurp(pkg / "weights.bin");
  float v;
  std::memcpy(&v, blob.data() + entry["offset"].get<size_t>(), 4);
  return v;
}

}  // namespace

TEST_CASE("qtrain eval PACKAGE gives qtrain eval RUN's result, with the learned α") {
  BcgdPackage p;
  // The α the run learned is in the package, away from its start (0.1946 at 4 bits): the case
  // where a package evaluated at the initial α was 6 points worse than its checkpoint.
  int alphas = 0;
  for (auto& t : p.manifest["tensors"])
    if (t["name"].get<std::string>().ends_with(".alpha")) {
      CHECK(t["encoding"] == "float32");
      CHECK(float_at(p.pkg, t) != 0.1946f);
      ++alphas;
    }
  CHECK(alphas == 4);
  auto ck = sweep_test::run_streams({sweep_test::qtrain_bin(), "eval", p.run, "--json-stdout"});
  auto pk = sweep_test::run_streams({sweep_test::qtrain_bin(), "eval", p.pkg, "--json-stdout"});
  REQUIRE_MESSAGE(ck.code == 0, ck.err);
  REQUIRE_MESSAGE(pk.code == 0, pk.err);
  const json a = json::parse(ck.out), b = json::parse(pk.out);
  CHECK(a["accuracy"].get<double>() > 0.4);  // a trained network, not chance (0.1)
  CHECK(b["accuracy"] == a["accuracy"]);
  CHECK(b["loss"] == a["loss"]);
  CHECK(b["per_class_accuracy"] == a["per_class_accuracy"]);
}

TEST_CASE("qtrain eval PACKAGE refuses a manifest with a tensor missing, extra, twice, reshaped") {
  BcgdPackage p;
  const json good = p.manifest;
  auto index_of = [&](const std::string& name) {
    const json& ts = good["tensors"];
    for (size_t i = 0; i < ts.size(); ++i)
      if (ts[i]["name"] == name) return i;
    FAIL("no entry " << name);
    return size_t{0};
  };
  auto refused = [&](const json& m, const std::string& message) {
    auto r = p.eval_with(m);
    CHECK(r.code == 3);
    CHECK_MESSAGE(r.err.find(message) != std::string::npos, r.err);
  };
  const size_t alpha = index_of("param/act2.alpha"), bias = index_of("param/conv1.bias");

  json m = good;
  m["tensors"].erase(alpha);
  refused(m, "manifest.json: lacks tensor 'param/act2.alpha' of the model");

  m = good;
  m["tensors"].push_back(good["tensors"][alpha]);
  m["tensors"].back()["name"] = "param/act9.alpha";
  refused(m, "manifest.json: has tensor 'param/act9.alpha', which the model");

  m = good;
  m["tensors"].push_back(good["tensors"][bias]);
  refused(m, "manifest.json: tensor 'param/conv1.bias' appears twice");

  m = good;
  m["tensors"][bias]["shape"] = {3, 2};
  refused(m, "manifest.json: tensor 'param/conv1.bias' has shape [3, 2], the model");
  refused(m, "(lenet5) has [6]");

  m = good;
  m["tensors"][bias]["bytes"] = 12;  // 3 of its 6 floats
  refused(m, "tensor 'param/conv1.bias': shape [6] in float32 needs more than 12 bytes");

  // The untouched manifest still evaluates.
  auto r = p.eval_with(good);
  CHECK_MESSAGE(r.code == 0, r.err);
}
