#pragma once
// The processes of one `qtrain train` started by mpirun or srun: MPI is initialised only when a
// launcher started this process, so a plain `qtrain train` never needs MPI. A qtrain built
// without MPI (OpenMPI's libopenmpi-dev absent at build time) refuses to run under a launcher
// that started more than one process, instead of training N copies side by side.
#include <memory>
#include <stdexcept>
#include <string>

#include "app/train/communicator.h"
#include "engine/core/error.h"

namespace qt {

// Whether this qtrain was built with MPI.
bool mpi_built();

// The world: MPI's when a launcher started this process, else a SingleProcess. Throws
// UsageError when launched as several processes by a qtrain built without MPI. A collective
// that waits more than `timeout` seconds for a peer throws PeerLost.
std::unique_ptr<Communicator> launch_world(double timeout = 300);

// A rank that did not take part in a collective within the timeout: dead, stopped, or cut off.
struct PeerLost : std::runtime_error {
  PeerLost(int rank, double seconds);
  int rank;
};

// Ends every process of the world at once (MPI_Abort) with `code`: for an error that only this
// process found, while the others may be waiting for it in a collective.
[[noreturn]] void abort_world(Communicator& world, int code);

// An error every rank finds alike (a launch check): rank 0 reports it, the others exit with the
// same code in silence, so the user reads one message.
struct LaunchError : UsageError {
  using UsageError::UsageError;
};

}  // namespace qt
