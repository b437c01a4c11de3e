// --emit-slurm writes an sbatch job-array script; run here with bash and the SLURM_* array
// variables set (as Slurm would), each task runs its shard, and together they finish the sweep.
// (tools/slurm-test submits the same kind of script to a real one-node Slurm.)
#include "test_sweep_util.h"

using namespace sweep_test;

TEST_CASE(
    "the emitted Slurm array script, run locally task by task, runs every shard of the sweep") {
  const fs::path dir = scratch("sweep-slurm");
  const Cleanup cleanup{dir};
  write(dir / "s.json", R"({
    "name": "slurmy",
    "base": {"model": "mlp", "epochs": 1, "batch_size": 32,
             "data": {"name": "synthetic", "limit_train": 128, "limit_test": 50}},
    "grid": {"lr": [0.02, 0.05, 0.1]},
    "out": "out/slurmy"
  })");
  Result emit =
      run({qtrain_bin(), "sweep", "s.json", "--emit-slurm", "jobs/slurmy.sbatch", "--tasks", "2",
           "--partition", "debug", "--time", "0:10:00", "--cpus-per-task", "1", "--mem", "1G"},
          dir);
  INFO(emit.output);
  REQUIRE(emit.code == 0);
  const fs::path script = dir / "jobs/slurmy.sbatch", out = dir / "out/slurmy";
  CHECK(emit.output.find("a Slurm array of 2 tasks over 3 runs") != std::string::npos);
  CHECK(emit.output.find("sbatch --dependency=afterany:$jid --partition=debug") !=
        std::string::npos);
  const std::string text = slurp(script);
  INFO(text);
  CHECK((fs::status(script).permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK(text.rfind("#!/bin/bash\n", 0) == 0);
  for (const std::string line :
       {"#SBATCH --array=0-1\n", "#SBATCH --cpus-per-task=1\n", "#SBATCH --time=0:10:00\n",
        "#SBATCH --mem=1G\n", "#SBATCH --partition=debug\n", "#SBATCH --job-name=qtrain-slurmy\n"})
    CHECK(text.find(line) != std::string::npos);
  CHECK(text.find("#SBATCH --output=" + out.string() + "/slurm/%A_%a.out\n") != std::string::npos);
  CHECK(text.find("exec '" + qtrain_bin() + "' sweep '" + (dir / "s.json").string() + "' --out '" +
                  out.string() + "' --shard \"${SLURM_ARRAY_TASK_ID}/2\" --jobs 1") !=
        std::string::npos);
  CHECK(fs::is_directory(out / "slurm"));  // Slurm does not create --output's folder

  // Not inside a Slurm array: the script says how to run it and exits 2.
  Result bare = run({"/bin/bash", script.string()}, fs::temp_directory_path());
  CHECK(bare.code == 2);
  CHECK(bare.output.find("set SLURM_ARRAY_TASK_ID") != std::string::npos);

  // Task 0 of 2 runs runs 0 and 2; task 1 runs run 1. Started from elsewhere: the script cds
  // itself.
  auto task = [&](int id) {
    return run({"/bin/bash", script.string()}, fs::temp_directory_path(),
               {{"SLURM_ARRAY_TASK_ID", std::to_string(id)},
                {"SLURM_ARRAY_TASK_COUNT", "2"},
                {"SLURM_ARRAY_JOB_ID", "4242"},
                {"SLURM_JOB_ID", "4243"},
                {"SLURM_CPUS_PER_TASK", "1"}});
  };
  Result t0 = task(0);
  INFO(t0.output);
  REQUIRE(t0.code == 0);
  CHECK(t0.output.find("qtrain sweep task 0/2") != std::string::npos);
  CHECK(t0.output.find("shard 0/2") != std::string::npos);
  CHECK(read_json(out / "lr=0.02/summary.json")["finished"] == true);
  CHECK(read_json(out / "lr=0.1/summary.json")["finished"] == true);
  CHECK_FALSE(fs::exists(out / "lr=0.05/summary.json"));
  CHECK(read_json(out / "lr=0.02/config.json")["threads"] == 1);  // from SLURM_CPUS_PER_TASK
  CHECK(read_json(out / "sweep.json")["counts"]["unfinished"] == 1);

  Result t1 = task(1);
  INFO(t1.output);
  REQUIRE(t1.code == 0);
  CHECK(read_json(out / "lr=0.05/summary.json")["finished"] == true);
  Result again = task(0);  // a resubmitted task finds its runs finished
  CHECK(again.code == 0);
  CHECK(again.output.find("2 finished before, 0 to run") != std::string::npos);

  Result sum = run({qtrain_bin(), "sweep", "--summary", out.string()});
  CHECK(sum.code == 0);
  json sj = read_json(out / "sweep.json");
  CHECK(sj["counts"]["finished"] == 3);
  CHECK(sj["points"].size() == 3);

  // Bad Slurm values are refused before anything is written.
  Result bad = run(
      {qtrain_bin(), "sweep", "s.json", "--emit-slurm", "x.sbatch", "--time", "two hours"}, dir);
  CHECK(bad.code == 2);
  CHECK(bad.output.find("--time 'two hours'") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "x.sbatch"));
  Result jobs =
      run({qtrain_bin(), "sweep", "s.json", "--emit-slurm", "x.sbatch", "--jobs", "2"}, dir);
  CHECK(jobs.code == 2);
  CHECK(jobs.output.find("--cpus-per-task") != std::string::npos);
}
