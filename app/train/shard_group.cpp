#include "app/train/shard_group.h"

#include <algorithm>
#include <exception>
#include <string>
#include <thread>

#include "engine/core/error.h"
#include "engine/kernels/ordered_reduction.h"

namespace qt {

bool any_rank(Communicator& comm, bool mine) {
  const char m = mine ? 1 : 0;
  std::vector<char> all(static_cast<size_t>(comm.size()));
  comm.allgather(&m, 1, all.data());
  return std::any_of(all.begin(), all.end(), [](char c) { return c != 0; });
}

// One local shard's view of the group.
class ShardGroup::Member : public ShardSync {
 public:
  Member(ShardGroup& g, int i) : g_(g), i_(i) {}
  int shard() const override { return g_.first_ + i_; }
  int shards() const override { return g_.shards_; }
  void sum(std::span<double> v) override { g_.exchange(i_, v, false); }
  void max(std::span<float> v) override { g_.exchange(i_, v, true); }

 private:
  ShardGroup& g_;
  int i_;
};

ShardGroup::ShardGroup(int shards, Communicator& comm)
    : shards_(shards),
      local_(comm.size() > 0 && shards % comm.size() == 0 ? shards / comm.size() : 0),
      first_(comm.rank() * local_),
      comm_(comm),
      barrier_(std::max(local_, 1)) {
  if (local_ < 1)
    throw UsageError("--shards " + std::to_string(shards) + " cannot be shared by " +
                     std::to_string(comm.size()) +
                     " processes: the number of shards must be a multiple of the number of "
                     "processes (each holds the same number of shards)");
  for (int i = 0; i < local_; ++i) members_.push_back(std::make_unique<Member>(*this, i));
  dslots_.resize(static_cast<size_t>(local_));
  fslots_.resize(static_cast<size_t>(local_));
}

ShardGroup::~ShardGroup() = default;

void ShardGroup::run(const std::function<void(int, ShardSync&)>& fn) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(local_));
  for (int i = 1; i < local_; ++i)
    threads.emplace_back([&, i] {
      try {
        fn(i, *members_[i]);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  try {
    fn(0, *members_[0]);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Every local shard deposits v; the first gathers all shards' from all ranks; then each combines
// them in shard order. Three meetings: deposited, gathered, read (the buffers are reused).
template <class T>
void ShardGroup::exchange(int i, std::span<T> v, bool max) {
  auto& slots = [this]() -> std::vector<std::vector<T>>& {
    if constexpr (std::is_same_v<T, double>)
      return dslots_;
    else
      return fslots_;
  }();
  auto& all = [this]() -> std::vector<T>& {
    if constexpr (std::is_same_v<T, double>)
      return dall_;
    else
      return fall_;
  }();
  const size_t len = v.size();
  slots[i].assign(v.begin(), v.end());
  barrier_.arrive_and_wait();
  if (i == 0) {
    std::vector<T> mine(local_ * len);
    for (int j = 0; j < local_; ++j) std::copy(slots[j].begin(), slots[j].end(), &mine[j * len]);
    all.resize(static_cast<size_t>(shards_) * len);
    comm_.allgather(mine.data(), mine.size() * sizeof(T), all.data());
  }
  barrier_.arrive_and_wait();
  for (size_t e = 0; e < len; ++e) {
    T s = all[e];
    for (int k = 1; k < shards_; ++k)
      s = max ? std::max(s, all[k * len + e]) : s + all[k * len + e];
    v[e] = s;
  }
  barrier_.arrive_and_wait();
}

void ShardGroup::sum_over_shards(const float* local_parts, int64_t len, float* out) {
  std::vector<float> all(static_cast<size_t>(shards_ * len));
  comm_.allgather(local_parts, local_ * len * sizeof(float), all.data());
  sum_pieces(all.data(), shards_, len, len, out);
}

void ShardGroup::sum_over_shards(const double* local_parts, int64_t len, double* out) {
  std::vector<double> all(static_cast<size_t>(shards_ * len));
  comm_.allgather(local_parts, local_ * len * sizeof(double), all.data());
  for (int64_t e = 0; e < len; ++e) {
    double s = all[e];
    for (int k = 1; k < shards_; ++k) s += all[k * len + e];
    out[e] = s;
  }
}

}  // namespace qt
