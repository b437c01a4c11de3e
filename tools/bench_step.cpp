// qtrain side of tools/bench: times the training step (forward, softmax cross-entropy, backward,
// SGD momentum update) of qtrain's models on random data, and measures the machine's sgemm peak.
// Prints key=value lines that tools/bench parses (one per model, per layer, or for the peak).
//
// A step is timed as hooks.before, forward, loss, backward, update, hooks.after: a quantization
// algorithm's per-step work plugs into the hooks, so its overhead is the difference between
// the step times with and without it.
#include <cblas.h>
#include <sys/resource.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "app/exit_code.h"
#include "engine/core/error.h"
#include "engine/core/gemm.h"
#include "engine/core/parallel.h"
#include "engine/layers/cross_entropy.h"
#include "engine/models/model.h"

namespace qt {
namespace {

using Clock = std::chrono::steady_clock;

// A clock in ms: the wall clock, or the CPU time of the process. With one thread (TBB and
// OpenBLAS then run in the caller) the CPU clock counts the work only, not the time spent waiting
// for a core, so measurements stay comparable on a machine busy with other processes.
struct StopClock {
  bool cpu = false;
  double now() const {
    if (!cpu)
      return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

long maxrss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Where an algorithm's per-step work goes (e.g. fill Param::used with Q(w) before, blend or clip
// the float weights after). Empty: plain float training.
struct StepHooks {
  std::function<void(Model&)> before, after;
};

// The update of torch.optim.SGD (one group, decay on every parameter), over the whole arena:
// v ← μ·v + g + λ·w,  w ← w − η·v.
struct Sgd {
  float lr = 0.01f, momentum = 0.9f, decay = 1e-4f;
  Tensor velocity;

  void step(ParamStore& store) {
    Tensor& w = store.values();
    const Tensor& g = store.grads();
    if (velocity.size() != w.size()) velocity = Tensor(w.shape());
    constexpr int64_t kChunk = 1 << 16;
    parallel_for((w.size() + kChunk - 1) / kChunk, 1, [&](int64_t c0, int64_t c1) {
      const int64_t end = std::min(w.size(), c1 * kChunk);
      float* wp = w.data();
      float* vp = velocity.data();
      const float* gp = g.data();
      for (int64_t i = c0 * kChunk; i < end; ++i) {
        vp[i] = momentum * vp[i] + (gp[i] + decay * wp[i]);
        wp[i] -= lr * vp[i];
      }
    });
  }
};

struct RandomBatch {
  Tensor x;
  std::vector<int32_t> y;
};

RandomBatch random_batch(Model& m, int64_t batch, uint64_t seed) {
  Rng rng(seed);
  RandomBatch b{Tensor(m.input_shape(batch)), std::vector<int32_t>(batch)};
  for (float& v : b.x.span()) v = rng.normal();
  for (int32_t& y : b.y) y = static_cast<int32_t>(rng.below(m.options.classes));
  return b;
}

struct StepTimes {
  double step, forward, backward, update;  // medians, ms
};

StepTimes time_steps(Model& m, const RandomBatch& b, StepHooks& hooks, int warmup, int steps,
                     StopClock clock) {
  Sgd sgd;
  Context ctx;
  Tensor dlogits;
  std::vector<double> step, fwd, bwd, upd;
  for (int i = 0; i < warmup + steps; ++i) {
    ctx.noise_key = derive(0, static_cast<uint64_t>(i));
    const double t0 = clock.now();
    if (hooks.before) hooks.before(m);
    const double t1 = clock.now();
    Tensor& logits = m.forward(b.x, ctx);
    softmax_cross_entropy(logits, b.y, &dlogits, nullptr);
    const double t2 = clock.now();
    m.backward(dlogits);
    const double t3 = clock.now();
    sgd.step(m.params);
    if (hooks.after) hooks.after(m);
    const double t4 = clock.now();
    if (i < warmup) continue;
    step.push_back(t4 - t0);
    fwd.push_back(t2 - t1);
    bwd.push_back(t3 - t2);
    upd.push_back(t4 - t3);
  }
  return {median(step), median(fwd), median(bwd), median(upd)};
}

// Floating-point operations of one training step: per conv/linear layer a forward GEMM, a
// weight-gradient GEMM and an input-gradient GEMM (the first layer has none), 2 per MAC.
double step_flops(Model& m, int64_t batch) {
  const double macs = static_cast<double>(m.macs_per_image()) * batch;
  double first = 0;
  for (const LayerTrace& t : m.trace(1)) {
    auto ps = t.layer->params();
    if (!ps.empty() && ps[0]->role == ParamRole::Weight && t.layer->children().empty()) {
      first =
          static_cast<double>(shape_size(t.out)) * (ps[0]->value.size() / ps[0]->shape[0]) * batch;
      break;
    }
  }
  return 2.0 * (3.0 * macs - first);
}

void bench_model(const std::string& name, int64_t batch, int warmup, int steps, StopClock clock) {
  auto m = make_model(name, natural_options(name));
  RandomBatch b = random_batch(*m, batch, 1);
  StepHooks none;
  const StepTimes t = time_steps(*m, b, none, warmup, steps, clock);
  const double flops = step_flops(*m, batch);
  std::printf(
      "model=%s batch=%lld threads=%d step_ms=%.3f img_per_s=%.1f fwd_ms=%.3f bwd_ms=%.3f "
      "update_ms=%.3f step_gflop=%.4f gflops=%.2f maxrss_kb=%ld\n",
      name.c_str(), static_cast<long long>(batch), threads(), t.step, batch * 1000.0 / t.step,
      t.forward, t.backward, t.update, flops * 1e-9, flops * 1e-6 / t.step, maxrss_kb());
  std::fflush(stdout);
}

// Each leaf layer alone, on the shapes it sees in the model: forward, then backward (with dL/dx
// except for the model's first layer, as in training). Same method as bench_torch.py --profile.
void profile_model(const std::string& name, int64_t batch, int steps, StopClock clock) {
  auto m = make_model(name, natural_options(name));
  const int reps = std::max(3, steps / 2);
  Context ctx;
  Rng rng(7);
  bool first = true;
  for (const LayerTrace& t : m->trace(batch)) {
    if (!t.layer->children().empty()) continue;
    Tensor x(t.in), y, dx;
    for (float& v : x.span()) v = rng.normal();
    auto run = [&](auto&& fn) {
      fn();
      std::vector<double> v;
      for (int r = 0; r < reps; ++r) {
        const double t0 = clock.now();
        fn();
        v.push_back(clock.now() - t0);
      }
      return median(v);
    };
    const double fwd = run([&] { t.layer->forward(x, y, ctx); });
    Tensor dy(y.shape());
    for (float& v : dy.span()) v = rng.normal();
    const double bwd = run([&] { t.layer->backward(x, y, dy, first ? nullptr : &dx); });
    first = false;
    std::printf("layer=%s kind=%s fwd_ms=%.4f bwd_ms=%.4f\n", t.layer->name().c_str(),
                t.layer->kind().c_str(), fwd, bwd);
  }
  RandomBatch b = random_batch(*m, batch, 1);
  StepHooks none;
  const StepTimes t = time_steps(*m, b, none, 1, reps, clock);
  std::printf("total fwd_ms=%.4f step_ms=%.4f\n", t.forward, t.step);
  std::fflush(stdout);
}

// The sgemm rate qtrain can hope for: `threads` concurrent single-threaded n³ sgemms (the way
// qtrain runs its GEMMs), and for comparison one sgemm with OpenBLAS's own threads.
void sgemm_peak(int nthreads, int64_t n, double seconds, StopClock clock) {
  std::vector<std::vector<float>> a(nthreads), c(nthreads);
  for (int t = 0; t < nthreads; ++t) {
    a[t].assign(n * n, 0.5f + 0.01f * t);
    c[t].assign(n * n, 0.0f);
  }
  std::vector<double> rates(nthreads);
  std::vector<std::thread> pool;
  for (int t = 0; t < nthreads; ++t)
    pool.emplace_back([&, t] {
      gemm(false, false, n, n, n, 1.0f, a[t].data(), n, a[t].data(), n, 0.0f, c[t].data(), n);
      int reps = 0;
      const double t0 = clock.now();
      while (clock.now() - t0 < seconds * 1000) {
        gemm(false, false, n, n, n, 1.0f, a[t].data(), n, a[t].data(), n, 0.0f, c[t].data(), n);
        ++reps;
      }
      rates[t] = 2.0 * n * n * n * reps / ((clock.now() - t0) * 1e6);
    });
  for (auto& th : pool) th.join();
  double total = 0;
  for (double r : rates) total += r;

  openblas_set_num_threads(nthreads);
  std::vector<float> big(4 * n * n, 0.5f), out(4 * n * n);
  const int64_t n2 = 2 * n;
  gemm(false, false, n2, n2, n2, 1.0f, big.data(), n2, big.data(), n2, 0.0f, out.data(), n2);
  int reps = 0;
  const double t0 = clock.now();
  while (clock.now() - t0 < seconds * 1000) {
    gemm(false, false, n2, n2, n2, 1.0f, big.data(), n2, big.data(), n2, 0.0f, out.data(), n2);
    ++reps;
  }
  const double threaded = 2.0 * n2 * n2 * n2 * reps / ((clock.now() - t0) * 1e6);
  openblas_set_num_threads(1);
  std::printf(
      "peak concurrent_gflops=%.2f n=%lld threads=%d openblas_threaded_gflops=%.2f n2=%lld\n",
      total, static_cast<long long>(n), nthreads, threaded, static_cast<long long>(n2));
  std::fflush(stdout);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> r;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) r.push_back(item);
  return r;
}

int run(int argc, char** argv) {
  CLI::App app{"Times qtrain's training step on random data (the qtrain side of tools/bench)."};
  std::string models = "mlp,lenet5,resnet20,vgg11";
  int64_t batch = 128;
  int nthreads = 2, warmup = 5, steps = 30;
  bool profile = false, peak = false, cpu_clock = false;
  double peak_seconds = 2.0;
  app.add_option("--models", models, "comma-separated model names");
  app.add_option("--batch", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--threads", nthreads, "worker threads")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "timed steps (the median is reported)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--profile", profile, "per-layer forward/backward times instead of whole steps");
  app.add_flag("--cpu-clock", cpu_clock,
               "time by the process's CPU clock instead of the wall clock (needs --threads 1)");
  app.add_flag("--peak", peak, "measure the sgemm peak instead of models");
  app.add_option("--peak-seconds", peak_seconds, "duration of each peak measurement");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (cpu_clock && nthreads != 1) throw UsageError("--cpu-clock needs --threads 1");
  set_threads(nthreads);
  if (peak) {
    sgemm_peak(nthreads, 1024, peak_seconds, StopClock{cpu_clock});
    return kExitOk;
  }
  for (const std::string& name : split(models)) {
    if (profile)
      profile_model(name, batch, steps, StopClock{cpu_clock});
    else
      bench_model(name, batch, warmup, steps, StopClock{cpu_clock});
  }
  return kExitOk;
}

}  // namespace
}  // namespace qt

int main(int argc, char** argv) {
  try {
    return qt::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_step: " << e.what() << "\n";
    return qt::exit_code_for(e);
  }
}
