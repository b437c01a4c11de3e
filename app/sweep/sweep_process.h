#pragma once
// The sweep's runs are child processes (`qtrain train ...`), so a crash or a kill of one run
// never takes the sweep down and every run stays resumable on its own. A child:
//   - has its own process group: a terminal's Ctrl-C reaches the sweep only, which forwards
//     exactly one SIGINT (a second one would make the child quit without its checkpoint);
//   - dies with the sweep (PR_SET_PDEATHSIG): a killed sweep leaves no orphan writing its run;
//   - holds its run directory's lock (.sweep.lock, flock) with the sweep, so two sweeps on the
//     same folder never train the same run at once.
#include <sys/types.h>

#include <string>
#include <vector>

namespace qt {

// Locks DIR/.sweep.lock: the descriptor, or -1 when another process holds it.
int try_lock_run(const std::string& dir);
void unlock_run(int fd);
// Locks the file `path` (created if needed), waiting for another holder to let go.
int lock_file(const std::string& path);

// Starts argv[0] with argv, stdout and stderr appended to `log_path`, sharing `lock_fd`.
// Call from the main thread: the child's death signal follows the thread that forked it.
pid_t spawn_child(const std::vector<std::string>& argv, const std::string& log_path, int lock_fd);

// The child's exit code (128 + signal when killed by one), or -1 while it runs.
int poll_child(pid_t pid);

// The path of the running qtrain binary.
std::string self_exe();

// Cores this process may use: $SLURM_CPUS_PER_TASK inside a Slurm job, else the CPU affinity mask.
int available_cores();

}  // namespace qt
