#pragma once
// What qtrain knows about each named dataset: its format, the files of each split, where it is
// usually kept, its standard constants and how a user gets it.
#include <cstdint>
#include <string>
#include <vector>

namespace qt {

enum class DataFormat { idx, cifar10, cifar100, qtimg, image_folder, synthetic };

struct DataFile {
  std::string name;    // as distributed, e.g. "train-images-idx3-ubyte.gz"
  std::string sha256;  // of the uncompressed content; "" when no official value is known
};

struct CatalogEntry {
  std::string name;   // what --data takes
  std::string title;  // for listings
  DataFormat format;
  int classes;                                    // 0 = read from the files
  int channels, height, width;                    // 0 = read from the files
  std::vector<std::string> subdirs;               // tried under each search root, in order
  std::vector<DataFile> train_files, test_files;  // IDX: {images, labels}
  int64_t default_val;           // validation samples held out of the training set by default
  std::vector<float> mean, std;  // standard per-channel constants; empty = computed
  std::vector<std::string> class_names;
  std::string how_to_get;                   // one sentence for "not found" messages and docs
  int64_t train_count = 0, test_count = 0;  // the publisher's sample counts; 0 = any
};

const std::vector<CatalogEntry>& catalog();
// Throws UsageError listing the valid names.
const CatalogEntry& catalog_entry(const std::string& name);

}  // namespace qt
