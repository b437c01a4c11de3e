#pragma once
// The processes (ranks) of one training, as the trainer sees them. `mpirun -n N qtrain train`
// gives N of them (app/run/mpi_world.h); a plain `qtrain train` is one. The trainer only ever
// gathers: every rank receives every rank's bytes and adds them itself in a fixed order, so no
// result depends on the order in which the transport (MPI) would have added them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace qt {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank gives `bytes` bytes; `all` receives size()·bytes, rank r's at offset r·bytes.
  // Collective: every rank calls it at the same point with the same `bytes`.
  virtual void allgather(const void* mine, size_t bytes, void* all) = 0;
  // Rank r sends send[q·bytes, (q + 1)·bytes) to rank q and receives rank q's block for it at
  // recv[q·bytes, ...). Collective, like allgather.
  virtual void alltoall(const void* send, size_t bytes, void* recv) = 0;
  // Bytes this rank has received from others so far (what the network carried to it).
  int64_t bytes_received() const { return received_; }
  // Seconds spent in gathers so far (sending, receiving, and waiting for the slowest rank).
  double seconds() const { return seconds_; }

 protected:
  int64_t received_ = 0;
  double seconds_ = 0;
};

// One process: the gather is a copy.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allgather(const void* mine, size_t bytes, void* all) override {
    if (bytes) std::memcpy(all, mine, bytes);
  }
  void alltoall(const void* send, size_t bytes, void* recv) override {
    if (bytes) std::memcpy(recv, send, bytes);
  }
};

// True on every rank when it is true on any (a collective).
bool any_rank(Communicator& comm, bool mine);

// Every rank's bytes, in rank order, on every rank (a collective): a gather of the lengths, then,
// unless all are empty, one of the strings padded to the longest. `lengths`, when the caller
// has gathered them already (each rank's mine.size(), in rank order), saves the first gather.
std::vector<std::string> allgather_strings(Communicator& comm, const std::string& mine,
                                           const std::vector<int64_t>* lengths = nullptr);

}  // namespace qt
