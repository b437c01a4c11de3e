// The packed engine against qtrain's float evaluation, per layer and per network, in one process
// and one run (tools/bench --infer adds PyTorch's float inference from tools/bench_torch.py).
// Random weights (timing does not depend on them), the package made in memory as `qtrain export`
// makes it. For each network and setting: batch-1 latency (median of --reps single-image passes)
// and the throughput of a batch of --batch images (median of --batch-reps passes); the float side
// is the same runner with no layer packed (every layer's own forward, as `qtrain eval` runs it).
// Usage: bench_infer [--models vgg11,resnet18@32,...] [--threads N] [--batch N] [--reps N]
//                    [--batch-reps N] [--torch FILE (key=value lines of bench_torch.py --infer)]
//                    [--cpu-clock (one thread; whole-network and per-layer times by the
//                    process CPU clock)]
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "app/config/config.h"
#include "app/package/export_package.h"
#include "app/package/packed_runner.h"
#include "app/train/trainer.h"
#include "datasets/registry.h"
#include "engine/core/clock.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "engine/kernels/packed_weights.h"

using namespace qt;
using json = nlohmann::json;

namespace {

struct Setting {
  const char* label;
  const char* algo;
  const char* act;
  int bits;
};
const Setting kSettings[] = {{"W1A1", "bwn", "binary", 0}, {"W1A4", "bcgd", "quant", 4}};

bool g_cpu_clock = false;

// Wall-clock seconds, or with --cpu-clock (one thread) the process's CPU seconds: on a machine
// busy with other work, CPU time counts this process's work and not its waiting.
double now() {
  return clock_seconds(g_cpu_clock);
}

double median_seconds(int reps, const std::function<void()>& fn) {
  fn();  // warm-up
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now();
    fn();
    t.push_back(now() - t0);
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> r;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) r.push_back(part);
  return r;
}

