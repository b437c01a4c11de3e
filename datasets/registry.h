#pragma once
// The one entry point the training loop uses: a dataset name and a few choices in, the three
// splits (train, validation, test) with their normalisation and augmentation out.
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/batch_stream.h"  // the loop pulls its batches from a BatchStream
#include "datasets/dataset.h"
#include "datasets/synthetic.h"

namespace qt {

struct DataRequest {
  std::string name;         // one of dataset_names(): "fashion-mnist", "mnist", "cifar10", ...
  std::string data_dir;     // "" = search QTRAIN_DATA_DIR, then the system locations
  int64_t val_size = -1;    // held out from the training set; -1 = the dataset's default, 0 = none
  bool stratified = false;  // the same class proportions in train and validation
  uint64_t split_seed = 0;
  // "standard" constants (or "computed" for a set that has none) | "computed" from the training
  // split | "none" (pixels scaled to [0, 1] only)
  std::string normalization = "standard";
  std::string augment = "auto";  // "auto" = pad-crop + flip for 32×32 colour data | "on" | "off"
  std::string cifar100_labels = "fine";  // "fine" (100 classes) | "coarse" (20 superclasses)
  int64_t limit_train =
      0;                   // 0 = all; else keep the first n of the training split (after the split)
  int64_t limit_test = 0;  // 0 = all; else keep the first n of the test set
  SyntheticSpec synthetic;  // used when name == "synthetic"
  // Image folders (imagenet-folder): the side of the square samples, the shorter side the
  // evaluation resizes to before its centre crop (0 = image_size · 256/224, ImageNet's 256 for
  // 224), and what a file that does not decode does: "skip" (replaced, logged, counted) | "fail".
  int image_size = 224;
  int resize_size = 0;
  std::string bad_image = "skip";
};

struct DataSplits {
  Dataset train, val, test;  // val is empty when val_size == 0
  Normalization norm;        // one mean/std per channel
  Augmentation aug;          // applied to training batches only
};

// Throws UsageError for an unknown name or option value (the message lists the valid ones),
// DataError for a missing or bad file (the message names the file, what was expected and found).
DataSplits load_splits(const DataRequest& req);

// Every name load_splits accepts.
std::vector<std::string> dataset_names();

// The training and test sets as stored, before any split (for `qtrain datasets`).
struct RawData {
  Dataset train, test;
  std::string dir;  // where the files were found ("" for synthetic data)
};
RawData load_raw(const DataRequest& req);

// The validation size used when DataRequest::val_size is -1.
int64_t default_val_size(const std::string& name, int64_t train_size);

}  // namespace qt
