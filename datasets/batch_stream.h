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

// The part of an epoch a stream prepares (all of it by default): the batches b with
// b mod stride = phase, and of each batch of n rows only the rows ⌊lo·n/parts⌋ … ⌊hi·n/parts⌋
// (e.g. shards lo … hi of `parts` equal shards). Each row is made exactly as in the whole batch.
struct StreamPart {
  int64_t stride = 1, phase = 0;
  int64_t lo = 0, hi = 1, parts = 1;
};

class BatchStream {
 public:
  // Batch b holds order[b·batch_size, (b+1)·batch_size); the last one is shorter unless
  // drop_last. Its augmentation is keyed by derive(key, b). start_batch resumes mid-epoch.
  // prefetch = false prepares each batch inside next() (for measuring what overlap gains).
  // `part` limits the stream to some batches and some rows of each (Batch::first, total).
  BatchStream(const Dataset& data, std::vector<int64_t> order, int64_t batch_size, bool drop_last,
              const Normalization& norm, const Augmentation& aug, uint64_t key,
              int64_t start_batch = 0, bool prefetch = true, const StreamPart& part = {});
  ~BatchStream();
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  int64_t batches() const { return batches_; }  // of the whole epoch, the part's or not
  // The index of the batch next() returns (batches() at the end).
  int64_t position() const { return next_; }
  // Fills `out` with the next batch of the part; false at the end of the epoch. `out`'s previous
  // content is recycled as the buffer of a later batch.
  bool next(Batch& out);
  // Samples prepared so far (rows of the part's batches): what this stream cost in reading.
  int64_t prepared() const { return prepared_; }

 private:
  void make(int64_t b, Batch& out) const;
  void launch(int64_t b);
  int64_t own_from(int64_t b) const;  // the part's first batch ≥ b, or batches_

  const Dataset& data_;
  std::vector<int64_t> order_;
  int64_t batch_size_, batches_, next_;
  StreamPart part_;
  int64_t prepared_ = 0;
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
