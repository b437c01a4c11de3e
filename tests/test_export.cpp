// export → eval round trip: a packed package evaluates exactly as the checkpoint it came from,
// its quantized tensors take the advertised bits, and damaged packages are refused.
#include <doctest/doctest.h>

#include <filesystem>

#include "app/config.h"
#include "app/evaluate_checkpoint.h"
#include "app/export_package.h"
#include "app/run_training.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

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
    json ev = evaluate_checkpoint({opt.out, "test", "", 0});
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
