#include "datasets/batch_stream.h"

#include <algorithm>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/core/random.h"

namespace qt {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(std::max<int64_t>(n, 0));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle) return order;
  Rng rng(derive(derive(seed, "epoch-order"), static_cast<uint64_t>(epoch)));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

BatchStream::BatchStream(const Dataset& data, std::vector<int64_t> order, int64_t batch_size,
                         bool drop_last, const Normalization& norm, const Augmentation& aug,
                         uint64_t key, int64_t start_batch, bool prefetch, const StreamPart& part)
    : data_(data),
      order_(std::move(order)),
      batch_size_(batch_size),
      part_(part),
      norm_(norm),
      aug_(aug),
      key_(key),
      prefetch_(prefetch) {
  if (batch_size < 1) throw std::invalid_argument("BatchStream: batch size must be ≥ 1");
  if (part.stride < 1 || part.phase < 0 || part.phase >= part.stride || part.parts < 1 ||
      part.lo < 0 || part.lo > part.hi || part.hi > part.parts)
    throw std::invalid_argument("BatchStream: batches ≡ " + std::to_string(part.phase) + " mod " +
                                std::to_string(part.stride) + ", rows " + std::to_string(part.lo) +
                                "…" + std::to_string(part.hi) + " of " +
                                std::to_string(part.parts) + " parts is no part of a batch");
  for (int64_t i : order_)
    if (i < 0 || i >= data.size())
      throw std::out_of_range("BatchStream: sample index " + std::to_string(i) +
                              " outside a dataset of " + std::to_string(data.size()));
  const int64_t n = static_cast<int64_t>(order_.size());
  batches_ = drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
  if (start_batch < 0 || start_batch > batches_)
    throw std::out_of_range("BatchStream: start batch " + std::to_string(start_batch) +
                            " outside [0, " + std::to_string(batches_) + "]");
  next_ = own_from(start_batch);
  if (prefetch_) launch(next_);
}

int64_t BatchStream::own_from(int64_t b) const {
  const int64_t r = ((b - part_.phase) % part_.stride + part_.stride) % part_.stride;
  return std::min(batches_, r == 0 ? b : b + part_.stride - r);
}

BatchStream::~BatchStream() {
  group_.wait();
}

void BatchStream::make(int64_t b, Batch& out) const {
  const int64_t begin = b * batch_size_;
  const int64_t n = std::min<int64_t>(begin + batch_size_, order_.size()) - begin;
  // The part's rows, cut as the shards cut the batch (also the epoch's last, shorter one).
  const int64_t r0 = part_.lo * n / part_.parts, r1 = part_.hi * n / part_.parts;
  make_batch(data_, std::span<const int64_t>(order_.data() + begin + r0, r1 - r0), norm_, aug_,
             derive(key_, static_cast<uint64_t>(b)), out, r0);
  out.total = n;
}

void BatchStream::launch(int64_t b) {
  if (b >= batches_) return;
  ahead_index_ = b;
  ahead_error_ = nullptr;
  // A TBB task rather than a thread: on a busy pool it shares the workers with the training
  // step instead of oversubscribing the cores, and wait() runs it inline if no worker took it.
  group_.run([this, b] {
    try {
      make(b, ahead_);
    } catch (...) {
      ahead_error_ = std::current_exception();
    }
  });
}

bool BatchStream::next(Batch& out) {
  if (next_ >= batches_) return false;
  if (ahead_index_ == next_) {
    group_.wait();
    ahead_index_ = -1;
    if (ahead_error_) std::rethrow_exception(ahead_error_);
    std::swap(out, ahead_);
  } else {
    make(next_, out);
  }
  prepared_ += out.x.dim(0);
  next_ = own_from(next_ + 1);
  if (prefetch_) launch(next_);
  return true;
}

}  // namespace qt
