#include "app/package/infer_package.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "app/package/export_package.h"
#include "app/package/packed_runner.h"
#include "app/run/restored_run.h"
#include "datasets/batch_stream.h"
#include "engine/core/bounded_json.h"
#include "engine/core/error.h"
#include "engine/core/files.h"
#include "engine/core/parallel.h"
#include "engine/kernels/packed_weights.h"

namespace qt {

using json = nlohmann::json;

namespace {

// The manifest's "layers" (when the package has them) against the plan: the same layers, each
// with the same input set and weights.
void check_plan(const json& manifest, const std::vector<PackedLayerInfo>& plan,
                const std::string& where) {
  if (!manifest.contains("layers")) return;  // a package from before the packed engine
  const json& layers = manifest["layers"];
  if (!layers.is_array() || layers.size() != plan.size())
    throw DataError(where + ": \"layers\" lists " +
                    std::to_string(layers.is_array() ? layers.size() : 0) +
                    " conv and linear layers, the network has " + std::to_string(plan.size()));
  for (size_t i = 0; i < plan.size(); ++i) {
    const json& l = layers[i];
    for (const char* key : {"name", "input", "weights"}) {
      const std::string want = to_json(plan[i])[key];
      if (!l.is_object() || l.value(key, json()) != want)
        throw DataError(where + ": layer " + std::to_string(i) + " (" + plan[i].name + ") has " +
                        key + " " + (l.is_object() ? l.value(key, json()).dump() : "?") +
                        " in \"layers\", the network gives \"" + want + "\"");
    }
  }
}

// The process's peak resident memory (getrusage; Linux counts it in KiB).
int64_t max_resident_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

json infer_package(const InferRequest& req) {
  check_split_name(req.split);
  set_threads(req.threads);
  const std::string mpath = req.package + "/manifest.json";
  auto run = load_package(req.package, req.data_dir);
  const json manifest = parse_bounded_json(read_file(mpath));
  PackedRunner runner(run->trainer.model(), quantized_weights(manifest.value("tensors", json())),
                      true, mpath);
  check_plan(manifest, runner.layers(), mpath);
  const Dataset& data = run->split(req.split);
  const int64_t batch = req.batch_size > 0 ? req.batch_size : run->cfg.eval_batch_size;

  const auto t0 = std::chrono::steady_clock::now();
  EvalResult r = evaluate([&](const Tensor& x) -> const Tensor& { return runner.forward(x); }, data,
                          run->data.norm, batch);
  const double eval_seconds = seconds_since(t0);
  const std::vector<double> eval_layer_seconds = runner.layer_seconds();

  // Batch 1: the median of single-image forward passes, after one to warm up.
  double latency = 0.0;
  const int64_t n1 = std::min<int64_t>(req.latency_images, data.size());
  if (n1 > 0) {
    std::vector<int64_t> order(static_cast<size_t>(n1));
    for (int64_t i = 0; i < n1; ++i) order[static_cast<size_t>(i)] = i;
    BatchStream stream(data, order, 1, false, run->data.norm, Augmentation{}, 0);
    Batch b;
    std::vector<double> times;
    bool warm = false;
    while (stream.next(b)) {
      if (!warm) {
        runner.forward(b.x);
        warm = true;
      }
      const auto t = std::chrono::steady_clock::now();
      runner.forward(b.x);
      times.push_back(seconds_since(t));
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    latency = times[times.size() / 2];
  }

  json layers = json::array();
  for (size_t i = 0; i < runner.layers().size(); ++i) {
    json l = to_json(runner.layers()[i]);
    l["eval_seconds"] = eval_layer_seconds[i];
    layers.push_back(l);
  }
  return {{"package", req.package},
          {"engine", "packed"},
          {"kernel_path", packed_path_name(packed_path())},
          {"threads", threads()},
          {"model", run->cfg.model},
          {"algorithm", run->cfg.algo.name},
          {"split", req.split},
          {"samples", r.samples},
          {"loss", r.loss},
          {"accuracy", r.accuracy},
          {"per_class_accuracy", r.per_class_accuracy()},
          {"batch_size", batch},
          {"images_per_second", eval_seconds > 0 ? r.samples / eval_seconds : 0.0},
          {"latency_batch1_seconds", latency},
          {"weight_bytes", runner.weight_bytes()},
          {"float_weight_bytes", runner.float_weight_bytes()},
          {"max_resident_bytes", max_resident_bytes()},
          {"layers", layers}};
}

std::string format_inference(const json& r) {
  std::string s;
  char buf[320];
  std::snprintf(
      buf, sizeof buf,
      "%s (%s, %s), packed engine (%s, %d threads) on %s: loss %.4f, accuracy %.2f%% "
      "(%lld images)\n",
      r["package"].get<std::string>().c_str(), r["model"].get<std::string>().c_str(),
      r["algorithm"].get<std::string>().c_str(), r["kernel_path"].get<std::string>().c_str(),
      r["threads"].get<int>(), r["split"].get<std::string>().c_str(), r["loss"].get<double>(),
      100 * r["accuracy"].get<double>(), static_cast<long long>(r["samples"].get<int64_t>()));
  s += buf;
  std::snprintf(
      buf, sizeof buf,
      "speed: %.3f ms per image at batch 1, %.0f images/s at batch %lld\n"
      "weights as loaded: %.1f KiB (%.1f KiB in float, 1/%.1f); process peak resident "
      "memory %.1f MiB (the model's float tensors stay loaded beside the packed ones)\n\n",
      1e3 * r["latency_batch1_seconds"].get<double>(), r["images_per_second"].get<double>(),
      static_cast<long long>(r["batch_size"].get<int64_t>()),
      r["weight_bytes"].get<double>() / 1024, r["float_weight_bytes"].get<double>() / 1024,
      r["float_weight_bytes"].get<double>() / std::max(1.0, r["weight_bytes"].get<double>()),
      r.value("max_resident_bytes", 0.0) / (1024 * 1024));
  s += buf;
  s += "layer                        weights  input          kernel      KiB   eval s  fused into "
       "its output\n";
  for (const json& l : r["layers"]) {
    std::string input = l["input"].get<std::string>();
    if (l.contains("input_bits")) input += " " + std::to_string(l["input_bits"].get<int>());
    std::snprintf(buf, sizeof buf, "  %-26s %-8s %-14s %-10s %7.1f %8.3f  %s\n",
                  l["name"].get<std::string>().c_str(), l["weights"].get<std::string>().c_str(),
                  input.c_str(), l["kernel"].get<std::string>().c_str(),
                  l["weight_bytes"].get<double>() / 1024, l["eval_seconds"].get<double>(),
                  l.value("fused_output", std::string()).c_str());
    s += buf;
  }
  return s;
}

}  // namespace qt
