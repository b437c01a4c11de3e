#include "app/train/evaluate.h"

#include <algorithm>
#include <cstring>
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

void encode_problems(const std::vector<ImageProblem>& problems, int64_t place, std::string& out) {
  auto put = [&out](const void* p, size_t n) { out.append(static_cast<const char*>(p), n); };
  for (const ImageProblem& p : problems) {
    const int64_t len = static_cast<int64_t>(p.message.size());
    const char skipped = p.skipped ? 1 : 0;
    put(&place, sizeof place);
    put(&skipped, 1);
    put(&len, sizeof len);
    put(p.message.data(), p.message.size());
  }
}

std::vector<std::pair<int64_t, ImageProblem>> decode_problems(const std::string& bytes) {
  std::vector<std::pair<int64_t, ImageProblem>> out;
  size_t at = 0;
  auto get = [&](void* p, size_t n) {
    if (n > bytes.size() - at) throw std::logic_error("decode_problems: truncated bytes");
    std::memcpy(p, bytes.data() + at, n);
    at += n;
  };
  while (at < bytes.size()) {
    int64_t place = 0, len = 0;
    char skipped = 0;
    get(&place, sizeof place);
    get(&skipped, 1);
    get(&len, sizeof len);
    if (len < 0) throw std::logic_error("decode_problems: a negative length");
    std::string message(static_cast<size_t>(len), '\0');
    get(message.data(), message.size());
    out.push_back({place, ImageProblem{std::move(message), skipped != 0}});
  }
  return out;
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
  // This rank makes only the batches it evaluates: b mod ranks = rank.
  StreamPart part{ranks, rank};
  BatchStream stream(data, order, batch_size, false, norm, Augmentation{}, 0, 0, true, part);
  Batch batch;
  // Per batch Σ loss, then the hits, then the confusion matrix, then the length of this rank's
  // problems: this rank fills the batches it evaluates; the ranks' tables are added, each batch
  // from one rank only, so the sum over batches below is in batch order for any number of ranks.
  const int64_t batches = stream.batches(), cells = static_cast<int64_t>(r.confusion.size());
  std::vector<double> part_sums(static_cast<size_t>(batches + 1 + cells + 1), 0.0);
  std::string problems;  // this rank's, tagged with their batch, when there are other ranks
  for (;;) {
    const int64_t b = stream.position();
    if (!stream.next(batch)) break;
    if (ranks > 1)
      encode_problems(batch.problems, b, problems);
    else
      r.problems.insert(r.problems.end(), batch.problems.begin(), batch.problems.end());
    const Tensor& logits = forward(batch.x);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, nullptr, &c);
    part_sums[b] = static_cast<double>(loss) * batch.x.dim(0);
    part_sums[batches] += static_cast<double>(c);
    const int64_t k = logits.dim(1);
    if (logits_out) {
      if (k != data.classes)
        throw std::logic_error("evaluate: the model gives " + std::to_string(k) +
                               " logits, the data has " + std::to_string(data.classes) +
                               " classes");
      std::copy(logits.data(), logits.data() + logits.size(),
                logits_out->data() + b * batch_size * k);
    }
    for (int64_t i = 0; i < logits.dim(0); ++i) {
      const float* row = logits.data() + i * k;
      int64_t best = 0;
      for (int64_t j = 1; j < k; ++j)
        if (row[j] > row[best]) best = j;
      part_sums[batches + 1 + batch.y[i] * data.classes + best] += 1.0;
    }
  }
  part_sums.back() = static_cast<double>(problems.size());
  std::vector<double> sum = part_sums;
  if (ranks > 1) {
    const size_t len = part_sums.size();
    std::vector<double> all(len * ranks);
    comm->allgather(part_sums.data(), len * sizeof(double), all.data());
    for (size_t e = 0; e < len; ++e) {
      sum[e] = all[e];
      for (int q = 1; q < ranks; ++q) sum[e] += all[q * len + e];
    }
    // The problems in batch order: each batch's come from one rank, in its sample order.
    std::vector<int64_t> lengths(static_cast<size_t>(ranks));
    for (int q = 0; q < ranks; ++q) lengths[q] = static_cast<int64_t>(all[q * len + len - 1]);
    std::vector<std::pair<int64_t, ImageProblem>> placed;
    for (const std::string& bytes : allgather_strings(*comm, problems, &lengths))
      for (auto& p : decode_problems(bytes)) placed.push_back(std::move(p));
    std::stable_sort(placed.begin(), placed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& p : placed) r.problems.push_back(std::move(p.second));
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
