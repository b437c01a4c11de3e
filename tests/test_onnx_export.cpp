// `qtrain export RUN --format onnx` against ONNX Runtime: for every algorithm on LeNet-5 and the
// MLP (with binary, Hardtanh and BCGD's quantized activations, with and without BatchNorm) and on
// ResNet-20 (both shortcuts), a tiny run on synthetic data is trained, exported and evaluated by
// the qtrain binary as a user does; ONNX Runtime (tools/onnx-run: npm's onnxruntime-node) then
// runs the ONNX file on the test images as the dataset holds them (pixel / 255). Its logits must
// lie within 1e-4 of `qtrain eval --logits` (relative to max(1, |logit|)), its predicted classes
// must be qtrain's for every image, so its confusion matrix is `qtrain eval`'s. Debian's
// python3-onnx checks every file (onnx.checker, full check) and lists its operators: standard
// ones only, opset 13, and the quantized weights as int8 codes with a DequantizeLinear.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "app/config/config.h"
#include "app/package/npy_file.h"
#include "datasets/registry.h"
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

struct Case {
  std::string label, model, algo;
  json algo_keys;  // algo.* keys
  int epochs = 1;
  bool quantized = true;        // the run ends with quantized weights (int8 codes expected)
  json extra = json::object();  // other top-level keys
};

std::vector<Case> cases() {
  std::vector<Case> c;
  for (std::string m : {"lenet5", "mlp"}) {
    c.push_back({m + " float", m, "float", json::object(), 1, false});
    c.push_back({m + " binaryconnect", m, "binaryconnect", json::object()});
    c.push_back({m + " bwn", m, "bwn", json::object()});
    c.push_back({m + " ste ternary", m, "ste", {{"bits", 2}}});
    c.push_back({m + " ste 4-bit", m, "ste", {{"projection", "bits"}, {"bits", 4}}});
    c.push_back({m + " binaryrelax phase II", m, "binaryrelax", {{"phase2_epoch", 1}}, 2});
    c.push_back({m + " bcgd 4-bit act", m, "bcgd", {{"rho", 0.01}}, 2});
    // Iterative binarizes one layer per epoch: as many epochs as layers (5 and 3).
    c.push_back({m + " iterative", m, "iterative", {{"epochs_per_layer", 1}}, m == "mlp" ? 3 : 5});
    c.push_back({m + " proxybnn binary act", m, "proxybnn", {{"act", "binary"}}});
  }
  c.push_back({"lenet5-bn bwn hardtanh", "lenet5-bn", "bwn", {{"act", "hardtanh"}}});
  c.push_back(
      {"lenet5-bn binaryconnect bireal", "lenet5-bn", "binaryconnect", {{"act", "binary-bireal"}}});
  c.push_back({"mlp-bn bcgd 2-bit act", "mlp-bn", "bcgd", {{"act_bits", 2}}});
  c.push_back({"resnet20 A bcgd", "resnet20", "bcgd", json::object()});
  c.push_back({"resnet20 B float",
               "resnet20",
               "float",
               json::object(),
               1,
               false,
               {{"model_options", {{"shortcut", "B"}}}}});
  return c;
}

json config(const Case& c) {
  json j = {
      {"model", c.model},
      {"data", {{"name", "synthetic"}, {"synthetic", {{"size", {128, 100}}}}, {"val_size", 0}}},
      {"epochs", c.epochs},
      {"batch_size", 32},
      {"lr", 0.05},
      {"threads", 2},
      {"algo", c.algo_keys}};
  j["algo"]["name"] = c.algo;
  // ResNet-20 takes colour images; small ones keep it quick.
  if (c.model == "resnet20") j["data"]["synthetic"]["shape"] = {3, 16, 16};
  for (auto& [k, v] : c.extra.items()) j[k] = v;
  return j;
}

// The float32 values of a .npy file of `count` values (the header is skipped, its shape
// checked by the caller's count).
std::vector<float> read_npy(const fs::path& path, size_t count) {
  const std::string b = slurp(path);
  REQUIRE_MESSAGE(b.size() > 10, path.string() << " is not a .npy file");
  const size_t header = 10 + (uint8_t(b[8]) | uint8_t(b[9]) << 8);
  REQUIRE_MESSAGE(b.size() == header + 4 * count, path.string()
                                                      << ": " << b.size() - header
                                                      << " bytes of data, expected " << 4 * count);
  std::vector<float> v(count);
  std::memcpy(v.data(), b.data() + header, 4 * count);
  return v;
}

// The test images as the ONNX model takes them: pixel / 255, N × C × H × W.
qt::Tensor test_images(const json& cfg) {
  json full = qt::complete_config(cfg);
  qt::validate_config(full);
  const qt::DataSplits d = qt::load_splits(qt::to_train_config(full).data);
  qt::Tensor x({d.test.size(), d.test.channels, d.test.height, d.test.width});
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(d.test.pixels[i]) / 255.0f;
  return x;
}

