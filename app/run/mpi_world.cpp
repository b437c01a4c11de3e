#include "app/run/mpi_world.h"

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#if QTRAIN_MPI
#include <mpi.h>
#endif

namespace qt {

namespace {

#if !QTRAIN_MPI
// The number of processes a launcher says it started (OpenMPI's mpirun, or srun/mpirun through
// PMI or PMIx), 0 when none did.
int launched_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"})
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

class MpiWorld : public Communicator {
 public:
  MpiWorld() {
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
    if (bytes > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw std::runtime_error("a gather of " + std::to_string(bytes) +
                               " bytes per process exceeds MPI's int count: use more processes");
    const double t0 = MPI_Wtime();
    check(MPI_Allgather(mine, static_cast<int>(bytes), MPI_BYTE, all, static_cast<int>(bytes),
                        MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgather");
    received_ += static_cast<int64_t>(bytes) * (size_ - 1);
    seconds_ += MPI_Wtime() - t0;
  }
  void alltoall(const void* send, size_t bytes, void* recv) override {
    if (bytes > static_cast<size_t>(std::numeric_limits<int>::max()))
      throw std::runtime_error("an exchange of " + std::to_string(bytes) +
                               " bytes per process pair exceeds MPI's int count");
    const double t0 = MPI_Wtime();
    check(MPI_Alltoall(send, static_cast<int>(bytes), MPI_BYTE, recv, static_cast<int>(bytes),
                       MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Alltoall");
    received_ += static_cast<int64_t>(bytes) * (size_ - 1);
    seconds_ += MPI_Wtime() - t0;
  }

 private:
  int rank_ = 0, size_ = 1;
};
#endif

}  // namespace

bool mpi_built() {
  return QTRAIN_MPI != 0;
}

std::unique_ptr<Communicator> launch_world() {
#if QTRAIN_MPI
  if (under_launcher()) return std::make_unique<MpiWorld>();
#else
  if (launched_size() > 1 && under_launcher())
    throw UsageError("started as " + std::to_string(launched_size()) +
                     " processes (mpirun or srun), but this qtrain was built without MPI: install "
                     "OpenMPI (tools/setup --mpi), build again (cmake says \"qtrain: MPI "
                     "enabled\"), then run mpirun -n N qtrain train …");
#endif
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
