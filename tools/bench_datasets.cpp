// Dataset side of the benchmarks: how long loading takes, and whether preparing batches in
// parallel with the training step keeps the data off the step's critical path. Times a training
// step (forward, loss, backward, SGD) three ways: batches already in memory (the floor), made
// inside the loop (serial), and prefetched by BatchStream (the training loop's way).
// Prints key=value lines.
// --jpeg [DIR]: ImageNet JPEG folders instead. Decode + RandomResizedCrop + flip + normalise
// images per CPU second on one core, for qtrain's reader and for Pillow (tools/bench_pillow.py, the
// torchvision way) over the same files in the same run; then the share of a ResNet-18 step at
// 224 spent waiting for its batch with BatchStream's prefetch. Without DIR it writes a folder of
// 500×375 quality-90 JPEGs (textured, ImageNet's typical size) to a temporary directory.
#include <tbb/task_arena.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>

#include "datasets/dataset_writers.h"
#include "datasets/image_batch.h"
#include "datasets/image_folder.h"
#include "datasets/jpeg_encode.h"
#include "datasets/registry.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"
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

namespace fs = std::filesystem;

// A photo-like image: smooth shapes (a few waves of random direction) and fine texture, so it
// compresses like a photo (not like a flat colour, nor like noise).
Image photo_like(int width, int height, uint64_t seed) {
  Rng rng(seed);
  Image im;
  im.width = width;
  im.height = height;
  im.channels = 3;
  im.pixels.resize(static_cast<size_t>(width) * height * 3);
  float fx[3][3], fy[3][3], ph[3][3];
  for (int c = 0; c < 3; ++c)
    for (int k = 0; k < 3; ++k) {
      fx[c][k] = rng.uniform(-0.08f, 0.08f);
      fy[c][k] = rng.uniform(-0.08f, 0.08f);
      ph[c][k] = rng.uniform(0.0f, 6.28f);
    }
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) {
        float v = 128;
        for (int k = 0; k < 3; ++k) v += 35.0f * std::sin(fx[c][k] * x + fy[c][k] * y + ph[c][k]);
        v += rng.uniform(-14.0f, 14.0f);
        im.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
      }
  return im;
}

