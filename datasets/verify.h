#pragma once
// `qtrain datasets verify`: reads every file of a dataset with all the readers' checks (sizes,
// headers, label ranges), compares the sample counts with the publisher's, and the SHA-256 of
// each file's content with the official value where one is known.
#include <string>
#include <vector>

#include "datasets/catalog.h"

namespace qt {

struct VerifyReport {
  std::string dir;                 // where the dataset was found; "" when not found
  std::vector<std::string> lines;  // one per check, starting with "ok" or "FAILED"
  int problems = 0;
};

VerifyReport verify_dataset(const CatalogEntry& e, const std::string& data_dir);

// SHA-256 of a file's content, decompressed when it is gzip (so a recompressed copy of the
// official data, such as Debian's, verifies too).
std::string content_sha256(const std::string& path);

}  // namespace qt
