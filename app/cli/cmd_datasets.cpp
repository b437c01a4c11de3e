#include "app/cli/cmd_datasets.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/cli/config_flags.h"
#include "app/text/text_format.h"
#include "datasets/catalog.h"
#include "datasets/locate.h"
#include "datasets/registry.h"
#include "datasets/stats.h"
#include "datasets/verify.h"
#include "engine/core/error.h"

namespace qt {

namespace {

using json = nlohmann::json;

struct DatasetsArgs {
  std::string data_dir;
  std::string name;
  std::vector<std::string> names;
  bool as_json = false;
  DataRequest req;
  std::vector<int> synthetic_shape;
  std::vector<int64_t> synthetic_size;
};

std::string where_searched(const std::string& data_dir) {
  if (!data_dir.empty()) return "--data-dir " + data_dir;
  const char* env = std::getenv(kDataDirEnv);
  return std::string(kDataDirEnv) + "=" + (env ? env : "(unset)") +
         ", then ~/.local/share/datasets, /usr/local/share/datasets, /usr/share/datasets";
}

void run_list(const DatasetsArgs& a, std::ostream& out) {
  out << "searched: " << where_searched(a.data_dir) << "\n";
  for (const CatalogEntry& e : catalog()) {
    std::string status;
    if (e.format == DataFormat::synthetic) {
      status = "built in";
    } else {
      try {
        status = "found in " + locate_dataset(e, a.data_dir);
      } catch (const DataError&) {
        status = "not found (" + e.train_files.front().name + ")";
      }
    }
    out << pad(e.name + " ", 15) << pad(status, 56) << " " << e.title << "\n";
  }
}

json split_json(const Dataset& d) {
  const DatasetStats s = dataset_stats(d);
  return {
      {"samples", d.size()}, {"class_counts", s.class_counts}, {"mean", s.mean}, {"std", s.std}};
}

void run_info(DatasetsArgs a, std::ostream& out) {
  a.req.name = a.name;
  a.req.data_dir = a.data_dir;
  if (!a.synthetic_shape.empty()) {
    a.req.synthetic.channels = a.synthetic_shape[0];
    a.req.synthetic.height = a.synthetic_shape[1];
    a.req.synthetic.width = a.synthetic_shape[2];
  }
  if (!a.synthetic_size.empty()) {
    a.req.synthetic.train_size = a.synthetic_size[0];
    a.req.synthetic.test_size = a.synthetic_size[1];
  }
  const CatalogEntry& e = catalog_entry(a.name);
  // Image folders are never all in memory, so nothing can be computed: their table shows none.
  a.req.normalization = e.format == DataFormat::image_folder ? "standard" : "computed";
  const DataSplits s = load_splits(a.req);
  const std::string where = s.train.source;
  const std::vector<std::pair<const char*, const Dataset*>> splits = {
      {"train", &s.train}, {"val", &s.val}, {"test", &s.test}};
  json j = {{"name", e.name},
            {"title", e.title},
            {"source", where},
            {"shape", s.train.sample_shape()},
            {"classes", s.train.classes},
            {"class_names", s.train.class_names},
            {"standard_mean", e.mean},
            {"standard_std", e.std},
            {"split_seed", a.req.split_seed},
            {"stratified", a.req.stratified}};
  for (const auto& [name, d] : splits) j["splits"][name] = split_json(*d);
  if (a.as_json) {
    out << j.dump(2) << "\n";
    return;
  }
  out << e.name << ": " << e.title << "\n";
  out << "source:  " << where << "\n";
  out << "shape:   " << s.train.channels << "×" << s.train.height << "×" << s.train.width << ", "
      << s.train.classes << " classes\n";
  out << "split:   validation of " << s.val.size() << " held out of the training set (seed "
      << a.req.split_seed << (a.req.stratified ? ", stratified" : "") << ")\n\n";
  out << pad("split", 7) << pad("samples", 10) << "per-channel mean / std of pixels in [0, 1]\n";
  for (const auto& [name, d] : splits) {
    const json& js = j["splits"][name];
    std::string ms;
    for (size_t c = 0; c < js["mean"].size(); ++c)
      ms += (c ? "  " : "") + fixed(js["mean"][c].get<double>(), 4) + " / " +
            fixed(js["std"][c].get<double>(), 4);
    out << pad(name, 7) << pad(std::to_string(d->size()), 10)
        << (d->size() && !ms.empty() ? ms : "-") << "\n";
  }
  if (!e.mean.empty()) {
    std::string ms;
    for (size_t c = 0; c < e.mean.size(); ++c)
      ms += (c ? "  " : "") + fixed(e.mean[c], 4) + " / " + fixed(e.std[c], 4);
    out << pad("standard", 17) << ms << "  (the constants --normalization standard uses)\n";
  }
  out << "\n" << pad("class", 34) << pad("train", 9) << pad("val", 9) << "test\n";
  for (int c = 0; c < s.train.classes; ++c) {
    const std::string label = std::to_string(c) + " " + s.train.class_names[c];
    out << pad(label.substr(0, 33), 34);
    for (const auto& [name, d] : splits) {
      const std::string n = std::to_string(j["splits"][name]["class_counts"][c].get<int64_t>());
      out << (std::string(name) == "test" ? n : pad(n, 9));
    }
    out << "\n";
  }
}

void run_verify(const DatasetsArgs& a, std::ostream& out) {
  std::vector<const CatalogEntry*> todo;
  const bool named = !a.names.empty();
  if (named)
    for (const std::string& n : a.names) todo.push_back(&catalog_entry(n));
  else
    for (const CatalogEntry& e : catalog())
      if (e.format != DataFormat::synthetic) todo.push_back(&e);
  int failed = 0, checked = 0;
  for (const CatalogEntry* e : todo) {
    VerifyReport r;
    try {
      r = verify_dataset(*e, a.data_dir);
    } catch (const DataError& err) {
      // Not found: an error only when asked for by name.
      if (named) throw;
      out << e->name << ": not found, skipped\n";
      continue;
    }
    ++checked;
    out << e->name << (r.dir.empty() ? "" : " in " + r.dir) << "\n";
    for (const std::string& line : r.lines) out << "  " << line << "\n";
    if (r.problems > 0) ++failed;
  }
  if (failed > 0)
    throw DataError("datasets verify: " + std::to_string(failed) + " of " +
                    std::to_string(checked) + " datasets failed (see the FAILED lines above)");
  out << (checked ? "all " + std::to_string(checked) + " datasets found are intact\n"
                  : "no dataset found (searched: " + where_searched(a.data_dir) + ")\n");
}

}  // namespace

void add_datasets_command(CLI::App& app, std::ostream& out) {
  auto args = std::make_shared<DatasetsArgs>();
  CLI::App* cmd =
      app.add_subcommand("datasets", "list, describe and verify the datasets qtrain reads");
  cmd->require_subcommand(1);
  auto data_dir = [&](CLI::App* sub) {
    sub->add_option(
        "--data-dir", args->data_dir,
        "folder holding the dataset (or one folder per dataset); default: $QTRAIN_DATA_DIR, "
        "then ~/.local/share/datasets, /usr/local/share/datasets, /usr/share/datasets");
  };

  CLI::App* list = cmd->add_subcommand("list", "show every dataset and where its files were found");
  data_dir(list);
  list->callback([args, &out] { run_list(*args, out); });

  CLI::App* info = cmd->add_subcommand(
      "info", "counts per split, class balance, shape and per-channel mean/std of one dataset");
  info->add_option("name", args->name, "dataset name (see `qtrain datasets list`)")->required();
  data_dir(info);
  info->add_option("--val-size", args->req.val_size,
                   "validation images held out of the training set (-1 = the dataset's default)");
  info->add_flag("--stratified", args->req.stratified, "hold out the same share of every class");
  info->add_option("--split-seed", args->req.split_seed, "seed of the validation split");
  info->add_option("--cifar100-labels", args->req.cifar100_labels,
                   "cifar100: fine (100) or coarse (20)")
      ->check(CLI::IsMember({"fine", "coarse"}));
  info->add_option("--synthetic-shape", args->synthetic_shape, "synthetic: C,H,W")
      ->delimiter(',')
      ->expected(3);
  info->add_option("--synthetic-classes", args->req.synthetic.classes,
                   "synthetic: number of classes");
  info->add_option("--synthetic-size", args->synthetic_size, "synthetic: TRAIN,TEST sample counts")
      ->delimiter(',')
      ->expected(2);
  info->add_option("--synthetic-seed", args->req.synthetic.seed, "synthetic: seed");
  info->add_option("--synthetic-noise", args->req.synthetic.noise,
                   "synthetic: share of each pixel that is noise, 0 to 1")
      ->check(finite_number(0, 1));
  info->add_flag("--json", args->as_json, "print JSON instead of a table");
  info->callback([args, &out] { run_info(*args, out); });

  CLI::App* verify = cmd->add_subcommand(
      "verify",
      "check sizes, headers, label ranges, counts and SHA-256 (where the official value is known)");
  verify->add_option("names", args->names, "datasets to check (default: every one found)");
  data_dir(verify);
  verify->callback([args, &out] { run_verify(*args, out); });
}

}  // namespace qt