// ROOT/train/c<k>/ and ROOT/val/c<k>/, `per_class` images each.
void write_photo_folder(const fs::path& root, int classes, int per_class) {
  for (const char* split : {"train", "val"})
    for (int c = 0; c < classes; ++c) {
      const fs::path dir = root / split / ("c" + std::to_string(c));
      fs::create_directories(dir);
      for (int i = 0; i < per_class; ++i) {
        const uint64_t seed = derive(derive(c, split), static_cast<uint64_t>(i));
        // ImageNet's usual sizes: 500 × 375 landscape, sometimes 375 × 500 portrait.
        const bool portrait = i % 4 == 3;
        write_bytes((dir / ("img" + std::to_string(i) + ".JPEG")).string(),
                    encode_jpeg(photo_like(portrait ? 375 : 500, portrait ? 500 : 375, seed), 90));
      }
    }
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Images per CPU second through load_sample on the calling thread (the transform of training).
double reader_rate(const Dataset& d, int64_t n, int size) {
  DecodeScratch s;
  SampleTransform t;
  t.random_resized_crop = t.hflip = true;
  t.out_w = t.out_h = size;
  const float scale[3] = {1 / (255 * 0.229f), 1 / (255 * 0.224f), 1 / (255 * 0.225f)};
  const float shift[3] = {-0.485f / 0.229f, -0.456f / 0.224f, -0.406f / 0.225f};
  std::vector<float> dst(3 * static_cast<size_t>(size) * size);
  std::string warning;
  load_sample(s, d.files[0], t, 0, scale, shift, dst.data(), warning);  // warm-up
  // The calling thread's CPU time: on a shared machine the wall clock counts other jobs' turns.
  const double t0 = thread_cpu_seconds();
  for (int64_t i = 0; i < n; ++i)
    load_sample(s, d.files[i % d.size()], t, derive(1, static_cast<uint64_t>(i)), scale, shift,
                dst.data(), warning);
  return n / (thread_cpu_seconds() - t0);
}

// Pillow's rate over the first n files, from tools/bench_pillow.py next to this source.
double pillow_rate(const Dataset& d, int64_t n, int size, std::string& note) {
  const fs::path script = fs::path(QTRAIN_SOURCE_DIR) / "tools" / "bench_pillow.py";
  // Debian's python3-pil belongs to /usr/bin/python3, which another python3 first on the PATH
  // (pyenv, a venv) may not see.
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  std::string cmd =
      "OPENBLAS_NUM_THREADS=1 " + python + " " + script.string() + " " + std::to_string(size);
  for (int64_t i = 0; i < n; ++i) cmd += " '" + d.files[i % d.size()] + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char line[256] = {0};
  std::string out;
  while (std::fgets(line, sizeof line, p)) out += line;
  if (pclose(p) != 0) {
    note = " (failed: tools/setup --imagenet installs python3-pil)";
    return 0;
  }
  double rate = 0;
  int normalized = 0;
  std::sscanf(out.c_str(), "pillow_images_per_second=%lf normalize=%d", &rate, &normalized);
  note = normalized ? "" : " (Pillow without numpy: no float conversion)";
  return rate;
}

int run_jpeg(std::string dir, int threads_n, int64_t batch, int steps, int64_t images) {
  std::optional<fs::path> made;
  if (dir.empty()) {
    made = fs::temp_directory_path() / ("qtrain-bench-jpeg-" + std::to_string(getpid()));
    write_photo_folder(*made, 10, 16);
    dir = made->string();
  }
  struct Remove {
    std::optional<fs::path>& p;
    ~Remove() {
      std::error_code ec;
      if (p) fs::remove_all(*p, ec);
    }
  } remove{made};
  DataRequest req;
  req.name = "imagenet-folder";
  req.data_dir = dir;
  const DataSplits data = load_splits(req);
  int64_t bytes = 0;
  for (const std::string& f : data.train.files) bytes += static_cast<int64_t>(fs::file_size(f));
  std::printf("jpeg_dir=%s train=%lld mean_file_kb=%.1f\n", dir.c_str(),
              static_cast<long long>(data.train.size()),
              bytes / 1024.0 / static_cast<double>(data.train.size()));

  // Per core: one thread each, in CPU time, alternating so that a change of load hits both.
  std::vector<double> ours, pillow;
  std::string note;
  for (int round = 0; round < 2; ++round) {
    ours.push_back(
        tbb::task_arena(1).execute([&] { return reader_rate(data.train, images, 224); }));
    pillow.push_back(pillow_rate(data.train, images, 224, note));
  }
  const double q = *std::max_element(ours.begin(), ours.end());
  const double p = *std::max_element(pillow.begin(), pillow.end());
  std::printf(
      "| reader (1 thread: decode + RandomResizedCrop 224 + flip + normalise) | images "
      "per CPU second |\n");
  std::printf("| --- | --- |\n| qtrain (libjpeg-turbo, DCT scaling) | %.1f |\n", q);
  std::printf("| Pillow (torchvision's way)%s | %.1f |\n", note.c_str(), p);
  std::printf("qtrain_per_core=%.1f pillow_per_core=%.1f ratio=%.2f\n", q, p, p > 0 ? q / p : 0);

  // The share of a ResNet-18 step spent waiting in BatchStream::next for the prefetched batch.
  set_threads(threads_n);
  ModelOptions mo = natural_options("resnet18");
  mo.in_channels = 3;
  mo.height = mo.width = 224;
  mo.classes = data.train.classes;
  auto m = make_model("resnet18", mo);
  m->init(1);
  const std::vector<int64_t> order = epoch_order(data.train.size(), 1, 0, true);
  BatchStream stream(data.train, order, batch, true, data.norm, data.aug, 7);
  Batch b;
  Tensor dlogits;
  stream.next(b);
  train_step(*m, b, dlogits);  // warm-up
  double wait_ms = 0, total_ms = 0;
  int done = 0;
  for (; done < steps; ++done) {
    const auto t = Clock::now();
    if (!stream.next(b)) break;
    const double w = ms_since(t);
    train_step(*m, b, dlogits);
    wait_ms += w;
    total_ms += ms_since(t);
  }
  std::printf("resnet18 batch=%lld threads=%d steps=%d step_ms=%.0f data_wait_pct=%.2f\n",
              static_cast<long long>(batch), threads(), done, total_ms / std::max(1, done),
              100.0 * wait_ms / std::max(1e-9, total_ms));
  return 0;
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
  std::string jpeg_dir;
  int64_t images = 200;
  auto* jpeg = app.add_option("--jpeg", jpeg_dir,
                              "benchmark the ImageNet JPEG reader on DIR (ImageNet's layout) or, "
                              "without DIR, on a folder of 500×375 JPEGs it makes")
                   ->expected(0, 1);
  app.add_option("--images", images, "--jpeg: images each reader decodes per round");
  CLI11_PARSE(app, argc, argv);
  if (jpeg->count() > 0) {
    // Unless given, ResNet-18's few large steps: batch 32, 5 steps.
    return run_jpeg(jpeg_dir, threads_n, app.get_option("--batch")->count() ? batch : 32,
                    app.get_option("--steps")->count() ? steps : 5, images);
  }
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
