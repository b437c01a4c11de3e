#pragma once
// One epoch of batches, each prepared while the caller works on the previous one. A batch's
// content depends only on (order, batch index, key): never on timing or thread count.
#include <tbb/task_group.h>

#include <cstdint>
#include <exception>
#include <vector>

#include "datasets/dataset.h"

namespace qt {

// The sample order of an epoch: 0..n−1, shuffled when `shuffle` by a Fisher–Yates shuffle
// driven by qt::Rng keyed by (seed, epoch), so it is the same on every platform.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

class BatchStream {
 public:
  // Batch b holds order[b·batch_size, (b+1)·batch_size); the last one is shorter unless
  // drop_last. Its augmentation is keyed by derive(key, b). start_batch resumes mid-epoch.
  // prefetch = false prepares each batch inside next() (for measuring what overlap gains).
  BatchStream(const Dataset& data, std::vector<int64_t> order, int64_t batch_size, bool drop_last,
              const Normalization& norm, const Augmentation& aug, uint64_t key,
              int64_t start_batch = 0, bool prefetch = true);
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  int64_t batches() const { return batches_; }
  int64_t position() const { return next_; }  // the index of the batch next() returns
  // Fills `out` with the next batch; false at the end of the epoch. `out`'s previous content
  // is recycled as the buffer of a later batch.
  bool next(Batch& out);

 private:
  void make(int64_t b, Batch& out) const;
  void launch(int64_t b);

  const Dataset& data_;
  std::vector<int64_t> order_;
  int64_t batch_size_, batches_, next_;
  Normalization norm_;
  Augmentation aug_;
  uint64_t key_;
  bool prefetch_;
  Batch ahead_;               // the batch being prepared
  int64_t ahead_index_ = -1;  // its index, or −1 when none is under way
  std::exception_ptr ahead_error_;
  tbb::task_group group_;
};

}  // namespace qt
