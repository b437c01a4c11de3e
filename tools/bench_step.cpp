// qtrain side of tools/bench: times the training step (forward, softmax cross-entropy, backward,
// SGD momentum update) of qtrain's models on random data, and measures the machine's sgemm peak.
// Prints key=value lines that tools/bench parses (one per model, per layer, or for the peak).
//
// A step is timed as the trainer runs it (app/train/trainer.cpp): the algorithm's
// before_forward, forward, loss, backward, its adjust_gradients, the SGD update, its after_step.
// With --algo other than float, a float model of the same network is built beside it and the two
// take turns step by step, so that both medians see the same machine load and their ratio is the
// algorithm's overhead (quantized activations included).
#include <cblas.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "app/cli/config_flags.h"
#include "app/cli/exit_code.h"
#include "app/config/config.h"
#include "engine/core/blas_kernel.h"
#include "engine/core/clock.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/kernels/gemm.h"
#include "engine/layers/cross_entropy.h"
#include "engine/models/model.h"
#include "engine/quant/make_algorithm.h"

namespace qt {
namespace {

// A clock in ms: the wall clock, or the CPU time of the process (engine/core/clock.h).
struct StopClock {
  bool cpu = false;
  double now() const { return 1e3 * clock_seconds(cpu); }
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

// The update of torch.optim.SGD (one group, decay on every parameter), over the whole arena:
// v ← μ·v + g + λ·w,  w ← w − η·v. An algorithm's extra parameters (ProxyBNN's proxy matrices,
// a few d×d each) get the same update with their own rate factor and decay flag.
struct Sgd {
  float lr = 0.01f, momentum = 0.9f, decay = 1e-4f;
  Tensor velocity;
  std::vector<Tensor> extra_velocity;

  void update(float* wp, const float* gp, float* vp, int64_t n, float rate, float wd) const {
    constexpr int64_t kChunk = 1 << 16;
    parallel_for((n + kChunk - 1) / kChunk, 1, [&](int64_t c0, int64_t c1) {
      const int64_t end = std::min(n, c1 * kChunk);
      for (int64_t i = c0 * kChunk; i < end; ++i) {
        vp[i] = momentum * vp[i] + (gp[i] + wd * wp[i]);
        wp[i] -= rate * vp[i];
      }
    });
  }

  void step(ParamStore& store, const std::vector<Param*>& extra) {
    Tensor& w = store.values();
    if (velocity.size() != w.size()) velocity = Tensor(w.shape());
    update(w.data(), store.grads().data(), velocity.data(), w.size(), lr, decay);
    extra_velocity.resize(extra.size());
    for (size_t k = 0; k < extra.size(); ++k) {
      Param& p = *extra[k];
      if (extra_velocity[k].size() != p.value.size()) extra_velocity[k] = Tensor(p.value.shape());
      update(p.value.data(), p.grad.data(), extra_velocity[k].data(), p.value.size(),
             lr * p.lr_scale, p.decay ? decay : 0.0f);
    }
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
  double step, forward, backward, update, algo;  // medians, ms (algo: the algorithm's hooks)
};

// One network in training: the model, the algorithm that drives it (float: no per-step work),
// its optimizer and scratch, and the times of its timed steps.
struct Trainee {
  std::unique_ptr<Algorithm> algo;
  std::unique_ptr<Model> model;
  Sgd sgd;
  Context ctx;
  Tensor dlogits;
  std::vector<double> step, fwd, bwd, upd, hooks;
  int steps_taken = 0;

  Trainee(const std::string& name, const AlgoOptions& opt, int epoch, int epochs)
      : algo(make_algorithm(opt)) {
    ModelOptions mo = natural_options(name);
    algo->configure(mo);  // e.g. BCGD's quantized activations
    model = make_model(name, mo);
    algo->attach(*model);
    algo->start_epoch(epoch, epochs);  // once per epoch in training: not timed
  }

