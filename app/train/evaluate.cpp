#include "app/train/evaluate.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "datasets/batch_stream.h"
#include "engine/layers/cross_entropy.h"

namespace qt {

std::vector<double> EvalResult::per_class_accuracy() const {
  std::vector<double> acc(classes, 0.0);
  for (int c = 0; c < classes; ++c) {
    int64_t row = 0;
    for (int p = 0; p < classes; ++p) row += confusion[c * classes + p];
    acc[c] = row ? static_cast<double>(confusion[c * classes + c]) / row : 0.0;
  }
  return acc;
}

int64_t EvalResult::skipped() const {
  int64_t n = 0;
  for (const ImageProblem& p : problems) n += p.skipped;
  return n;
}

EvalResult evaluate(Model& model, Algorithm& algo, const Dataset& data, const Normalization& norm,
                    int64_t batch_size, Communicator* comm, Tensor* logits_out) {
  Context ctx;
  ctx.training = false;
  algo.begin_eval();
  EvalResult r = evaluate([&](const Tensor& x) -> const Tensor& { return model.forward(x, ctx); },
                          data, norm, batch_size, comm, logits_out);
  algo.end_eval();
  return r;
}

EvalResult evaluate(const LogitsFn& forward, const Dataset& data, const Normalization& norm,
                    int64_t batch_size, Communicator* comm, Tensor* logits_out) {
  EvalResult r;
  r.classes = data.classes;
  r.confusion.assign(static_cast<size_t>(data.classes) * data.classes, 0);
  if (logits_out) logits_out->resize({data.size(), data.classes});
  if (data.size() == 0) return r;
  const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  std::vector<int64_t> order(data.size());
  for (int64_t i = 0; i < data.size(); ++i) order[i] = i;
  BatchStream stream(data, order, batch_size, false, norm, Augmentation{}, 0);
  Batch batch;
  // Per batch Σ loss, then the hits, then the confusion matrix: this rank fills the batches it
  // evaluates (b mod ranks = rank); the ranks' tables are added, each batch from one rank only,
  // so the sum over batches below is in batch order for any number of ranks.
  const int64_t batches = stream.batches(), cells = static_cast<int64_t>(r.confusion.size());
  int64_t stream_pos = 0;  // samples before this batch
  std::vector<double> part(static_cast<size_t>(batches + 1 + cells), 0.0);
  for (int64_t b = 0; stream.next(batch); ++b) {
    // Every rank makes every batch: each records the same problems.
    r.problems.insert(r.problems.end(), batch.problems.begin(), batch.problems.end());
    if (b % ranks != rank) {
      stream_pos += batch.x.dim(0);
      continue;
    }
    const Tensor& logits = forward(batch.x);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, nullptr, &c);
    part[b] = static_cast<double>(loss) * batch.x.dim(0);
    part[batches] += static_cast<double>(c);
    const int64_t k = logits.dim(1);
    if (logits_out) {
      if (k != data.classes)
        throw std::logic_error("evaluate: the model gives " + std::to_string(k) +
                               " logits, the data has " + std::to_string(data.classes) +
                               " classes");
      std::copy(logits.data(), logits.data() + logits.size(), logits_out->data() + stream_pos * k);
    }
    stream_pos += logits.dim(0);
    for (int64_t i = 0; i < logits.dim(0); ++i) {
      const float* row = logits.data() + i * k;
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j)
        if (row[j] > row[best]) best = j;
      part[batches + 1 + batch.y[i] * data.classes + best] += 1.0;
    }
  }
  std::vector<double> sum = part;
  if (ranks > 1) {
    std::vector<double> all(part.size() * ranks);
    comm->allgather(part.data(), part.size() * sizeof(double), all.data());
    for (size_t e = 0; e < part.size(); ++e) {
      sum[e] = all[e];
      for (int q = 1; q < ranks; ++q) sum[e] += all[q * part.size() + e];
    }
  }
  double loss_sum = 0;
  for (int64_t b = 0; b < batches; ++b) loss_sum += sum[b];
  for (int64_t e = 0; e < cells; ++e) r.confusion[e] = static_cast<int64_t>(sum[batches + 1 + e]);
  r.samples = data.size();
  r.loss = loss_sum / r.samples;
  r.accuracy = sum[batches] / r.samples;
  return r;
}

}  // namespace qt
