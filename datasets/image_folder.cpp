#include "datasets/image_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include "engine/core/error.h"

namespace qt {

namespace fs = std::filesystem;

namespace {

constexpr const char* kImageKinds = "*.JPEG, *.jpg, *.jpeg or *.png";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// The entries of `dir` (sorted by name): sub-folders and image files, hidden names skipped.
void list_dir(const fs::path& dir, std::vector<std::string>* folders,
              std::vector<std::string>* images) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code ec2;
    if (it->is_directory(ec2)) {
      if (folders) folders->push_back(name);
    } else if (images && is_image_file_name(name)) {
      images->push_back(name);
    }
  }
  if (folders) std::sort(folders->begin(), folders->end());
  if (images) std::sort(images->begin(), images->end());
}

// Adds every image of dir/<class> for the given classes, labelled by their index.
void add_class_folders(const fs::path& dir, const std::vector<std::string>& folders,
                       const std::map<std::string, int>& index, Dataset& d) {
  for (const std::string& name : folders) {
    const auto at = index.find(name);
    if (at == index.end())
      throw DataError((dir / name).string() +
                      ": a class folder that train/ does not have: "
                      "expected the validation classes to be among the training classes");
    std::vector<std::string> images;
    list_dir(dir / name, nullptr, &images);
    if (images.empty())
      throw DataError((dir / name).string() + ": no image files: expected " + kImageKinds +
                      " in each class folder");
    for (const std::string& f : images) {
      d.files.push_back((dir / name / f).string());
      d.labels.push_back(at->second);
    }
  }
}

std::string stem_of(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

// A flat validation folder: its images labelled by the labels file.
void add_labelled_files(const fs::path& dir, const fs::path& labels_path,
                        const std::map<std::string, int>& index, int classes, Dataset& d) {
  std::vector<std::string> images;
  list_dir(dir, nullptr, &images);
  std::ifstream in(labels_path);
  if (!in) throw DataError(labels_path.string() + ": cannot open the labels file");
  std::map<std::string, int> by_name;  // image name and its stem → class
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (number == 1 && line.rfind("ImageId,", 0) == 0) continue;
    for (char& c : line)
      if (c == ',' || c == '\t') c = ' ';
    const size_t f0 = line.find_first_not_of(' ');
    const size_t f1 = line.find(' ', f0);
    const size_t c0 = f1 == std::string::npos ? f1 : line.find_first_not_of(' ', f1);
    const std::string where = labels_path.string() + " line " + std::to_string(number);
    if (c0 == std::string::npos)
      throw DataError(where + ": expected \"<image file> <class>\", found \"" + line + "\"");
    const std::string file = line.substr(f0, f1 - f0);
    const std::string cls = line.substr(c0, line.find(' ', c0) - c0);
    int label = -1;
    if (const auto at = index.find(cls); at != index.end()) {
      label = at->second;
    } else if (cls.find_first_not_of("0123456789") == std::string::npos && cls.size() < 9 &&
               std::stoi(cls) < classes) {
      label = std::stoi(cls);
    } else {
      throw DataError(where + ": class \"" + cls + "\" is neither a folder of train/ nor an " +
                      "index in [0, " + std::to_string(classes) + ")");
    }
    by_name[file] = label;
  }
  for (const std::string& f : images) {
    auto at = by_name.find(f);
    if (at == by_name.end()) at = by_name.find(stem_of(f));
    if (at == by_name.end())
      throw DataError(labels_path.string() + ": no line for " + (dir / f).string() +
                      ": expected one \"<image file> <class>\" line per image of " + dir.string());
    d.files.push_back((dir / f).string());
    d.labels.push_back(at->second);
  }
}

}  // namespace

bool is_image_file_name(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string ext = lower(name.substr(dot + 1));
  return ext == "jpeg" || ext == "jpg" || ext == "png";
}

ImageFolder read_image_folder(const std::string& root) {
  const fs::path r(root), train_dir = r / "train", val_dir = r / "val";
  if (!is_dir(train_dir))
    throw DataError(train_dir.string() + ": not a folder: expected ImageNet's layout, " + root +
                    "/train/<class>/*.JPEG and " + root + "/val/ (see docs/datasets.md)");
  if (!is_dir(val_dir))
    throw DataError(val_dir.string() + ": not a folder: expected the validation images in " + root +
                    "/val/<class>/ or in " + root + "/val/ with " + root +
                    "/val_labels.txt (see docs/datasets.md)");
  ImageFolder f;
  std::vector<std::string> classes;
  list_dir(train_dir, &classes, nullptr);
  if (classes.size() < 2)
    throw DataError(train_dir.string() + ": expected at least 2 class folders, found " +
                    std::to_string(classes.size()));
  std::map<std::string, int> index;
  for (size_t c = 0; c < classes.size(); ++c) index[classes[c]] = static_cast<int>(c);
  add_class_folders(train_dir, classes, index, f.train);

  std::vector<std::string> val_classes, val_images;
  list_dir(val_dir, &val_classes, &val_images);
  if (!val_classes.empty()) {
    add_class_folders(val_dir, val_classes, index, f.val);
  } else {
    fs::path labels;
    for (const char* name : {"val_labels.txt", "LOC_val_solution.csv"})
      if (fs::exists(r / name)) {
        labels = r / name;
        break;
      }
    if (labels.empty())
      throw DataError(val_dir.string() + ": no class folders, and no labels file for its " +
                      std::to_string(val_images.size()) + " images: expected " + root +
                      "/val_labels.txt (or LOC_val_solution.csv) with one \"<file> <class>\" "
                      "line per image");
    add_labelled_files(val_dir, labels, index, static_cast<int>(classes.size()), f.val);
    if (f.val.files.empty())
      throw DataError(val_dir.string() + ": no image files: expected " + kImageKinds);
  }
  for (Dataset* d : {&f.train, &f.val}) {
    d->classes = static_cast<int>(classes.size());
    d->class_names = classes;
  }
  f.train.source = train_dir.string();
  f.val.source = val_dir.string();
  return f;
}

}  // namespace qt
