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

namespace {

// Every file or folder named `name` under `dir`.
std::vector<fs::path> find_named(const fs::path& dir, const std::string& name) {
  std::vector<fs::path> found;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename() == name) found.push_back(e.path());
  return found;
}

}  // namespace

TEST_CASE("names and paths holding newlines, $(...), backticks and quotes never run as commands") {
  const fs::path dir = scratch("sweep-slurm-hostile");
  const Cleanup cleanup{dir};
  // Each injection would create a file named "pwned" in the folder it runs in (all under dir).
  const std::string evil = "a b'c\"d $(touch pwned) `touch pwned`;touch pwned&|<>*?";
  const fs::path work = dir / ("work " + evil), bin = dir / ("bin " + evil), out = dir / "out";
  fs::create_directories(work);
  fs::create_directories(bin);
  // The binary itself in a hostile folder: the script and the submit lines name its path.
  const fs::path qtrain = bin / "qtrain";
  fs::copy_file(qtrain_bin(), qtrain);
  fs::permissions(qtrain, fs::perms::owner_all);
  json spec = json::parse(R"({
    "base": {"model": "mlp", "epochs": 1, "batch_size": 32,
             "data": {"name": "synthetic", "limit_train": 64, "limit_test": 20}},
    "grid": {"lr": [0.05]}
  })");
  spec["name"] = "evil\ntouch pwned\n$(touch pwned) `touch pwned` 'q' \"dq\"\r\ttouch pwned";
  spec["out"] = out.string();
  const std::string file = "sweep " + evil + ".json", script_name = "job " + evil + ".sbatch";
  write(work / file, spec.dump());

  Result emit = run({qtrain.string(), "sweep", file, "--emit-slurm", script_name}, work);
  INFO(emit.output);
  REQUIRE(emit.code == 0);
  const std::string text = slurp(work / script_name);
  INFO(text);
  // Every line before the commands is a comment or an #SBATCH line of the expected form.
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  CHECK(line == "#!/bin/bash");
  while (std::getline(lines, line) && line != "set -eu") {
    CHECK(line.rfind("#", 0) == 0);
    if (line.rfind("#SBATCH", 0) == 0)  // "#SBATCH --key=value", the value plain
      CHECK(line.find_first_of(" '\"$`;&|", 8) == std::string::npos);
  }
  CHECK(text.find("# qtrain sweep 'evil\\ntouch pwned\\n$(touch pwned)") != std::string::npos);
  CHECK(text.find("#SBATCH --job-name=qtrain-evil_touch_pwned__") != std::string::npos);

  // The task runs the sweep through the hostile paths.
  Result task = run({"/bin/bash", (work / script_name).string()}, dir,
                    {{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_CPUS_PER_TASK", "1"}});
  INFO(task.output);
  CHECK(task.code == 0);
  CHECK(read_json(out / "lr=0.05/summary.json")["finished"] == true);

  // The printed submit lines, run by bash with an sbatch that runs --wrap's command with sh as
  // Slurm does: the summary job runs the hostile-path binary on the sweep folder.
  const std::string marker = "submit it, then the summary:\n";
  REQUIRE(emit.output.find(marker) != std::string::npos);
  const std::string submit = emit.output.substr(emit.output.find(marker) + marker.size());
  const fs::path fake = dir / "fakebin";
  fs::create_directories(fake);
  write(fake / "sbatch",
        "#!/bin/bash\nfor a in \"$@\"; do case \"$a\" in --wrap=*) sh -c \"${a#--wrap=}\" >&2 ;; "
        "esac; done\necho 4242\n");
  fs::permissions(fake / "sbatch", fs::perms::owner_all);
  fs::remove(out / "sweep.json");
  Result sub =
      run({"/bin/bash", "-c", submit}, work, {{"PATH", fake.string() + ":" + std::getenv("PATH")}});
  INFO(submit);
  INFO(sub.output);
  CHECK(sub.code == 0);
  CHECK(read_json(out / "sweep.json")["counts"]["finished"] == 1);
  // The same lines in the script's comment, uncommented, do the same.
  std::string from_comment;
  for (std::istringstream in(text); std::getline(in, line);)
    if (line.rfind("#   ", 0) == 0) from_comment += line.substr(4) + "\n";
  CHECK(from_comment == submit);

  CHECK(find_named(dir, "pwned").empty());

  // What the script cannot hold safely is refused (exit 2, naming the option), nothing written.
  struct Refused {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Refused> refused = {
      {{"--partition", "debug\ntouch pwned"}, "--partition 'debug\\ntouch pwned'"},
      {{"--partition", "debug --uid=0"}, "--partition 'debug --uid=0'"},
      {{"--time", "1:00\n#SBATCH --uid=0"}, "--time '1:00\\n#SBATCH --uid=0'"},
      {{"--mem", "1G;touch pwned"}, "--mem '1G;touch pwned'"},
      {{"--out", (dir / "o u t").string()}, "the sweep folder"},
      {{"--out", (dir / "o$(touch pwned)").string()}, "the sweep folder"},
      {{"--out", (dir / "o\nx").string()}, "the sweep folder"},
  };
  for (const Refused& r : refused) {
    std::vector<std::string> args = {qtrain.string(), "sweep", file, "--emit-slurm", "r.sbatch"};
    args.insert(args.end(), r.args.begin(), r.args.end());
    Result bad = run(args, work);
    INFO(r.args[0] << " " << r.args[1] << ": " << bad.output);
    CHECK(bad.code == 2);
    CHECK(bad.output.find(r.says) != std::string::npos);
    CHECK(count(bad.output, "\n") == 1);  // one message, on one line
    CHECK_FALSE(fs::exists(work / "r.sbatch"));
  }
  Result nl_script = run({qtrain.string(), "sweep", file, "--emit-slurm", "r\ntouch pwned"}, work);
  CHECK(nl_script.code == 2);
  CHECK(nl_script.output.find("--emit-slurm '" + work.string() + "/r\\ntouch pwned'") !=
        std::string::npos);
  // A working directory (or sweep file) whose path holds a newline.
  const fs::path nl_dir = dir / "new\nline";
  fs::create_directories(nl_dir);
  write(nl_dir / "s.json", spec.dump());
  Result nl_cwd = run({qtrain.string(), "sweep", "s.json", "--emit-slurm", "r.sbatch"}, nl_dir);
  CHECK(nl_cwd.code == 2);
  CHECK(nl_cwd.output.find("new\\nline") != std::string::npos);
  CHECK_FALSE(fs::exists(nl_dir / "r.sbatch"));
  CHECK(find_named(dir, "pwned").empty());
}
