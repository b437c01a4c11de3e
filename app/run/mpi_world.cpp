#include "app/run/mpi_world.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if QTRAIN_MPI
#include <mpi.h>
#endif

namespace qt {

namespace {

std::string seconds_text(double s) {
  char t[32];
  std::snprintf(t, sizeof t, "%g", s);
  return t;
}

#if !QTRAIN_MPI
// The number of processes a launcher says it started (OpenMPI's mpirun, or srun/mpirun through
// PMI or PMIx), 0 when none did.
int launched_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

// This process's rank among them (0 when no launcher says).
int launched_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}
#endif

bool under_launcher() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

#if QTRAIN_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(text, len));
}

// Every collective is made of point-to-point messages that this rank waits for itself, so that a
// peer which died or hangs without the launcher ending the job (srun, another MPI, a stopped
// process) is named after `timeout` seconds instead of leaving this rank blocked forever. The
// transport's own collectives (MPI_Allgather) would block without a bound and without a culprit.
class MpiWorld : public Communicator {
 public:
  explicit MpiWorld(double timeout) : timeout_(timeout) {
    int provided = 0;
    // Only the main thread calls MPI (the shard threads meet it through ShardGroup).
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiWorld() override { MPI_Finalize(); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allgather(const void* mine, size_t bytes, void* all) override {
    exchange(
        bytes, "a gather", [&](int) { return static_cast<const char*>(mine); },
        static_cast<char*>(all));
  }
  void alltoall(const void* send, size_t bytes, void* recv) override {
    exchange(
        bytes, "an exchange",
        [&](int q) { return static_cast<const char*>(send) + static_cast<size_t>(q) * bytes; },
        static_cast<char*>(recv));
  }

 private:
  // Sends block(q) to every rank q and receives rank q's block at recv[q·bytes, (q + 1)·bytes).
  template <class Block>
  void exchange(size_t bytes, const char* what, Block block, char* recv) {
    if (bytes > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw std::runtime_error(std::string(what) + " of " + std::to_string(bytes) +
                               " bytes per process exceeds MPI's int count: use more processes");
    const double t0 = MPI_Wtime();
    const int n = static_cast<int>(bytes);
    std::memcpy(recv + static_cast<size_t>(rank_) * bytes, block(rank_), bytes);
    // Receives first (each peer's slot), then sends; one tag: MPI keeps the order of messages
    // between two ranks, and every rank runs the collectives in the same order.
    std::vector<MPI_Request> req(2 * static_cast<size_t>(size_), MPI_REQUEST_NULL);
    for (int q = 0; q < size_; ++q)
      if (q != rank_)
        check(MPI_Irecv(recv + static_cast<size_t>(q) * bytes, n, MPI_BYTE, q, 0, MPI_COMM_WORLD,
                        &req[q]),
              "MPI_Irecv");
    for (int q = 0; q < size_; ++q)
      if (q != rank_)
        check(MPI_Isend(block(q), n, MPI_BYTE, q, 0, MPI_COMM_WORLD, &req[size_ + q]), "MPI_Isend");
    for (;;) {
      int done = 0;
      check(MPI_Testall(static_cast<int>(req.size()), req.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
      if (done) break;
      // The requests still pending are left to MPI_Abort, which the caller reaches next
      // (app/cli/cmd_train.cpp): no MPI call in between can complete them.
      if (MPI_Wtime() - t0 > timeout_)
        if (const int silent = silent_peer(req); silent >= 0) throw PeerLost(silent, timeout_);
      std::this_thread::yield();  // oversubscribed ranks share cores: let the others run
    }
    received_ += static_cast<int64_t>(bytes) * (size_ - 1);
    seconds_ += MPI_Wtime() - t0;
  }

  // The first rank whose message has not arrived, else the first that has not taken ours; -1
  // when all have just completed.
  int silent_peer(std::vector<MPI_Request>& req) const {
    for (size_t i = 0; i < req.size(); ++i) {
      int done = 1;
      if (req[i] != MPI_REQUEST_NULL) MPI_Test(&req[i], &done, MPI_STATUS_IGNORE);
      if (!done) return static_cast<int>(i % static_cast<size_t>(size_));
    }
    return -1;
  }

  int rank_ = 0, size_ = 1;
  double timeout_;
};
#endif

}  // namespace

bool mpi_built() {
  return QTRAIN_MPI != 0;
}

PeerLost::PeerLost(int rank, double seconds)
    : std::runtime_error("rank " + std::to_string(rank) + " did not answer within " +
                         seconds_text(seconds) +
                         " s (it died, hangs or cannot be reached): every rank ends; --resume "
                         "continues from the last checkpoint, and --mpi-timeout sets this bound"),
      rank(rank) {}

std::unique_ptr<Communicator> launch_world(double timeout) {
#if QTRAIN_MPI
  if (under_launcher()) return std::make_unique<MpiWorld>(timeout);
#else
  if (launched_size() > 1 && under_launcher()) {
    // Every process finds this alike: the first says it, the others leave with the same code.
    if (launched_rank() != 0) throw UsageError("");
    throw UsageError("started as " + std::to_string(launched_size()) +
                     " processes (mpirun or srun), but this qtrain was built without MPI: install "
                     "OpenMPI (tools/setup --mpi) and rebuild (cmake -DQTRAIN_ENABLE_MPI=ON, the "
                     "default, then says \"qtrain: MPI enabled\"), then run mpirun -n N qtrain "
                     "train …");
  }
#endif
  (void)timeout;
  return std::make_unique<SingleProcess>();
}

void abort_world(Communicator& world, int code) {
#if QTRAIN_MPI
  if (world.size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  (void)world;
  std::_Exit(code);
}

}  // namespace qt
