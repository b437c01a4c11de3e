// tools/import_torch end to end: tests/import_torch_check.py (Debian's python3-torch) imports
// PyTorch models with random weights and BatchNorm statistics (LeNet-5, MLP-BN, the CIFAR ResNet-20
// with both shortcuts, VGG-11-BN, torchvision's ResNet-18), compares `qtrain eval --logits` with
// PyTorch's logits (1e-4 relative), checks that a state_dict that does not fit is refused with
// one message (exit 3), and trains BinaryRelax from an imported LeNet-5. It says what it checked.
#include "test_sweep_util.h"

using namespace sweep_test;

TEST_CASE("tools/import_torch: imported PyTorch models give PyTorch's logits in qtrain eval") {
  const std::string src = env("QTRAIN_SOURCE_DIR");
  const Result r = run({"/usr/bin/python3", src + "/tests/import_torch_check.py"}, {},
                       {{"QTRAIN_BIN", qtrain_bin()}});
  MESSAGE(r.output);
  REQUIRE_MESSAGE(r.code == 0,
                  "tests/import_torch_check.py failed (python3-torch: tools/setup "
                  "--bench)");
  CHECK(r.output.find("import_torch_check: all passed") != std::string::npos);
}
