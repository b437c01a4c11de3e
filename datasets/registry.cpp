#include "datasets/registry.h"

#include <tbb/parallel_invoke.h>

#include <filesystem>
#include <fstream>

#include "datasets/catalog.h"
#include "datasets/cifar_reader.h"
#include "datasets/idx_reader.h"
#include "datasets/image_folder.h"
#include "datasets/jpeg_decode.h"
#include "datasets/locate.h"
#include "datasets/qtimg_reader.h"
#include "datasets/split.h"
#include "datasets/stats.h"
#include "engine/core/error.h"

namespace qt {

namespace {

void check_choice(const std::string& what, const std::string& value,
                  std::initializer_list<const char*> valid) {
  std::string list;
  for (const char* v : valid) {
    if (value == v) return;
    list += std::string(list.empty() ? "" : ", ") + v;
  }
  throw UsageError(what + " '" + value + "': expected one of " + list);
}

Dataset load_files(const CatalogEntry& e, const std::string& dir,
                   const std::vector<DataFile>& files, bool fine) {
  std::vector<std::string> paths;
  for (const DataFile& f : files) paths.push_back(file_in(dir, f.name));
  Dataset d;
  switch (e.format) {
    case DataFormat::idx:
      d = read_idx(paths[0], paths[1], e.classes);
      break;
    case DataFormat::cifar10:
      d = read_cifar10(paths);
      break;
    case DataFormat::cifar100:
      d = read_cifar100(paths[0], fine);
      break;
    case DataFormat::qtimg:
      d = read_qtimg(paths[0]);
      break;
    case DataFormat::image_folder:
    case DataFormat::synthetic:
      throw std::logic_error("load_files: " + e.name + " is not read file by file");
  }
  d.name = e.name;
  if (d.class_names.empty()) d.class_names = e.class_names;
  // A qtimg conversion carries its class names (ImageNet's WordNet ids) in classes.txt; a
  // file that does not list exactly one name per class is ignored, names are only for display.
  if (e.format == DataFormat::qtimg) {
    std::ifstream names(std::filesystem::path(dir) / "classes.txt");
    std::vector<std::string> lines;
    for (std::string line; std::getline(names, line) && lines.size() <= 65536;)
      if (!line.empty()) lines.push_back(line);
    if (lines.size() == static_cast<size_t>(d.classes)) d.class_names = lines;
  }
  if (d.class_names.size() != static_cast<size_t>(d.classes)) {
    d.class_names.clear();
    for (int c = 0; c < d.classes; ++c) d.class_names.push_back(std::to_string(c));
  }
  return d;
}

}  // namespace

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const CatalogEntry& e : catalog()) names.push_back(e.name);
  return names;
}

RawData load_raw(const DataRequest& req) {
  const CatalogEntry& e = catalog_entry(req.name);
  check_choice("cifar100 labels", req.cifar100_labels, {"fine", "coarse"});
  check_choice("bad image", req.bad_image, {"skip", "fail"});
  if (req.image_size < 8 || req.image_size > 4096 || req.resize_size < 0 ||
      (req.resize_size > 0 && req.resize_size < req.image_size))
    throw UsageError("image size " + std::to_string(req.image_size) + ", resize size " +
                     std::to_string(req.resize_size) +
                     ": expected an image size in [8, 4096] and a resize size of 0 (image size "
                     "· 256/224) or at least the image size");
  const bool fine = req.cifar100_labels == "fine";
  RawData raw;
  if (e.format == DataFormat::synthetic) {
    raw.train = make_synthetic(req.synthetic, 0);
    raw.test = make_synthetic(req.synthetic, 1);
    return raw;
  }
  raw.dir = locate_dataset(e, req.data_dir);
  if (e.format == DataFormat::image_folder) {
    // The listing works without libjpeg-turbo, but training would then fail at the first batch.
    if (!jpeg_available()) throw DataError(e.name + ": " + jpeg_unavailable_message());
    ImageFolder f = read_image_folder(raw.dir);
    raw.train = std::move(f.train);
    raw.test = std::move(f.val);
    const int resize = req.resize_size > 0 ? req.resize_size : (req.image_size * 256 + 112) / 224;
    for (Dataset* d : {&raw.train, &raw.test}) {
      d->name = e.name;
      d->channels = 3;
      d->height = d->width = req.image_size;
      d->resize = resize;
      d->skip_bad = req.bad_image == "skip";
    }
    return raw;
  }
  // The two splits are independent files: read them at the same time.
  tbb::parallel_invoke([&] { raw.train = load_files(e, raw.dir, e.train_files, fine); },
                       [&] { raw.test = load_files(e, raw.dir, e.test_files, fine); });
  if (raw.train.sample_shape() != raw.test.sample_shape() || raw.train.classes != raw.test.classes)
    throw DataError(raw.test.source + ": expected images of " +
                    shape_str(raw.train.sample_shape()) + " in " +
                    std::to_string(raw.train.classes) + " classes like the training set " +
                    raw.train.source + ", found " + shape_str(raw.test.sample_shape()) + " in " +
                    std::to_string(raw.test.classes) + " classes");
  return raw;
}

int64_t default_val_size(const std::string& name, int64_t train_size) {
  const CatalogEntry& e = catalog_entry(name);
  return e.default_val >= 0 ? e.default_val : train_size / 10;
}

DataSplits load_splits(const DataRequest& req) {
  const CatalogEntry& e = catalog_entry(req.name);
  check_choice("normalization", req.normalization, {"standard", "computed", "none"});
  check_choice("augment", req.augment, {"auto", "on", "off"});
  if (req.val_size < -1)
    throw UsageError("validation size " + std::to_string(req.val_size) +
                     ": expected -1 (the dataset's default), 0 (none) or a count");
  if (req.limit_train < 0 || req.limit_test < 0)
    throw UsageError("limit " + std::to_string(std::min(req.limit_train, req.limit_test)) +
                     ": expected 0 (all) or a positive count");
  RawData raw = load_raw(req);
  DataSplits s;
  s.train = std::move(raw.train);
  s.test = std::move(raw.test);
  const int64_t val = req.val_size < 0 ? default_val_size(req.name, s.train.size()) : req.val_size;
  const SplitIndices idx =
      split_indices(s.train.labels, s.train.classes, val, req.stratified, req.split_seed);
  s.val = split_off(s.train, idx.val);
  truncate(s.train, req.limit_train);
  truncate(s.test, req.limit_test);

  const int C = s.train.channels;
  if (req.normalization == "none") {
    s.norm.mean.assign(C, 0.0f);
    s.norm.std.assign(C, 1.0f);
  } else if (req.normalization == "standard" && static_cast<int>(e.mean.size()) == C) {
    s.norm.mean = e.mean;
    s.norm.std = e.std;
  } else if (s.train.file_backed()) {
    throw UsageError("normalization '" + req.normalization + "' for " + req.name +
                     ": its pixels are decoded batch by batch, never all in memory, so they "
                     "cannot be computed: expected standard or none");
  } else {
    // "computed", or a set without standard constants: from the training split only, so
    // nothing of the validation or test data leaks into training.
    s.norm = computed_normalization(s.train);
  }
  const bool colour32 = C == 3 && s.train.height == 32 && s.train.width == 32;
  if (s.train.file_backed()) {
    // ImageNet's training transform; off: the evaluation's centre crop for training too.
    s.aug.random_resized_crop = s.aug.hflip = req.augment != "off";
  } else if (req.augment == "on" || (req.augment == "auto" && colour32)) {
    s.aug.pad_crop = 4;
    s.aug.hflip = true;
  }
  return s;
}

}  // namespace qt
