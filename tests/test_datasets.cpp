// Readers on generated files of every format, the locating rules, splits, normalisation,
// augmentation and the batch stream; and the real Fashion-MNIST that every machine here has.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "datasets/batch_stream.h"
#include "datasets/cifar_reader.h"
#include "datasets/dataset_writers.h"
#include "datasets/idx_reader.h"
#include "datasets/locate.h"
#include "datasets/qtimg_reader.h"
#include "datasets/registry.h"
#include "datasets/split.h"
#include "datasets/stats.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"
#include "test_datasets_fixtures.h"

using namespace qt;
using qt::testing::random_dataset;
using qt::testing::TempDir;

namespace {

bool same_data(const Dataset& a, const Dataset& b) {
  return a.channels == b.channels && a.height == b.height && a.width == b.width &&
         a.labels == b.labels && a.pixels == b.pixels;
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  std::string old;
  bool had;
  ScopedEnv(const char* n, const std::string& value) : name(n) {
    const char* o = std::getenv(n);
    had = o != nullptr;
    if (had) old = o;
    setenv(n, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

// Writes a Fashion-MNIST-layout directory: train and test sets in IDX, gzip or not.
void write_idx_set(const std::string& dir, const Dataset& train, const Dataset& test, bool gz) {
  std::filesystem::create_directories(dir);
  auto put = [&](const std::string& name, const std::vector<uint8_t>& raw) {
    if (gz)
      write_bytes(dir + "/" + name + ".gz", gzip_bytes(raw));
    else
      write_bytes(dir + "/" + name, raw);
  };
  put("train-images-idx3-ubyte", idx_images_bytes(train));
  put("train-labels-idx1-ubyte", idx_labels_bytes(train));
  put("t10k-images-idx3-ubyte", idx_images_bytes(test));
  put("t10k-labels-idx1-ubyte", idx_labels_bytes(test));
}

}  // namespace

TEST_CASE("IDX reader: raw and gzip files load exactly") {
  TempDir tmp;
  const Dataset d = random_dataset(1, 5, 7, 10, 23, 1);
  write_bytes(tmp.file("img"), idx_images_bytes(d));
  write_bytes(tmp.file("lab"), idx_labels_bytes(d));
  write_bytes(tmp.file("img.gz"), gzip_bytes(idx_images_bytes(d)));
  write_bytes(tmp.file("lab.gz"), gzip_bytes(idx_labels_bytes(d)));
  for (const char* suffix : {"", ".gz"}) {
    const Dataset r =
        read_idx(tmp.file(std::string("img") + suffix), tmp.file(std::string("lab") + suffix), 10);
    CHECK(same_data(r, d));
    CHECK(r.classes == 10);
  }
  // classes = 0: the largest label + 1.
  CHECK(read_idx(tmp.file("img"), tmp.file("lab.gz"), 0).classes == 10);
  // A multi-member gzip file (as `cat a.gz b.gz` makes) is one stream of content.
  const std::vector<uint8_t> raw = idx_images_bytes(d);
  std::vector<uint8_t> two = gzip_bytes({raw.begin(), raw.begin() + 100});
  const std::vector<uint8_t> second = gzip_bytes({raw.begin() + 100, raw.end()});
  two.insert(two.end(), second.begin(), second.end());
  write_bytes(tmp.file("img2.gz"), two);
  CHECK(same_data(read_idx(tmp.file("img2.gz"), tmp.file("lab"), 10), d));
}

TEST_CASE("CIFAR-10 reader: batches concatenate in order") {
  TempDir tmp;
  const Dataset a = random_dataset(3, 32, 32, 10, 7, 2), b = random_dataset(3, 32, 32, 10, 5, 3);
  write_bytes(tmp.file("data_batch_1.bin"), cifar_bytes(a));
  write_bytes(tmp.file("data_batch_2.bin"), cifar_bytes(b));
  const Dataset r = read_cifar10({tmp.file("data_batch_1.bin"), tmp.file("data_batch_2.bin")});
  REQUIRE(r.size() == 12);
  CHECK(r.classes == 10);
  CHECK(r.class_names.at(0) == "airplane");
  CHECK(std::vector<uint8_t>(r.pixels.begin(), r.pixels.begin() + a.pixels.size()) == a.pixels);
  CHECK(std::vector<uint8_t>(r.pixels.begin() + a.pixels.size(), r.pixels.end()) == b.pixels);
  CHECK(std::vector<int32_t>(r.labels.begin() + 7, r.labels.end()) == b.labels);
}

TEST_CASE("CIFAR-100 reader: fine or coarse labels") {
  TempDir tmp;
  const Dataset fine = random_dataset(3, 32, 32, 100, 9, 4);
  std::vector<int32_t> coarse;
  for (int32_t y : fine.labels) coarse.push_back(y / 5);
  write_bytes(tmp.file("train.bin"), cifar_bytes(fine, &coarse));
  const Dataset f = read_cifar100(tmp.file("train.bin"), true);
  CHECK(same_data(f, fine));
  CHECK(f.classes == 100);
  CHECK(f.class_names.size() == 100);
  const Dataset c = read_cifar100(tmp.file("train.bin"), false);
  CHECK(c.labels == coarse);
  CHECK(c.classes == 20);
  CHECK(c.class_names.size() == 20);
  CHECK(c.pixels == fine.pixels);
}

TEST_CASE("qtimg reader: header fields and data load exactly") {
  TempDir tmp;
  const Dataset d = random_dataset(3, 9, 11, 1000, 13, 5);
  write_bytes(tmp.file("train.qtimg"), qtimg_bytes(d));
  const Dataset r = read_qtimg(tmp.file("train.qtimg"));
  CHECK(same_data(r, d));
  CHECK(r.classes == 1000);
}

TEST_CASE("synthetic data: seeded, any shape, the same for any thread count") {
  SyntheticSpec spec;
  spec.channels = 3;
  spec.height = 5;
  spec.width = 4;
  spec.classes = 7;
  spec.train_size = 300;
  spec.test_size = 50;
  spec.seed = 9;
  set_threads(1);
  const Dataset one = make_synthetic(spec, 0);
  set_threads(2);
  const Dataset two = make_synthetic(spec, 0);
  CHECK(same_data(one, two));
  CHECK(one.size() == 300);
  CHECK(make_synthetic(spec, 1).size() == 50);
  std::set<int32_t> seen(one.labels.begin(), one.labels.end());
  CHECK(seen.size() == 7);
  spec.seed = 10;
  CHECK_FALSE(same_data(make_synthetic(spec, 0), one));
}

TEST_CASE("locating: --data-dir, then QTRAIN_DATA_DIR; a clear message when nothing is found") {
  TempDir tmp;
  const Dataset train = random_dataset(1, 4, 4, 10, 40, 6),
                test = random_dataset(1, 4, 4, 10, 10, 7);
  write_idx_set(tmp.file("fashion-mnist"), train, test, true);
  const CatalogEntry& e = catalog_entry("fashion-mnist");
  // --data-dir may name the dataset's own directory or a root holding it.
  CHECK(locate_dataset(e, tmp.file("fashion-mnist")) == tmp.file("fashion-mnist"));
  CHECK(locate_dataset(e, tmp.path.string()) == tmp.file("fashion-mnist"));
  {
    ScopedEnv env(kDataDirEnv, "/nonexistent-qtrain:" + tmp.path.string());
    CHECK(locate_dataset(e, "") == tmp.file("fashion-mnist"));
  }
  // Uncompressed copies are found under the same names.
  write_idx_set(tmp.file("raw/mnist"), train, test, false);
  CHECK(locate_dataset(catalog_entry("mnist"), tmp.file("raw")) == tmp.file("raw/mnist"));
  try {
    locate_dataset(catalog_entry("mnist"), tmp.file("nowhere"));
    FAIL("expected a DataError");
  } catch (const DataError& err) {
    const std::string msg = err.what();
    CHECK(msg.find("train-images-idx3-ubyte.gz") != std::string::npos);
    CHECK(msg.find(tmp.file("nowhere")) != std::string::npos);
    CHECK(msg.find("QTRAIN_DATA_DIR") != std::string::npos);
    CHECK(msg.find("http") != std::string::npos);  // how to get it
  }
  CHECK_THROWS_AS(catalog_entry("imagenet21k"), UsageError);
}

TEST_CASE("load_splits: every dataset from a generated directory, default validation sizes") {
  TempDir tmp;
  const Dataset train = random_dataset(1, 28, 28, 10, 6000, 8),
                test = random_dataset(1, 28, 28, 10, 100, 9);
  write_idx_set(tmp.file("kmnist"), train, test, true);
  DataRequest req;
  req.name = "kmnist";
  req.data_dir = tmp.path.string();
  DataSplits s = load_splits(req);
  CHECK(s.train.size() == 1000);  // 6000 − the default 5000
  CHECK(s.val.size() == 5000);
  CHECK(s.test.size() == 100);
  CHECK(s.norm.mean == std::vector<float>{0.1918f});
  CHECK_FALSE(s.aug.any());  // auto: grey 28×28
  CHECK(s.train.name == "kmnist");

  const Dataset c10 = random_dataset(3, 32, 32, 10, 20, 10);
  std::filesystem::create_directories(tmp.file("cifar-10-batches-bin"));
  for (int i = 1; i <= 5; ++i)
    write_bytes(tmp.file("cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin"),
                cifar_bytes(c10));
  write_bytes(tmp.file("cifar-10-batches-bin/test_batch.bin"), cifar_bytes(c10));
  req = DataRequest{};
  req.name = "cifar10";
  req.data_dir = tmp.path.string();
  req.val_size = 30;
  req.limit_test = 7;
  s = load_splits(req);
  CHECK(s.train.size() == 70);
  CHECK(s.val.size() == 30);
  CHECK(s.test.size() == 7);
  CHECK(s.aug.pad_crop == 4);  // auto: 32×32 colour
  CHECK(s.aug.hflip);
  CHECK(s.norm.mean == std::vector<float>{0.4914f, 0.4822f, 0.4465f});
  CHECK(s.norm.std == std::vector<float>{0.2470f, 0.2435f, 0.2616f});
  req.normalization = "computed";  // from the 70 training images only, never val or test
  CHECK(load_splits(req).norm.mean[0] == doctest::Approx(dataset_stats(s.train).mean[0]));

  std::filesystem::create_directories(tmp.file("cifar-100-binary"));
  const Dataset c100 = random_dataset(3, 32, 32, 100, 50, 11);
  std::vector<int32_t> coarse(50, 19);
  write_bytes(tmp.file("cifar-100-binary/train.bin"), cifar_bytes(c100, &coarse));
  write_bytes(tmp.file("cifar-100-binary/test.bin"), cifar_bytes(c100, &coarse));
  req = DataRequest{};
  req.name = "cifar100";
  req.data_dir = tmp.path.string();
  req.val_size = 0;
  req.cifar100_labels = "coarse";
  req.augment = "off";
  s = load_splits(req);
  CHECK(s.train.classes == 20);
  CHECK(s.val.size() == 0);
  CHECK(s.train.labels == coarse);
  CHECK_FALSE(s.aug.any());
  req.cifar100_labels = "fine";
  CHECK(load_splits(req).train.labels == c100.labels);

  std::filesystem::create_directories(tmp.file("imagenet"));
  const Dataset inet = random_dataset(3, 8, 8, 1000, 30, 12);
  write_bytes(tmp.file("imagenet/train.qtimg"), qtimg_bytes(inet));
  write_bytes(tmp.file("imagenet/val.qtimg"), qtimg_bytes(inet));
  req = DataRequest{};
  req.name = "imagenet";
  req.data_dir = tmp.path.string();
  req.val_size = 10;
  s = load_splits(req);
  CHECK(s.train.size() == 20);
  CHECK(s.train.classes == 1000);
  CHECK(s.norm.mean.size() == 3);

  req = DataRequest{};
  req.name = "synthetic";
  req.synthetic.train_size = 200;
  req.synthetic.test_size = 30;
  s = load_splits(req);
  CHECK(s.train.size() == 180);  // a tenth held out by default
  CHECK(s.val.size() == 20);

  req.normalization = "z-score";
  CHECK_THROWS_AS(load_splits(req), UsageError);
  req.normalization = "none";
  req.augment = "maybe";
  CHECK_THROWS_AS(load_splits(req), UsageError);
  req.augment = "auto";
  req.val_size = 200;  // the whole training set
  CHECK_THROWS_AS(load_splits(req), UsageError);
}

TEST_CASE("validation split: disjoint, complete, seeded; stratified keeps class proportions") {
  std::vector<int32_t> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back(i < 700 ? 0 : (i < 900 ? 1 : 2));
  const SplitIndices a = split_indices(labels, 3, 100, false, 1);
  const SplitIndices b = split_indices(labels, 3, 100, false, 1);
  const SplitIndices c = split_indices(labels, 3, 100, false, 2);
  CHECK(a.val == b.val);
  CHECK(a.val != c.val);
  CHECK(a.val.size() == 100);
  CHECK(a.train.size() == 900);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  for (int64_t v : a.val) CHECK(all.insert(v).second);
  CHECK(all.size() == 1000);

  const SplitIndices s = split_indices(labels, 3, 100, true, 1);
  int counts[3] = {0, 0, 0};
  for (int64_t v : s.val) ++counts[labels[v]];
  CHECK(counts[0] == 70);
  CHECK(counts[1] == 20);
  CHECK(counts[2] == 10);
  // Largest remainders: 7 from 7·(70/100)=4.9, 2·… so quotas still sum to the size asked.
  const SplitIndices odd = split_indices(labels, 3, 7, true, 3);
  CHECK(odd.val.size() == 7);

  // split_off moves exactly those samples out and keeps the rest in order.
  Dataset d = random_dataset(1, 2, 2, 3, 50, 13);
  const Dataset orig = d;
  const SplitIndices idx = split_indices(d.labels, 3, 10, false, 4);
  const Dataset val = split_off(d, idx.val);
  CHECK(same_data(val, subset(orig, idx.val)));
  CHECK(same_data(d, subset(orig, idx.train)));
}

TEST_CASE("statistics and computed normalisation") {
  Dataset d;
  d.channels = 2;
  d.height = 1;
  d.width = 2;
  d.classes = 2;
  d.pixels = {0, 255, 51, 51, 255, 0, 51, 51};  // channel 0: 0,255,255,0; channel 1: all 51
  d.labels = {0, 1};
  const DatasetStats s = dataset_stats(d);
  CHECK(s.class_counts == std::vector<int64_t>{1, 1});
  CHECK(s.mean[0] == doctest::Approx(0.5));
  CHECK(s.std[0] == doctest::Approx(0.5));
  CHECK(s.mean[1] == doctest::Approx(0.2));
  CHECK(s.std[1] == doctest::Approx(0.0));
  const Normalization n = computed_normalization(d);
  CHECK(n.std[1] == 1.0f);  // a constant channel keeps its scale
}

TEST_CASE("augmentation and batches: identical for 1 and 2 threads; prefetch changes nothing") {
  const Dataset d = random_dataset(3, 32, 32, 10, 100, 14);
  Normalization norm{{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};
  Augmentation aug{4, true};
  const std::vector<int64_t> order = epoch_order(d.size(), 7, 3, true);
  auto run = [&](int threads, bool prefetch, int64_t start) {
    set_threads(threads);
    std::vector<Batch> out;
    BatchStream stream(d, order, 32, false, norm, aug, 99, start, prefetch);
    CHECK(stream.batches() == 4);
    Batch b;
    while (stream.next(b)) out.push_back(b);
    return out;
  };
  const std::vector<Batch> one = run(1, false, 0), two = run(2, true, 0), resumed = run(2, true, 2);
  REQUIRE(one.size() == 4);
  REQUIRE(two.size() == 4);
  REQUIRE(resumed.size() == 2);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(one[i].y == two[i].y);
    CHECK(std::equal(one[i].x.span().begin(), one[i].x.span().end(), two[i].x.span().begin()));
  }
  CHECK(
      std::equal(resumed[0].x.span().begin(), resumed[0].x.span().end(), one[2].x.span().begin()));
  CHECK(one[3].y.size() == 4);  // 100 = 3·32 + 4
  CHECK(one[0].indices == std::vector<int64_t>(order.begin(), order.begin() + 32));

  // The augmentation really moves pixels: some sample differs from its plain normalised self,
  // and unaugmented pixels are exactly (p/255 − mean)/std.
  Batch plain, moved;
  make_batch(d, std::span<const int64_t>(order.data(), 32), norm, Augmentation{}, 5, plain);
  make_batch(d, std::span<const int64_t>(order.data(), 32), norm, aug, 5, moved);
  CHECK(plain.x.shape() == Shape{32, 3, 32, 32});
  const int64_t i0 = order[0];
  CHECK(plain.x[0] == doctest::Approx((d.pixels[i0 * 3072] / 255.0f - 0.5f) / 0.2f));
  int differing = 0;
  for (int64_t i = 0; i < plain.x.size(); ++i) differing += plain.x[i] != moved.x[i];
  CHECK(differing > plain.x.size() / 4);
  // A crop-shifted image keeps its content: with a flip and shift, every pixel of the augmented
  // image is either padding or some pixel of the same channel of the original.
  const float pad = -norm.mean[0] / norm.std[0];
  std::set<float> channel0(plain.x.data(), plain.x.data() + 1024);
  for (int64_t j = 0; j < 1024; ++j) CHECK((moved.x[j] == pad || channel0.count(moved.x[j]) == 1));
  set_threads(0);
}

namespace {

// Rows [r0, r1) of `whole` and all of `part` hold the same bits, labels and samples.
bool same_rows(const Batch& whole, int64_t r0, int64_t r1, const Batch& part) {
  const int64_t per = whole.x.size() / whole.x.dim(0);
  return part.x.dim(0) == r1 - r0 && part.first == r0 && part.total == whole.total &&
         std::equal(part.x.data(), part.x.data() + part.x.size(), whole.x.data() + r0 * per) &&
         part.y == std::vector<int32_t>(whole.y.begin() + r0, whole.y.begin() + r1) &&
         part.indices ==
             std::vector<int64_t>(whole.indices.begin() + r0, whole.indices.begin() + r1);
}

}  // namespace

TEST_CASE(
    "batch parts: rows of a batch made alone are those rows of the whole batch, bit for bit") {
  const Dataset d = random_dataset(3, 16, 16, 10, 100, 21);
  Normalization norm{{0.5f, 0.4f, 0.3f}, {0.2f, 0.25f, 0.3f}};
  Augmentation aug{4, true};  // pad-crop and flip: both keyed by the position in the batch
  const std::vector<int64_t> order = epoch_order(d.size(), 3, 1, true);
  auto all = [&](const StreamPart& part, int64_t start = 0) {
    BatchStream stream(d, order, 32, false, norm, aug, 99, start, true, part);
    std::vector<std::pair<int64_t, Batch>> out;
    Batch b;
    for (int64_t at = stream.position(); stream.next(b); at = stream.position())
      out.emplace_back(at, b);
    CHECK(stream.prepared() == [&] {
      int64_t n = 0;
      for (auto& [i, x] : out) n += x.x.dim(0);
      return n;
    }());
    return out;
  };
  const auto whole = all({});
  REQUIRE(whole.size() == 4);  // 3 of 32 and the last of 4
  CHECK(whole[3].second.total == 4);
  // Shards 1 and 2 of 5: rows ⌊n/5⌋ … ⌊3n/5⌋ of each batch (6 … 19 of 32, 0 … 2 of 4).
  const auto part = all({1, 0, 1, 3, 5});
  REQUIRE(part.size() == 4);
  for (size_t b = 0; b < 4; ++b) {
    CAPTURE(b);
    const int64_t n = whole[b].second.total;
    CHECK(part[b].first == whole[b].first);
    CHECK(part[b].second.x.dim(0) < n);  // really fewer rows prepared
    CHECK(same_rows(whole[b].second, n / 5, 3 * n / 5, part[b].second));
  }
  // The parts of all 5 shards together are the whole batch; an empty part is allowed.
  for (int64_t s = 0; s < 5; ++s) {
    const auto one = all({1, 0, s, s + 1, 5});
    for (size_t b = 0; b < 4; ++b) {
      const int64_t n = whole[b].second.total;
      CHECK(same_rows(whole[b].second, s * n / 5, (s + 1) * n / 5, one[b].second));
    }
  }
  // Every third batch from the second (as rank 1 of 3 evaluates), also resumed mid-epoch.
  const auto third = all({3, 1});
  REQUIRE(third.size() == 1);
  CHECK(third[0].first == 1);
  CHECK(same_rows(whole[1].second, 0, 32, third[0].second));
  const auto strided = all({2, 1, 0, 1, 2}, 2);  // from batch 2 on: batch 3 only, its first half
  REQUIRE(strided.size() == 1);
  CHECK(strided[0].first == 3);
  CHECK(same_rows(whole[3].second, 0, 2, strided[0].second));
  // make_batch on its own: the samples at positions 7 … 12 of a batch.
  Batch some;
  make_batch(d, std::span<const int64_t>(order.data() + 7, 5), norm, aug,
             derive(uint64_t{99}, uint64_t{0}), some, 7);
  Batch first = whole[0].second;
  first.total = 12;  // make_batch alone knows only the rows up to its last
  CHECK(same_rows(first, 7, 12, some));
  // A part that is not one throws.
  CHECK_THROWS_AS(all({1, 0, 2, 1, 5}), std::invalid_argument);
  CHECK_THROWS_AS(all({2, 2}), std::invalid_argument);
}

TEST_CASE("epoch order: a seeded permutation, different per epoch, identity without shuffle") {
  const std::vector<int64_t> a = epoch_order(1000, 1, 0, true), b = epoch_order(1000, 1, 0, true);
  CHECK(a == b);
  CHECK(a != epoch_order(1000, 1, 1, true));
  CHECK(a != epoch_order(1000, 2, 0, true));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == epoch_order(1000, 1, 0, false));
  // Pinned values: this order must not change between builds or standard libraries, or a
  // resumed run would see different batches than the original one.
  const std::vector<int64_t> small = epoch_order(8, 42, 0, true);
  CHECK(small == std::vector<int64_t>{4, 3, 0, 7, 6, 5, 2, 1});
}

TEST_CASE("Fashion-MNIST from Debian's dataset-fashion-mnist: right counts, load time reported") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  REQUIRE_MESSAGE(std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"),
                  "install Debian's dataset-fashion-mnist (tools/setup does)");
  DataRequest req;
  req.name = "fashion-mnist";
  const auto t0 = std::chrono::steady_clock::now();
  const DataSplits s = load_splits(req);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Reported, not asserted: a timing depends on the machine's load (tools/bench_datasets measures).
  MESSAGE("Fashion-MNIST train+test load and split: " << secs << " s");
  CHECK(s.train.size() == 55000);
  CHECK(s.val.size() == 5000);
  CHECK(s.test.size() == 10000);
  CHECK(s.train.sample_shape() == Shape{1, 28, 28});
  const DatasetStats st = dataset_stats(s.test);
  for (int64_t c : st.class_counts) CHECK(c == 1000);  // the test set is balanced
  CHECK(st.mean[0] == doctest::Approx(0.2868).epsilon(0.01));
}
