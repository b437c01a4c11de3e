#include "datasets/verify.h"

#include "datasets/byte_reader.h"
#include "datasets/locate.h"
#include "datasets/registry.h"
#include "datasets/sha256.h"
#include "engine/core/error.h"

namespace qt {

std::string content_sha256(const std::string& path) {
  ByteReader in(path, "a dataset file");
  Sha256 h;
  std::vector<uint8_t> buf(size_t{1} << 20);
  for (;;) {
    const size_t got = in.read_some(buf.data(), buf.size());
    h.update(buf.data(), got);
    if (got < buf.size()) break;
  }
  return h.hex();
}

VerifyReport verify_dataset(const CatalogEntry& e, const std::string& data_dir) {
  VerifyReport r;
  auto ok = [&](const std::string& s) { r.lines.push_back("ok      " + s); };
  auto bad = [&](const std::string& s) {
    r.lines.push_back("FAILED  " + s);
    ++r.problems;
  };
  if (e.format == DataFormat::synthetic) {
    ok("built in, nothing to verify");
    return r;
  }
  r.dir = locate_dataset(e, data_dir);
  // The readers check sizes, headers and label ranges; CIFAR-100 holds two label sets.
  std::vector<std::string> label_sets = {"fine"};
  if (e.format == DataFormat::cifar100) label_sets.push_back("coarse");
  for (const std::string& labels : label_sets) {
    DataRequest req;
    req.name = e.name;
    req.data_dir = r.dir;
    req.cifar100_labels = labels;
    const std::string which = label_sets.size() > 1 ? " (" + labels + " labels)" : "";
    try {
      const RawData raw = load_raw(req);
      const std::string shape = shape_str(raw.train.sample_shape());
      ok("headers, sizes and label ranges" + which + ": train " + std::to_string(raw.train.size()) +
         ", test " + std::to_string(raw.test.size()) + " images of " + shape + ", " +
         std::to_string(raw.train.classes) + " classes");
      const int64_t counts[2] = {raw.train.size(), raw.test.size()};
      const int64_t expected[2] = {e.train_count, e.test_count};
      const char* names[2] = {"train", "test"};
      for (int s = 0; s < 2; ++s) {
        if (expected[s] == 0) continue;
        const std::string msg = std::string(names[s]) + " count: expected " +
                                std::to_string(expected[s]) + ", found " +
                                std::to_string(counts[s]);
        if (counts[s] == expected[s])
          ok(msg);
        else
          bad(msg);
      }
    } catch (const DataError& err) {
      bad(err.what());
    }
  }
  for (const auto* files : {&e.train_files, &e.test_files})
    for (const DataFile& f : *files) {
      const std::string path = file_in(r.dir, f.name);
      if (f.sha256.empty()) {
        r.lines.push_back("--      " + path + ": no official SHA-256 known, not checked");
        continue;
      }
      try {
        const std::string found = content_sha256(path);
        const std::string msg =
            path + ": SHA-256 of the content: expected " + f.sha256 + ", found " + found;
        if (found == f.sha256)
          ok(path + ": SHA-256 of the content matches the official value");
        else
          bad(msg);
      } catch (const DataError& err) {
        bad(err.what());
      }
    }
  return r;
}

}  // namespace qt
