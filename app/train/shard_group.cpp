#include "app/train/shard_group.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
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

std::vector<std::string> allgather_strings(Communicator& comm, const std::string& mine,
                                           const std::vector<int64_t>* lengths) {
  const size_t n = static_cast<size_t>(comm.size());
  std::vector<int64_t> len(n);
  if (lengths) {
    len = *lengths;
  } else {
    const int64_t m = static_cast<int64_t>(mine.size());
    comm.allgather(&m, sizeof m, len.data());
  }
  if (len.size() != n || len[static_cast<size_t>(comm.rank())] != static_cast<int64_t>(mine.size()))
    throw std::logic_error("allgather_strings: the lengths do not match the strings");
  const size_t longest = static_cast<size_t>(*std::max_element(len.begin(), len.end()));
  std::vector<std::string> out(n);
  if (longest == 0) return out;
  std::string padded = mine;
  padded.resize(longest);
  std::string all(n * longest, '\0');
  comm.allgather(padded.data(), longest, all.data());
  for (size_t q = 0; q < n; ++q) out[q] = all.substr(q * longest, static_cast<size_t>(len[q]));
  return out;
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
    // A failed gather (a peer lost) still meets the others at the barrier, then every local
    // shard leaves: otherwise they would wait for shard 0 forever.
    try {
      std::vector<T> mine(local_ * len);
      for (int j = 0; j < local_; ++j) std::copy(slots[j].begin(), slots[j].end(), &mine[j * len]);
      all.resize(static_cast<size_t>(shards_) * len);
      comm_.allgather(mine.data(), mine.size() * sizeof(T), all.data());
    } catch (...) {
      failed_ = std::current_exception();
    }
  }
  barrier_.arrive_and_wait();
  if (failed_) {
    if (i == 0) std::rethrow_exception(failed_);
    throw std::runtime_error("shard 0's exchange failed");  // run() reports shard 0's error
  }
  for (size_t e = 0; e < len; ++e) {
    T s = all[e];
    for (int k = 1; k < shards_; ++k)
      s = max ? std::max(s, all[k * len + e]) : s + all[k * len + e];
    v[e] = s;
  }
  barrier_.arrive_and_wait();
}

// A reduce-scatter and an allgather, each element still added in shard order: rank q owns the
// elements [q·L, (q + 1)·L), L = ⌈len/N⌉; every rank sends each owner its shards' values there
// (alltoall), the owner adds the S values of each element from shard 0 on, and the sums are
// gathered back. Each rank receives (k + 1)·(N − 1)·L values: for k = 1 the 2(N − 1)/N of the
// gradient that a ring allreduce moves, and yet the sum is the one-process sum, bit for bit.
void ShardGroup::sum_over_shards(const float* local_parts, int64_t len, float* out) {
  const int64_t n = comm_.size(), slice = (len + n - 1) / n, k = local_;
  // send[q][i] = local shard i's values in rank q's slice (zero-padded past len)
  std::vector<float> send(static_cast<size_t>(n * k * slice), 0.0f);
  for (int64_t q = 0; q < n; ++q)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t b = std::min(len, q * slice), e = std::min(len, (q + 1) * slice);
      std::copy(local_parts + i * len + b, local_parts + i * len + e,
                send.data() + (q * k + i) * slice);
    }
  // recv[p][i]: rank p's shard i, i.e. global shard p·k + i: the blocks are in shard order.
  std::vector<float> recv(send.size());
  comm_.alltoall(send.data(), k * slice * sizeof(float), recv.data());
  std::vector<float> mine(static_cast<size_t>(slice));
  sum_pieces(recv.data(), shards_, slice, slice, mine.data());
  std::vector<float> all(static_cast<size_t>(n * slice));
  comm_.allgather(mine.data(), slice * sizeof(float), all.data());
  std::copy(all.data(), all.data() + len, out);
}

}  // namespace qt
