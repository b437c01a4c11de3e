#include "app/cli/cmd_eval.h"

#include <cstdio>
#include <memory>

#include "app/package/evaluate_checkpoint.h"
#include "app/package/export_package.h"
#include "app/package/infer_package.h"
#include "app/package/onnx_export.h"
#include "engine/core/error.h"
#include "engine/core/files.h"

namespace qt {

namespace {

// `qtrain infer` and `qtrain eval --engine packed`: run the package packed, write and print. The
// result also goes into the package as inference.json, where `qtrain report` of the run the
// package sits in finds it (a read-only package only loses that).
void run_inference(const InferRequest& req, const std::string& json_out, bool json_stdout) {
  nlohmann::json r = infer_package(req);
  if (!json_out.empty()) write_file_atomic(json_out, r.dump(2) + "\n");
  try {
    write_file_atomic(req.package + "/inference.json", r.dump(2) + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qtrain: the result is not kept in the package: %s\n", e.what());
  }
  std::printf("%s", json_stdout ? (r.dump(2) + "\n").c_str() : format_inference(r).c_str());
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Args {
    EvalRequest req;
    std::string json_out, engine = "float";
    bool json_stdout = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a checkpoint: loss, accuracy, per-class accuracy, confusion matrix; check that "
      "every "
      "quantized layer lies in its set; report the model size at its quantized widths.");
  cmd->add_option("checkpoint", a->req.checkpoint,
                  "a checkpoint file, a run directory (its last checkpoint) or a package from "
                  "`qtrain export`")
      ->required();
  cmd->add_option("--split", a->req.split, "which split: train, val or test [default: test]");
  cmd->add_option("--data-dir", a->req.data_dir,
                  "folder with the dataset (default: the run's data.dir)");
  cmd->add_option("--threads", a->req.threads, "worker threads (0 = all cores) [default: 0]");
  cmd->add_option("--json", a->json_out, "also write the result as JSON to this file");
  cmd->add_flag("--json-stdout", a->json_stdout, "print the JSON instead of the table");
  cmd->add_option("--engine", a->engine,
                  "float (qtrain's layers) or packed (a package on the bit-packed kernels, as "
                  "`qtrain infer`) [default: float]")
      ->check(CLI::IsMember({"float", "packed"}));
  cmd->add_option("--logits", a->req.logits,
                  "also write every image's logits (N×classes, float32, in the split's order) "
                  "to this NumPy .npy file");
  cmd->callback([a]() {
    if (a->engine == "packed") {
      if (!is_package(a->req.checkpoint))
        throw UsageError("--engine packed runs a package from `qtrain export`: " +
                         a->req.checkpoint + " has no manifest.json");
      InferRequest ir;
      ir.package = a->req.checkpoint;
      ir.split = a->req.split;
      ir.data_dir = a->req.data_dir;
      ir.threads = a->req.threads;
      run_inference(ir, a->json_out, a->json_stdout);
      return;
    }
    if (is_package(a->req.checkpoint)) {
      nlohmann::json r = evaluate_package(a->req.checkpoint, a->req.split, a->req.data_dir,
                                          a->req.threads, a->req.logits);
      if (!a->json_out.empty()) write_file_atomic(a->json_out, r.dump(2) + "\n");
      std::printf(a->json_stdout ? "%s\n" : "%s",
                  a->json_stdout
                      ? r.dump(2).c_str()
                      : ("package " + a->req.checkpoint + " on " + a->req.split + ": loss " +
                         std::to_string(r["loss"].get<double>()) + ", accuracy " +
                         std::to_string(100 * r["accuracy"].get<double>()) + "%\n")
                            .c_str());
      return;
    }
    nlohmann::json r = evaluate_checkpoint(a->req);
    if (!a->json_out.empty()) write_file_atomic(a->json_out, r.dump(2) + "\n");
    if (a->json_stdout)
      std::printf("%s\n", r.dump(2).c_str());
    else
      std::printf("%s", format_evaluation(r).c_str());
  });
}

}  // namespace qt

namespace qt {

void add_infer_command(CLI::App& app) {
  struct Args {
    InferRequest req;
    std::string json_out;
    bool json_stdout = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "infer",
      "Run a package from `qtrain export` on the bit-packed kernels: XNOR and popcount for binary "
      "weights and activations, bit-serial popcount for b-bit activations, float kernels over the "
      "expanded signs (convs) or sign-selected additions (linear) for float inputs; float layers "
      "stay float. Prints accuracy, the kernel of each layer, the weights' memory, batch-1 latency "
      "and throughput, and keeps them in PACKAGE/inference.json (`qtrain report RUN` shows them "
      "for a package inside the run directory).");
  cmd->add_option("package", a->req.package, "a package folder from `qtrain export`")->required();
  cmd->add_option("--split", a->req.split, "which split: train, val or test [default: test]");
  cmd->add_option("--data-dir", a->req.data_dir,
                  "folder with the dataset (default: the run's data.dir)");
  cmd->add_option("--threads", a->req.threads, "worker threads (0 = all cores) [default: 0]");
  cmd->add_option("--batch-size", a->req.batch_size,
                  "images per forward pass (0 = the run's eval batch size) [default: 0]");
  cmd->add_option("--latency-images", a->req.latency_images,
                  "batch-1 passes timed for the latency (0 = none) [default: 20]");
  cmd->add_option("--json", a->json_out, "also write the result as JSON to this file");
  cmd->add_flag("--json-stdout", a->json_stdout, "print the JSON instead of the table");
  cmd->callback([a]() {
    if (!is_package(a->req.package))
      throw UsageError(a->req.package +
                       ": not a package (no manifest.json): make one with "
                       "`qtrain export RUN --out DIR`");
    run_inference(a->req, a->json_out, a->json_stdout);
  });
}

void add_export_command(CLI::App& app) {
  struct Args {
    std::string checkpoint, out, format = "package";
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Write the evaluated network: a package (its quantized layers packed, 1 bit per binary "
      "weight, 2 per ternary, b per b-bit, with their exact values, and a JSON manifest; `qtrain "
      "eval` reads it) or a standard ONNX model (--format onnx) for ONNX Runtime and other tools.");
  cmd->add_option("checkpoint", a->checkpoint, "a checkpoint file or a run directory")->required();
  cmd->add_option("--out", a->out, "the package folder to write, or the .onnx file")->required();
  cmd->add_option("--format", a->format,
                  "package, or onnx: an ONNX model (opset 13) whose input is the image as floats "
                  "in [0, 1], N×C×H×W, and whose output is the logits [default: package]")
      ->check(CLI::IsMember({"package", "onnx"}));
  cmd->callback([a]() {
    if (a->format == "onnx") {
      nlohmann::json s = export_onnx(a->checkpoint, a->out);
      std::printf(
          "wrote %s (%llu bytes, ONNX opset %d, %d nodes; conv and linear weights: %d as int8 "
          "codes with a DequantizeLinear, %d as float32)\n",
          a->out.c_str(), static_cast<unsigned long long>(s["bytes"].get<uint64_t>()),
          s["opset"].get<int>(), s["nodes"].get<int>(), s["int8_weights"].get<int>(),
          s["float_weights"].get<int>());
      return;
    }
    nlohmann::json m = export_package(a->checkpoint, a->out);
    std::printf(
        "wrote %s/manifest.json and weights.bin (%llu bytes; quantized weights packed in %llu "
        "bits)\n",
        a->out.c_str(), static_cast<unsigned long long>(m["weights_bytes"].get<uint64_t>()),
        static_cast<unsigned long long>(m["packed_weight_bits"].get<uint64_t>()));
  });
}

}  // namespace qt
