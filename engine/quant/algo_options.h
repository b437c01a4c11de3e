#pragma once
// Every option of every training algorithm, with the papers' defaults (ALGORITHMS.md §2).
#include <string>

namespace qt {

struct AlgoOptions {
  std::string name = "float";  // float | binaryconnect | bwn | ste | binaryrelax | bcgd | iterative | proxybnn
};

}  // namespace qt
