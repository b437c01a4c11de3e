#pragma once
// Where dataset files are looked for: --data-dir if given (and only there), otherwise each
// directory of $QTRAIN_DATA_DIR (colon-separated), then ~/.local/share/datasets,
// /usr/local/share/datasets and /usr/share/datasets (where Debian's dataset-* packages install).
#include <string>
#include <vector>

#include "datasets/catalog.h"

namespace qt {

constexpr const char* kDataDirEnv = "QTRAIN_DATA_DIR";

// The directories that may hold `e`, in the order they are tried. With data_dir given, that
// directory itself comes first (it may be the dataset's own directory), then its subdirectories.
std::vector<std::string> candidate_dirs(const CatalogEntry& e, const std::string& data_dir);

// The first candidate directory holding the dataset's first training file. Throws DataError
// naming the file, every place looked in, and how to get the dataset.
std::string locate_dataset(const CatalogEntry& e, const std::string& data_dir);

// dir/name, or dir/name without (or with) ".gz" when only that one exists: copies may be
// stored compressed or not. When neither exists, dir/name (the reader then reports it missing).
std::string file_in(const std::string& dir, const std::string& name);

}  // namespace qt
