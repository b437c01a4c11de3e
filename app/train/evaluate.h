#pragma once
// Evaluation: loss, accuracy and the confusion matrix of a model on a dataset, with the weights
// the algorithm evaluates (Q(w) in BinaryRelax's phase II, u in its phase I, ...).
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "app/train/communicator.h"
#include "datasets/dataset.h"
#include "engine/models/model.h"
#include "engine/quant/algorithm.h"

namespace qt {

struct EvalResult {
  double loss = 0;
  double accuracy = 0;
  int64_t samples = 0;
  std::vector<int64_t> confusion;  // classes × classes, row = true label, column = prediction
  int classes = 0;
  // Image files that did not decode (each replaced by the next good one) or decoded with a
  // warning, in batch order.
  std::vector<ImageProblem> problems;
  int64_t skipped() const;
  std::vector<double> per_class_accuracy() const;
};

// Image problems as bytes, for gathering them from the ranks that made the batches (each rank
// makes only its own batches, or its rows of each): encode appends `problems`, each tagged with
// `place` (its batch), to `out`; decode reads them back in the same order.
void encode_problems(const std::vector<ImageProblem>& problems, int64_t place, std::string& out);
std::vector<std::pair<int64_t, ImageProblem>> decode_problems(const std::string& bytes);

// `logits`, when given, receives every sample's logits (N × classes, in the dataset's order);
// under several ranks only those of this rank's batches. Each rank makes only the batches it
// evaluates; the problems are gathered, so every rank returns all of them.
EvalResult evaluate(Model& model, Algorithm& algo, const Dataset& data, const Normalization& norm,
                    int64_t batch_size, Communicator* comm = nullptr, Tensor* logits = nullptr);
// The same for any function from a batch of images to its logits (the packed engine's).
using LogitsFn = std::function<const Tensor&(const Tensor& x)>;
EvalResult evaluate(const LogitsFn& logits, const Dataset& data, const Normalization& norm,
                    int64_t batch_size, Communicator* comm = nullptr, Tensor* logits_out = nullptr);

}  // namespace qt
