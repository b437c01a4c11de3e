#include "app/run/describe_run.h"

#include <cstdio>

#include "datasets/catalog.h"
#include "engine/quant/make_algorithm.h"
#include "engine/quant/projection.h"

namespace qt {

ModelOptions model_options_for(const TrainConfig& cfg) {
  ModelOptions o = cfg.model_options;
  if (cfg.data.name == "synthetic") {
    const SyntheticSpec& s = cfg.data.synthetic;
    o.in_channels = s.channels, o.height = s.height, o.width = s.width, o.classes = s.classes;
    return o;
  }
  const CatalogEntry& e = catalog_entry(cfg.data.name);
  // Entries that read their shape from the files (ImageNet) default to the usual 3×224×224.
  o.in_channels = e.channels ? e.channels : 3;
  const bool folder = e.format == DataFormat::image_folder;
  o.height = e.height ? e.height : folder ? cfg.data.image_size : 224;
  o.width = e.width ? e.width : folder ? cfg.data.image_size : 224;
  o.classes = e.classes ? e.classes : 1000;
  if (cfg.data.name == "cifar100" && cfg.data.cifar100_labels == "coarse") o.classes = 20;
  return o;
}

std::string describe_run(const TrainConfig& cfg) {
  ModelOptions mo = model_options_for(cfg);
  auto algo = make_algorithm(cfg.algo);
  ModelOptions configured = mo;
  algo->configure(configured);
  auto model = make_model(cfg.model, configured);
  model->init(0);
  algo->attach(*model);
  std::string s = model->summary();
  s += '\n';
  s += describe_layers(cfg.model, mo, cfg.algo, cfg.epochs);
  // Size at the quantized widths: ceil(log2(set size)) bits a weight plus one float scale a tensor
  // (a row when the set is per channel: counted as a tensor here, a lower bound).
  // Counted for the network the run ends with: BinaryRelax quantizes exactly only in phase II and
  // Iterative Training binarizes its layers one by one.
  algo->start_epoch(cfg.epochs - 1, cfg.epochs);
  int64_t bits = 0, quantized = 0;
  for (auto& [p, set_size] : algo->quantized_params()) {
    bits += p->value.size() * index_bits(set_size) + 32;
    quantized += p->value.size();
  }
  const int64_t total = model->params.count();
  bits += 32 * (total - quantized);
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "model size after training: %.1f KiB at quantized widths vs %.1f KiB in float "
                "(%.1f×), %lld of "
                "%lld weights quantized\n",
                bits / 8192.0, total * 32 / 8192.0, 32.0 * total / bits,
                static_cast<long long>(quantized), static_cast<long long>(total));
  s += buf;
  return s;
}

}  // namespace qt
