#pragma once
#include <CLI/CLI.hpp>

namespace qt {

// `qtrain sweep SWEEP.json`: run a grid of trainings (docs/sweeps.md); --dry-run lists them,
// --shard i/n runs a share, --emit-slurm writes a job-array script, --summary DIR tabulates.
void add_sweep_command(CLI::App& app);

}  // namespace qt
