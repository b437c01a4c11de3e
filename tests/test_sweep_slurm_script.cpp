// The text of the Slurm script `qtrain sweep --emit-slurm` writes for runs that span nodes
// (--nodes K --ntasks-per-node R): its #SBATCH lines ask for K nodes × R tasks of
// --cpus-per-task CPUs, and each run starts through srun as one MPI training; flags that make no
// sense together are refused with one message. (tests/test_sweep_slurm runs the one-process
// script; tools/slurm-test submits both kinds to a real Slurm.)
#include <doctest/doctest.h>

#include <string>

#include "app/sweep/sweep_slurm.h"
#include "engine/core/error.h"

using ojson = nlohmann::ordered_json;
using qt::SlurmOptions;

namespace {

qt::Sweep sweep(int shards) {
  qt::Sweep s =
      qt::expand_sweep(ojson::parse(R"({"name": "wide", "base": {"model": "mlp", "shards": )" +
                                    std::to_string(shards) + R"(}, "grid": {"lr": [0.01, 0.1]}})"),
                       "sweep file 'w.json'");
  s.file = "/work/w.json";
  s.out = "/work/out";
  return s;
}

std::string script(const qt::Sweep& s, const SlurmOptions& opt) {
  return qt::slurm_script(s, "/bin/qtrain", "/work", "/work/w.sbatch", opt).text;
}

// The UsageError message of emitting with these options ("" when it is written).
std::string refusal(const qt::Sweep& s, const SlurmOptions& opt) {
  try {
    script(s, opt);
  } catch (const qt::UsageError& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("--nodes 2 --ntasks-per-node 3: the #SBATCH lines and the srun line of each run") {
  SlurmOptions opt;
  opt.nodes = 2;
  opt.ntasks_per_node = 3;
  opt.cpus_per_task = 4;
  opt.time = "1:00:00";
  const std::string t = script(sweep(6), opt);
  INFO(t);
  CHECK(has(t, "#SBATCH --array=0-1\n"));
  CHECK(has(t, "#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=3\n#SBATCH --cpus-per-task=4\n"));
  CHECK(!has(t, "--ntasks=1"));
  CHECK(has(t, "#SBATCH --time=1:00:00\n"));
  CHECK(has(t,
            "exec '/bin/qtrain' sweep '/work/w.json' --out '/work/out' --shard "
            "\"${SLURM_ARRAY_TASK_ID}/2\" --jobs 1 --checkpoint-every 300 --launcher 'srun "
            "--mpi=pmix --kill-on-bad-exit=1 --nodes=2 --ntasks-per-node=3 "
            "--cpus-per-task=4'\n"));
}

TEST_CASE("one of --nodes and --ntasks-per-node: the other is 1; neither: one process per run") {
  SlurmOptions opt;
  opt.ntasks_per_node = 2;
  opt.mpi = "pmi2";
  std::string t = script(sweep(2), opt);
  CHECK(has(t, "#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=2\n"));
  CHECK(has(t,
            "--launcher 'srun --mpi=pmi2 --kill-on-bad-exit=1 --nodes=1 --ntasks-per-node=2 "
            "--cpus-per-task=1'\n"));
  t = script(sweep(2), SlurmOptions{});
  CHECK(has(t, "#SBATCH --ntasks=1\n"));
  CHECK(!has(t, "--nodes"));
  CHECK(!has(t, "--launcher"));
}

TEST_CASE("runs over several processes: what cannot work is refused with one message") {
  SlurmOptions opt;
  opt.nodes = 2;
  opt.ntasks_per_node = 2;
  CHECK(refusal(sweep(8), opt) == "");
  // Shards the 4 processes cannot share.
  CHECK(has(refusal(sweep(6), opt),
            "run lr=0.01 has 6 shards, which --nodes 2 × "
            "--ntasks-per-node 2 = 4 processes cannot share: set "
            "\"shards\" to a multiple of 4"));
  CHECK(has(refusal(sweep(1), opt), "has 1 shard, which"));
  // Several runs at once would share the nodes each of them fills.
  opt.jobs = 2;
  opt.cpus_per_task = 2;
  CHECK(has(refusal(sweep(8), opt), "--jobs 2 with --nodes 2 × --ntasks-per-node 2"));
  opt.jobs = 1;
  opt.mpi = "pmix; rm -rf /";
  CHECK(has(refusal(sweep(8), opt), "is not a Slurm MPI plugin name"));
}
