// Dataset side of the benchmarks: how long loading takes, and whether preparing batches in
// parallel with the training step keeps the data off the step's critical path. Times a training
// step (forward, loss, backward, SGD) three ways: batches already in memory (the floor), made
// inside the loop (serial), and prefetched by BatchStream (the training loop's way).
// Prints key=value lines.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/layers/cross_entropy.h"
#include "engine/models/model.h"

namespace qt {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// forward, softmax cross-entropy, backward, w ← w − 0.01·g over the whole parameter arena.
void train_step(Model& m, const Batch& b, Tensor& dlogits) {
  Context ctx;
  Tensor& logits = m.forward(b.x, ctx);
  softmax_cross_entropy(logits, b.y, &dlogits, nullptr);
  m.backward(dlogits);
  Tensor& w = m.params.values();
  const Tensor& g = m.params.grads();
  parallel_for(w.size(), 1 << 14, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) w[i] -= 0.01f * g[i];
  });
}

int run(int argc, char** argv) {
  std::string dataset = "fashion-mnist", model = "lenet5";
  int64_t batch = 128;
  int steps = 40, threads_n = 0;
  CLI::App app{"qtrain dataset benchmark: load time, and step time with and without prefetching"};
  app.add_option("--dataset", dataset,
                 "fashion-mnist, or any name of `qtrain datasets list`; "
                 "synthetic is made 3×32×32 (CIFAR-shaped, augmented)");
  app.add_option("--model", model, "model trained in the timed steps");
  app.add_option("--batch", batch, "batch size");
  app.add_option("--steps", steps, "timed steps per mode");
  app.add_option("--threads", threads_n, "worker threads (0 = all cores)");
  CLI11_PARSE(app, argc, argv);
  set_threads(threads_n);

  DataRequest req;
  req.name = dataset;
  if (dataset == "synthetic") {
    req.synthetic.channels = 3;
    req.synthetic.height = req.synthetic.width = 32;
    req.synthetic.train_size = 10000;
  }
  const auto t0 = Clock::now();
  const DataSplits data = load_splits(req);
  std::printf("dataset=%s load_ms=%.1f train=%lld val=%lld test=%lld augment=%d threads=%d\n",
              dataset.c_str(), ms_since(t0), static_cast<long long>(data.train.size()),
              static_cast<long long>(data.val.size()), static_cast<long long>(data.test.size()),
              data.aug.any() ? 1 : 0, threads());

  ModelOptions mo = natural_options(model);
  mo.in_channels = data.train.channels;
  mo.height = data.train.height;
  mo.width = data.train.width;
  mo.classes = data.train.classes;
  auto m = make_model(model, mo);
  const std::vector<int64_t> order = epoch_order(data.train.size(), 1, 0, true);
  Tensor dlogits;

  // The batch alone.
  std::vector<double> make_ms;
  Batch b;
  for (int i = 0; i < 10; ++i) {
    const auto t = Clock::now();
    make_batch(data.train, std::span<const int64_t>(order.data() + i * batch, batch), data.norm,
               data.aug, derive(7, i), b);
    make_ms.push_back(ms_since(t));
  }

  // In memory: every batch made before the clock starts. The three modes take turns step by
  // step, so a machine whose load changes during the run slows them alike.
  std::vector<Batch> ready(steps + 1);
  {
    BatchStream s(data.train, order, batch, true, data.norm, data.aug, 7, 0, false);
    for (Batch& r : ready) s.next(r);
  }
  BatchStream serial_stream(data.train, order, batch, true, data.norm, data.aug, 7, 0, false);
  BatchStream prefetch_stream(data.train, order, batch, true, data.norm, data.aug, 7, 0, true);
  Batch cur_serial, cur_prefetch;
  train_step(*m, ready[0], dlogits);  // warm-up
  std::vector<double> memory, serial_ms, prefetch_ms;
  for (int i = 1; i <= steps; ++i) {
    auto t = Clock::now();
    train_step(*m, ready[i], dlogits);
    memory.push_back(ms_since(t));
    t = Clock::now();
    if (!serial_stream.next(cur_serial)) break;
    train_step(*m, cur_serial, dlogits);
    serial_ms.push_back(ms_since(t));
    t = Clock::now();
    if (!prefetch_stream.next(cur_prefetch)) break;
    train_step(*m, cur_prefetch, dlogits);
    prefetch_ms.push_back(ms_since(t));
  }
  const double serial = median(serial_ms), prefetched = median(prefetch_ms);
  std::printf(
      "model=%s batch=%lld make_batch_ms=%.3f step_ms_in_memory=%.3f step_ms_serial=%.3f "
      "step_ms_prefetch=%.3f prefetch_overhead_pct=%.1f\n",
      model.c_str(), static_cast<long long>(batch), median(make_ms), median(memory), serial,
      prefetched, 100.0 * (prefetched - median(memory)) / median(memory));
  return 0;
}

}  // namespace
}  // namespace qt

int main(int argc, char** argv) {
  try {
    return qt::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_datasets: %s\n", e.what());
    return 1;
  }
}
