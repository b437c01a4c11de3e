#pragma once
// Data-parallel training splits each global batch into a fixed number of shards (groups of
// consecutive samples), each run through its own copy of the network. The few quantities of a
// layer that span the whole batch (BatchNorm's statistics, an activation quantizer's calibration
// and α gradient) are combined over the shards through this interface, which a layer finds in its
// forward Context. The implementation (app/train/shard_group.h) sums in shard order, so the
// result depends on the number of shards only, never on how many processes or threads hold them.
#include <span>

namespace qt {

class ShardSync {
 public:
  virtual ~ShardSync() = default;
  virtual int shard() const = 0;   // this shard's index in the global batch
  virtual int shards() const = 0;  // the number of shards
  // v ← Σ over the shards of every shard's v, element-wise, in shard order (all shards call it
  // at the same point with the same length).
  virtual void sum(std::span<double> v) = 0;
  // v ← the element-wise maximum over the shards.
  virtual void max(std::span<float> v) = 0;
};

}  // namespace qt