// "key=value key=value" lines of bench_torch.py --infer, by "model@size".
std::map<std::string, std::map<std::string, std::string>> read_torch(const std::string& path) {
  std::map<std::string, std::map<std::string, std::string>> r;
  if (path.empty()) return r;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::map<std::string, std::string> kv;
    for (const std::string& f : split(line, ' ')) {
      const auto eq = f.find('=');
      if (eq != std::string::npos) kv[f.substr(0, eq)] = f.substr(eq + 1);
    }
    if (kv.count("model")) r[kv["model"]] = kv;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string models = "mlp-bn,lenet5-bn,resnet20,vgg11,resnet18@32,resnet18@224", torch_file;
  int threads = 2, reps = 20, batch_reps = 3;
  int64_t batch = 128;
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--cpu-clock") {
      g_cpu_clock = true;
      threads = 1;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_infer: %s needs a value\n", a.c_str());
      return 2;
    }
    const std::string v = argv[i + 1];
    if (a == "--models")
      models = v;
    else if (a == "--threads")
      threads = std::stoi(v);
    else if (a == "--batch")
      batch = std::stoll(v);
    else if (a == "--reps")
      reps = std::stoi(v);
    else if (a == "--batch-reps")
      batch_reps = std::stoi(v);
    else if (a == "--torch")
      torch_file = v;
    else {
      std::fprintf(stderr, "bench_infer: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  set_threads(threads);
  const auto torch = read_torch(torch_file);
  std::printf(
      "packed kernels: %s, %d threads; batch-%lld throughput, batch-1 latency (median of "
      "%d)\n\n",
      packed_path_name(packed_path()), threads, static_cast<long long>(batch), reps);
  std::string summary =
      "| network | setting | float ms (b=1) | packed ms (b=1) | × | torch ms (b=1) | float img/s | "
      "packed img/s | × | torch img/s | weights KiB float → packed |\n|---|---|---|---|---|---|---|"
      "---|---|---|---|\n";
  for (const std::string& spec : split(models, ',')) {
    const auto at = spec.find('@');
    const std::string model = spec.substr(0, at);
    const int64_t size = at == std::string::npos ? 0 : std::stoll(spec.substr(at + 1));
    const int64_t b = size >= 224 ? std::min<int64_t>(batch, 16) : batch;
    for (const Setting& st : kSettings) {
      json c = default_config();
      c["model"] = model;
      c["data"]["name"] = "synthetic";
      c["data"]["synthetic"]["size"] = {32, b};
      if (model.rfind("resnet", 0) == 0 || model.rfind("vgg", 0) == 0)
        c["data"]["synthetic"]["shape"] = {3, size ? size : 32, size ? size : 32};
      c["data"]["val_size"] = 0;
      c["data"]["augment"] = "off";
      c["algo"]["name"] = st.algo;
      c["algo"]["act"] = st.act;
      if (st.bits) c["algo"]["act_bits"] = st.bits;
      const TrainConfig cfg = to_train_config(c);
      const DataSplits data = load_splits(cfg.data);
      Trainer source(cfg, data);
      PackedNetwork net = pack_network(source.model(), source.algorithm());
      Trainer loaded(cfg, data);
      unpack_network(loaded.model(), net.tensors, net.blob, "package");
      PackedRunner packed(loaded.model(), quantized_weights(net.tensors), true, "package");
      PackedRunner floats(loaded.model(), {}, true, "package");
      packed.time_by_cpu_clock(g_cpu_clock);
      floats.time_by_cpu_clock(g_cpu_clock);
      const Shape in = loaded.model().input_shape(1);
      Rng rng(1);
      Tensor x1(in), xb(loaded.model().input_shape(b));
      for (int64_t i = 0; i < x1.size(); ++i) x1[i] = rng.normal();
      for (int64_t i = 0; i < xb.size(); ++i) xb[i] = rng.normal();
      const double f1 = median_seconds(reps, [&] { floats.forward(x1); });
      const double p1 = median_seconds(reps, [&] { packed.forward(x1); });
      // a first batch pass outside the layer times: its first-touch allocations (page faults on
      // this VM) would land on whichever layer touches a big buffer first
      floats.forward(xb);
      packed.forward(xb);
      floats.reset_times();
      packed.reset_times();
      const double fb = median_seconds(batch_reps, [&] { floats.forward(xb); });
      const double pb = median_seconds(batch_reps, [&] { packed.forward(xb); });
      const std::string name = model + (size ? "@" + std::to_string(size) : "");
      std::printf("## %s %s (batch %lld, per-layer seconds summed over %d passes)\n", name.c_str(),
                  st.label, static_cast<long long>(b), batch_reps + 1);
      std::printf(
          "| layer | weights | input | kernel | float ms | packed ms | × |\n"
          "|---|---|---|---|---|---|---|\n");
      for (size_t i = 0; i < packed.layers().size(); ++i) {
        const PackedLayerInfo& l = packed.layers()[i];
        const double fs = floats.layer_seconds()[i], ps = packed.layer_seconds()[i];
        std::printf("| %s | %s | %s%s | %s | %.2f | %.2f | %.1f |\n", l.name.c_str(),
                    l.weights.c_str(), l.input.c_str(),
                    l.input == "bits" ? (" " + std::to_string(l.bits)).c_str() : "",
                    l.kernel.c_str(), 1e3 * fs / (batch_reps + 1), 1e3 * ps / (batch_reps + 1),
                    ps > 0 ? fs / ps : 0.0);
      }
      // the float work between the convolutions, by layer kind
      std::map<std::string, double> kinds = floats.other_seconds();
      for (const auto& [kind, ps] : packed.other_seconds()) kinds.emplace(kind, 0.0);
      for (const auto& [kind, fs] : kinds) {
        const auto it = packed.other_seconds().find(kind);
        const double ps = it == packed.other_seconds().end() ? 0.0 : it->second;
        std::printf("| (%s) | | | float | %.2f | %.2f | %.1f |\n", kind.c_str(),
                    1e3 * fs / (batch_reps + 1), 1e3 * ps / (batch_reps + 1),
                    ps > 0 ? fs / ps : 0.0);
      }
      std::printf("\n");
      std::string t1 = "–", tb = "–";
      const std::string key = model + "@" + std::to_string(size ? size : in[2]);
      if (auto it = torch.find(key); it != torch.end()) {
        t1 = it->second.count("b1_ms") ? it->second.at("b1_ms") : "–";
        tb = it->second.count("img_per_s") ? it->second.at("img_per_s") : "–";
      }
      char row[512];
      std::snprintf(row, sizeof row,
                    "| %s | %s | %.3f | %.3f | %.1f | %s | %.0f | %.0f | %.1f | %s | %.0f → %.0f "
                    "(1/%.1f) |\n",
                    name.c_str(), st.label, 1e3 * f1, 1e3 * p1, f1 / p1, t1.c_str(), b / fb, b / pb,
                    fb / pb, tb.c_str(), packed.float_weight_bytes() / 1024.0,
                    packed.weight_bytes() / 1024.0,
                    static_cast<double>(packed.float_weight_bytes()) / packed.weight_bytes());
      summary += row;
      std::fflush(stdout);
    }
  }
  std::printf("## Whole networks\n%s", summary.c_str());
  return 0;
}