int argmax(const float* row, int k) {
  int best = 0;
  for (int j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

}  // namespace

TEST_CASE("ONNX Runtime computes the exported network as qtrain eval does") {
  const std::string src = env("QTRAIN_SOURCE_DIR"), bin = qtrain_bin();
  const fs::path dir = scratch("onnx");
  Cleanup cleanup{dir};
  std::vector<std::string> files;
  std::map<std::string, bool> expect_int8;
  int index = 0;
  for (const Case& c : cases()) {
    CAPTURE(c.label);
    const fs::path d = dir / std::to_string(index++);
    fs::create_directories(d);
    const json cfg = config(c);
    write(d / "config.json", cfg.dump());
    auto step = [&](const std::vector<std::string>& args) {
      const Result r = run(args);
      REQUIRE_MESSAGE(r.code == 0, args[0] << " " << args[1] << " failed: " << r.output);
      return r.output;
    };
    step({bin, "train", "--config", (d / "config.json").string(), "--out", (d / "run").string(),
          "--quiet"});
    step({bin, "export", (d / "run").string(), "--format", "onnx", "--out",
          (d / "model.onnx").string()});
    const Streams ev = run_streams({bin, "eval", (d / "run").string(), "--logits",
                                    (d / "qtrain.npy").string(), "--json-stdout"});
    REQUIRE_MESSAGE(ev.code == 0, "qtrain eval failed: " << ev.err);
    const json eval = json::parse(ev.out);

    const qt::Tensor x = test_images(cfg);
    std::ofstream(d / "images.npy", std::ios::binary) << qt::npy_bytes(x);
    step({src + "/tools/onnx-run", (d / "model.onnx").string(), (d / "images.npy").string(),
          (d / "onnx.npy").string()});

    const int64_t n = x.dim(0);
    const int k = 10;
    const std::vector<float> ours = read_npy(d / "qtrain.npy", n * k),
                             theirs = read_npy(d / "onnx.npy", n * k);
    double worst = 0;
    std::vector<std::vector<int64_t>> confusion(k, std::vector<int64_t>(k, 0));
    const std::vector<int32_t> labels = [&] {
      json full = qt::complete_config(cfg);
      return qt::load_splits(qt::to_train_config(full).data).test.labels;
    }();
    int64_t same_class = 0;
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < k; ++j) {
        const double a = ours[i * k + j], b = theirs[i * k + j];
        worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(a)));
      }
      const int p = argmax(&theirs[i * k], k);
      same_class += p == argmax(&ours[i * k], k);
      confusion[labels[i]][p]++;
    }
    MESSAGE(c.label << ": largest relative logit difference " << worst);
    CHECK(worst <= 1e-4);
    CHECK(same_class == n);
    CHECK(json(confusion) == eval["confusion"]);
    files.push_back((d / "model.onnx").string());
    expect_int8[files.back()] = c.quantized;
  }

  // onnx.checker on every file; each file's operators, opset and int8 initializers.
  const std::string script =
      "import json, sys, onnx\n"
      "out = {}\n"
      "for path in sys.argv[1:]:\n"
      "    m = onnx.load(path)\n"
      "    onnx.checker.check_model(m, full_check=True)\n"
      "    out[path] = {'ops': sorted({n.op_type for n in m.graph.node}),\n"
      "                 'domains': sorted({n.domain for n in m.graph.node}),\n"
      "                 'opset': [o.version for o in m.opset_import if o.domain == ''],\n"
      "                 'int8': sum(t.data_type == onnx.TensorProto.INT8 for t in "
      "m.graph.initializer)}\n"
      "print(json.dumps(out))\n";
  write(dir / "check.py", script);
  std::vector<std::string> args = {"/usr/bin/python3", (dir / "check.py").string()};
  args.insert(args.end(), files.begin(), files.end());
  const Streams r = run_streams(args);
  REQUIRE_MESSAGE(r.code == 0,
                  "onnx.checker failed (Debian's python3-onnx, tools/setup --onnx): " << r.err);
  const json checked = json::parse(r.out);
  const std::set<std::string> standard = {"Sub",
                                          "Div",
                                          "Conv",
                                          "Gemm",
                                          "BatchNormalization",
                                          "Relu",
                                          "Clip",
                                          "Ceil",
                                          "Mul",
                                          "Sign",
                                          "Add",
                                          "MaxPool",
                                          "Flatten",
                                          "GlobalAveragePool",
                                          "Slice",
                                          "Pad",
                                          "DequantizeLinear",
                                          "AveragePool",
                                          "Identity"};
  for (const std::string& f : files) {
    CAPTURE(f);
    const json& info = checked.at(f);
    CHECK(info["opset"] == json::array({13}));
    CHECK(info["domains"] == json::array({""}));
    for (const std::string op : info["ops"]) {
      CAPTURE(op);
      CHECK(standard.count(op) == 1);
    }
    if (expect_int8[f]) CHECK(info["int8"].get<int>() > 0);
  }
}
