#include "datasets/cifar_reader.h"

#include "datasets/byte_reader.h"

namespace qt {

namespace {

// Appends every record of one file. label_bytes = 1 (CIFAR-10) or 2 (CIFAR-100); the label
// used is byte `label_index` of each record and must be below `classes`.
void read_records(const std::string& path, int label_bytes, int label_index, int classes,
                  Dataset& d) {
  ByteReader in(path, "a CIFAR binary file of " + std::to_string(label_bytes + kCifarPixels) +
                          "-byte records");
  const size_t record = static_cast<size_t>(label_bytes) + kCifarPixels;
  auto bad_size = [&](uint64_t total) {
    in.fail("size is not a whole number of records: expected a multiple of " +
            std::to_string(record) + " bytes (" + std::to_string(label_bytes) + " label " +
            (label_bytes == 1 ? "byte" : "bytes") + " + 3072 pixels), found " +
            std::to_string(total) + " bytes = " + std::to_string(total / record) + " records + " +
            std::to_string(total % record) + " bytes");
  };
  // A raw file's size is known before reading anything: refuse a partial record at once.
  if (!in.gzip() && in.file_size() % record != 0) bad_size(in.file_size());
  if (!in.gzip()) d.pixels.reserve(d.pixels.size() + in.file_size() / record * kCifarPixels);
  // Read in blocks of records, so the buffer grows only with data that is really there.
  constexpr size_t kBlock = 1000;
  std::vector<uint8_t> buf(record * kBlock);
  for (;;) {
    const size_t got = in.read_some(buf.data(), buf.size());
    if (got % record != 0) bad_size(in.offset());
    const size_t n = got / record;
    const size_t first = d.labels.size();
    for (size_t r = 0; r < n; ++r) {
      const uint8_t* rec = buf.data() + r * record;
      const int label = rec[label_index];
      if (label >= classes) {
        const uint64_t offset = in.offset() - got + r * record + label_index;
        in.fail("label out of range at byte offset " + std::to_string(offset) + " (record " +
                std::to_string(first + r) + "): expected a class in [0, " +
                std::to_string(classes) + "), found " + std::to_string(label));
      }
      d.labels.push_back(label);
      d.pixels.insert(d.pixels.end(), rec + label_bytes, rec + record);
    }
    if (got < buf.size()) break;
  }
  if (in.offset() == 0)
    in.fail("no records: expected at least one " + std::to_string(record) +
            "-byte record, found 0 bytes of content");
}

Dataset cifar_shape(int classes, std::vector<std::string> names) {
  Dataset d;
  d.channels = 3;
  d.height = d.width = 32;
  d.classes = classes;
  d.class_names = std::move(names);
  return d;
}

}  // namespace

Dataset read_cifar10(const std::vector<std::string>& files) {
  Dataset d = cifar_shape(10, cifar10_class_names());
  for (const std::string& f : files) {
    read_records(f, 1, 0, 10, d);
    d.source += (d.source.empty() ? "" : ", ") + f;
  }
  return d;
}

Dataset read_cifar100(const std::string& file, bool fine) {
  Dataset d = cifar_shape(fine ? 100 : 20, cifar100_class_names(fine));
  read_records(file, 2, fine ? 1 : 0, fine ? 100 : 20, d);
  d.source = file;
  return d;
}

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return names;
}

const std::vector<std::string>& cifar100_class_names(bool fine) {
  // The order of fine_label_names.txt and coarse_label_names.txt in the official archive.
  static const std::vector<std::string> fine_names = {
      "apple",       "aquarium_fish", "baby",      "bear",       "beaver",       "bed",
      "bee",         "beetle",        "bicycle",   "bottle",     "bowl",         "boy",
      "bridge",      "bus",           "butterfly", "camel",      "can",          "castle",
      "caterpillar", "cattle",        "chair",     "chimpanzee", "clock",        "cloud",
      "cockroach",   "couch",         "crab",      "crocodile",  "cup",          "dinosaur",
      "dolphin",     "elephant",      "flatfish",  "forest",     "fox",          "girl",
      "hamster",     "house",         "kangaroo",  "keyboard",   "lamp",         "lawn_mower",
      "leopard",     "lion",          "lizard",    "lobster",    "man",          "maple_tree",
      "motorcycle",  "mountain",      "mouse",     "mushroom",   "oak_tree",     "orange",
      "orchid",      "otter",         "palm_tree", "pear",       "pickup_truck", "pine_tree",
      "plain",       "plate",         "poppy",     "porcupine",  "possum",       "rabbit",
      "raccoon",     "ray",           "road",      "rocket",     "rose",         "sea",
      "seal",        "shark",         "shrew",     "skunk",      "skyscraper",   "snail",
      "snake",       "spider",        "squirrel",  "streetcar",  "sunflower",    "sweet_pepper",
      "table",       "tank",          "telephone", "television", "tiger",        "tractor",
      "train",       "trout",         "tulip",     "turtle",     "wardrobe",     "whale",
      "willow_tree", "wolf",          "woman",     "worm"};
  static const std::vector<std::string> coarse_names = {"aquatic_mammals",
                                                        "fish",
                                                        "flowers",
                                                        "food_containers",
                                                        "fruit_and_vegetables",
                                                        "household_electrical_devices",
                                                        "household_furniture",
                                                        "insects",
                                                        "large_carnivores",
                                                        "large_man-made_outdoor_things",
                                                        "large_natural_outdoor_scenes",
                                                        "large_omnivores_and_herbivores",
                                                        "medium_mammals",
                                                        "non-insect_invertebrates",
                                                        "people",
                                                        "reptiles",
                                                        "small_mammals",
                                                        "trees",
                                                        "vehicles_1",
                                                        "vehicles_2"};
  return fine ? fine_names : coarse_names;
}

}  // namespace qt
