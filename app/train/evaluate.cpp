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

EvalResult evaluate(Model& model, Algorithm& algo, const Dataset& data, const Normalization& norm,
                    int64_t batch_size, Tensor* logits_out) {
  EvalResult r;
  r.classes = data.classes;
  r.confusion.assign(static_cast<size_t>(data.classes) * data.classes, 0);
  if (logits_out) logits_out->resize({data.size(), data.classes});
  if (data.size() == 0) return r;
  algo.begin_eval();
  std::vector<int64_t> order(data.size());
  for (int64_t i = 0; i < data.size(); ++i) order[i] = i;
  BatchStream stream(data, order, batch_size, false, norm, Augmentation{}, 0);
  Batch batch;
  Context ctx;
  ctx.training = false;
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t stream_pos = 0;  // samples so far
  while (stream.next(batch)) {
    const Tensor& logits = model.forward(batch.x, ctx);
    int64_t c = 0;
    float loss = softmax_cross_entropy(logits, batch.y, nullptr, &c);
    loss_sum += static_cast<double>(loss) * batch.x.dim(0);
    correct += c;
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
      r.confusion[batch.y[i] * data.classes + best]++;
    }
  }
  algo.end_eval();
  r.samples = data.size();
  r.loss = loss_sum / r.samples;
  r.accuracy = static_cast<double>(correct) / r.samples;
  return r;
}

}  // namespace qt
