#pragma once
// The ImageFolder layout of ImageNet (and of torchvision's datasets.ImageFolder):
//   ROOT/train/<class>/<image>     one folder per class; classes sorted by folder name, so the
//                                  class indices are PyTorch's
//   ROOT/val/<class>/<image>       the same classes (a subset of train's), or
//   ROOT/val/<image> + a labels file, ROOT/val_labels.txt or ROOT/LOC_val_solution.csv: one line
//                                  per image, "<file> <class>" or "<file>,<class>[ ...]", where
//                                  <file> is the image's name with or without its extension and
//                                  <class> a class folder name (e.g. n01440764) or a class index;
//                                  a first line "ImageId,PredictionString" (Kaggle's) is skipped.
// Image files are those ending in .jpeg, .jpg or .png (any case; PNG is refused when decoded,
// with a message); other files and hidden ones are ignored. Files are sorted by name.
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

// The file-backed train and val splits of ROOT (pixels not read: Dataset::files set, the shape
// left to the caller). Throws DataError naming the folder or labels file and what is wrong.
struct ImageFolder {
  Dataset train, val;
};
ImageFolder read_image_folder(const std::string& root);

// Whether a file name is one of the image files listed (by its extension).
bool is_image_file_name(const std::string& name);

}  // namespace qt
