// qtrain: train, evaluate and compare networks with binary, ternary and low-bit weights.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "app/cli/cmd_datasets.h"
#include "app/cli/cmd_eval.h"
#include "app/cli/cmd_models.h"
#include "app/cli/cmd_report.h"
#include "app/cli/cmd_sensitivity.h"
#include "app/cli/cmd_sweep.h"
#include "app/cli/cmd_train.h"
#include "app/cli/exit_code.h"
#include "app/config/config.h"
#include "app/version.h"
#include "engine/core/blas_kernel.h"
#include "engine/core/isa.h"

namespace {

// " (did you mean --epochs?)" for the first --flag on the command line that the subcommand does
// not know but one of its flags is close to; "" when there is none.
std::string flag_hint(CLI::App& app, int argc, char** argv) {
  for (CLI::App* sub : app.get_subcommands()) {
    std::vector<std::string> names;
    for (const CLI::Option* o : sub->get_options())
      for (const std::string& l : o->get_lnames()) names.push_back(l);
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (!a.starts_with("--") || a.size() < 3) continue;
      a = a.substr(2, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 2);
      if (sub->get_option_no_throw("--" + a)) continue;
      const std::string near = qt::nearest(a, names);
      if (!near.empty()) return " (did you mean --" + near + "?)";
    }
  }
  return "";
}

// What `qtrain --version` prints: the version, then the instruction sets of the build and the
// kernel path this CPU takes.
std::string version_text() {
  return std::string("qtrain ") + qt::kQtrainVersion + "\n" + qt::isa_version_lines() +
         "\nBLAS: " + qt::blas_info().line();
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything else: it may restart the process with a better OpenBLAS kernel.
  qt::ensure_blas_kernel(argv, "qtrain");
  // Past a file size limit (ulimit -f) a write then fails with EFBIG and is reported like a full
  // disk, naming the file, instead of the signal killing qtrain without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{
      "qtrain: train and compare quantized neural networks (BinaryRelax, BCGD, Iterative Training, "
      "ProxyBNN and "
      "their baselines) on the CPU.\n\nExit codes: 0 success, 1 failure, 2 usage or configuration "
      "error, "
      "3 data or checkpoint error, 4 sweep runs left to another sweep process (busy), 130 "
      "interrupted (a checkpoint was saved: --resume continues)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::function<std::string()>(version_text));
  qt::add_train_command(app);
  qt::add_sweep_command(app);
  qt::add_eval_command(app);
  qt::add_export_command(app);
  qt::add_infer_command(app);
  qt::add_datasets_command(app);
  qt::add_models_command(app);
  qt::add_sensitivity_command(app);
  qt::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qtrain: %s%s (see --help)\n", e.what(),
                 flag_hint(app, argc, argv).c_str());
    return qt::kExitUsage;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    // An empty message: another MPI rank reported the same error (app/run/mpi_world.h).
    if (*e.what()) std::fprintf(stderr, "qtrain: error: %s\n", e.what());
    return qt::exit_code_for(e);
  }
  return qt::kExitOk;
}
