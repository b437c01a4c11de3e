#pragma once
// The shards of a global batch that this rank holds, run side by side. The global batch is cut
// into `shards` groups of consecutive samples; rank r of N holds shards [r·k, (r + 1)·k),
// k = shards/N, each on its own copy of the network and (beyond the first) its own thread. Every
// batch-wide quantity, the gradients included, is gathered from all shards and added in shard
// order, so the results depend on the number of shards and never on N or the thread count.
#include <barrier>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "app/train/communicator.h"
#include "engine/core/shard_sync.h"

namespace qt {

class ShardGroup {
 public:
  // Throws UsageError when the ranks cannot share the shards evenly.
  ShardGroup(int shards, Communicator& comm);
  ~ShardGroup();

  int shards() const { return shards_; }
  int local() const { return local_; }  // shards held here
  int first() const { return first_; }  // global index of the first one

  // fn(i, sync) for each local shard i in [0, local()), concurrently (shard 0 on the calling
  // thread: the one that talks to MPI), meeting in sync's sum and max.
  void run(const std::function<void(int, ShardSync&)>& fn);

  // out[e] = Σ_s part_s[e] over all shards in shard order, where this rank's local shards give
  // local_parts[i·len, (i + 1)·len). Called from one thread, outside run(). Sent as a
  // reduce-scatter and an allgather (each rank receives about 2(N − 1)/N of len when it holds
  // one shard), never as MPI's own reduction, whose order MPI chooses.
  void sum_over_shards(const float* local_parts, int64_t len, float* out);

  Communicator& comm() { return comm_; }

 private:
  class Member;
  template <class T>
  void exchange(int i, std::span<T> v, bool max);

  int shards_, local_, first_;
  Communicator& comm_;
  std::barrier<> barrier_;
  std::vector<std::unique_ptr<Member>> members_;
  std::vector<std::vector<double>> dslots_;
  std::vector<std::vector<float>> fslots_;
  std::vector<double> dall_;
  std::vector<float> fall_;
  std::exception_ptr failed_;  // set by shard 0 when its gather threw
};

}  // namespace qt