  // The trainer's step (app/train/trainer.cpp), timed piece by piece; `record` false for the
  // warm-up.
  void train_step(const RandomBatch& b, StopClock clock, bool record) {
    ctx.noise_key = derive(0, static_cast<uint64_t>(steps_taken++));
    const double t0 = clock.now();
    algo->before_forward();
    const double t1 = clock.now();
    Tensor& logits = model->forward(b.x, ctx);
    softmax_cross_entropy(logits, b.y, &dlogits, nullptr);
    const double t2 = clock.now();
    model->backward(dlogits);
    const double t3 = clock.now();
    algo->adjust_gradients();
    const double t4 = clock.now();
    sgd.step(model->params, algo->extra_params());
    const double t5 = clock.now();
    algo->after_step();
    const double t6 = clock.now();
    if (!record) return;
    step.push_back(t6 - t0);
    fwd.push_back(t2 - t1);
    bwd.push_back(t3 - t2);
    upd.push_back(t5 - t4);
    hooks.push_back((t1 - t0) + (t4 - t3) + (t6 - t5));
  }

  StepTimes times() const {
    return {median(step), median(fwd), median(bwd), median(upd), median(hooks)};
  }
};

StepTimes time_steps(Trainee& t, const RandomBatch& b, int warmup, int steps, StopClock clock) {
  for (int i = 0; i < warmup + steps; ++i) t.train_step(b, clock, i >= warmup);
  return t.times();
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

// What --algo and its options select, and the epoch whose steps are timed.
struct AlgoRun {
  nlohmann::json config;  // the resolved config (default_config() with the algo.* flags)
  int epoch = 0;
  bool paired = false;       // a float partner even for --algo float: the ratio's noise level
  bool float_first = false;  // the float partner takes the first step (see bench_model)
};

// A run long enough for every schedule check (iterative: (layers − 1)·E + 1 epochs).
constexpr int kRunEpochs = 1000000;

// The algorithm's options for `model`, checked as `qtrain train` checks them.
AlgoOptions algo_options(const AlgoRun& run, const std::string& model, int64_t batch) {
  nlohmann::json cfg = run.config;
  cfg["model"] = model;
  cfg["epochs"] = kRunEpochs;
  validate_config(cfg);
  AlgoOptions opt = to_train_config(cfg).algo;
  opt.seed = 1;
  // The per-step schedules (BinaryRelax's linear θ, BCGD's η) need an epoch's length: CIFAR-10's
  // 50 000 training images.
  opt.steps_per_epoch = (50000 + batch - 1) / batch;
  return opt;
}

// Untimed steps first: at least `steps` of them, and for at least `seconds` of wall time. A short
// warm-up measured the wrong thing on small models: in about half of the 35-step MLP runs both TBB
// threads shared one core for the whole run (1-thread speed), never after a second of steps.
struct Warmup {
  int steps = 5;
  double seconds = 1.0;
  bool done(int i, std::chrono::steady_clock::time_point start) const {
    return i >= steps &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
               seconds;
  }
};

void bench_model(const std::string& name, int64_t batch, Warmup warmup, int steps, StopClock clock,
                 const AlgoRun& run) {
  const AlgoOptions opt = algo_options(run, name, batch);
  Trainee t(name, opt, run.epoch, kRunEpochs);
  // The float baseline, in turns with the algorithm (see the top of the file).
  std::unique_ptr<Trainee> base;
  if (opt.name != "float" || run.paired)
    base = std::make_unique<Trainee>(name, AlgoOptions{}, 0, kRunEpochs);
  RandomBatch b = random_batch(*t.model, batch, 1);
  const auto start = std::chrono::steady_clock::now();
  int timed = -1;  // the first timed step, once the warm-up is done
  for (int i = 0; timed < 0 || i < timed + steps; ++i) {
    if (timed < 0 && warmup.done(i, start)) timed = i;
    const bool time_it = timed >= 0;
    // Alternate which goes first, so that neither always follows the other. Which one takes the
    // very first step matters by itself: it allocates its activation buffers first, and in
    // float-against-float runs that one was 1.5-3 % slower (memory placement), whatever the
    // warm-up. tools/bench runs both orders and takes the geometric mean of the two ratios.
    const bool base_first = (i % 2 == 0) == run.float_first;
    if (base && base_first) base->train_step(b, clock, time_it);
    t.train_step(b, clock, time_it);
    if (base && !base_first) base->train_step(b, clock, time_it);
  }
  const StepTimes r = t.times();
  const double flops = step_flops(*t.model, batch);
  std::printf(
      "model=%s algo=%s batch=%lld threads=%d step_ms=%.3f img_per_s=%.1f fwd_ms=%.3f "
      "bwd_ms=%.3f update_ms=%.3f algo_ms=%.3f step_gflop=%.4f gflops=%.2f maxrss_kb=%ld",
      name.c_str(), opt.name.c_str(), static_cast<long long>(batch), threads(), r.step,
      batch * 1000.0 / r.step, r.forward, r.backward, r.update, r.algo, flops * 1e-9,
      flops * 1e-6 / r.step, maxrss_kb());
  if (base) {
    const StepTimes f = base->times();
    std::printf(" float_step_ms=%.3f float_fwd_ms=%.3f float_bwd_ms=%.3f ratio=%.4f", f.step,
                f.forward, f.backward, r.step / f.step);
  }
  std::printf("\n");
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
  Trainee whole(name, AlgoOptions{}, 0, kRunEpochs);
  RandomBatch b = random_batch(*whole.model, batch, 1);
  const StepTimes t = time_steps(whole, b, 1, reps, clock);
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
  int nthreads = 2, steps = 30;
  Warmup warmup;
  bool profile = false, peak = false, cpu_clock = false;
  double peak_seconds = 2.0;
  app.add_option("--models", models, "comma-separated model names");
  app.add_option("--batch", batch, "images per step")->check(CLI::PositiveNumber);
  app.add_option("--threads", nthreads, "worker threads")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup.steps, "untimed steps first (at least)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--warmup-seconds", warmup.seconds,
                 "untimed steps for at least this long (wall clock)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "timed steps (the median is reported)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--profile", profile, "per-layer forward/backward times instead of whole steps");
  app.add_flag("--cpu-clock", cpu_clock,
               "time by the process's CPU clock instead of the wall clock (needs --threads 1)");
  bool blas = false;
  app.add_flag("--blas", blas,
               "print the BLAS library and kernel (the line of tools/bench's header)");
  app.add_flag("--peak", peak, "measure the sgemm peak instead of models");
  app.add_option("--peak-seconds", peak_seconds, "duration of each peak measurement");
  AlgoRun algo_run;
  app.add_option("--epoch", algo_run.epoch,
                 "the (0-based) epoch whose steps are timed: e.g. BinaryRelax's phase, how many "
                 "layers iterative has binarized")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--paired", algo_run.paired,
               "time a float partner in turns even for --algo float (the ratio is then 1 up to "
               "noise)");
  app.add_flag("--float-first", algo_run.float_first,
               "with a float partner: it takes the first step, so its buffers are allocated "
               "first (the algorithm's model does otherwise)");
  // Every algo.* option of `qtrain train` (--algo, --projection, --bits, --act-bits ...), with
  // its flag, help and checks; --config and --set too.
  ConfigFlags flags;
  std::set<std::string> not_algo;
  for (const ConfigOption& o : config_options())
    if (!o.key.starts_with("algo.")) not_algo.insert(o.key);
  add_config_flags(app, flags, not_algo);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  algo_run.config = resolve_config(flags);
  if (profile && algo_run.config["algo"]["name"] != "float")
    throw UsageError("--profile times the float layers alone: drop --algo");
  if (cpu_clock && nthreads != 1) throw UsageError("--cpu-clock needs --threads 1");
  if (blas) {
    std::printf("%s\n", blas_info().line().c_str());
    return kExitOk;
  }
  set_threads(nthreads);
  if (peak) {
    sgemm_peak(nthreads, 1024, peak_seconds, StopClock{cpu_clock});
    return kExitOk;
  }
  for (const std::string& name : split(models)) {
    if (profile)
      profile_model(name, batch, steps, StopClock{cpu_clock});
    else
      bench_model(name, batch, warmup, steps, StopClock{cpu_clock}, algo_run);
  }
  return kExitOk;
}

}  // namespace
}  // namespace qt

int main(int argc, char** argv) {
  qt::ensure_blas_kernel(argv, "bench_step");
  try {
    return qt::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "bench_step: " << e.what() << "\n";
    return qt::exit_code_for(e);
  }
}
