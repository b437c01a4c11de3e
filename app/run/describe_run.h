#pragma once
// What `qtrain train --dry-run` and `--list-layers` print: the model a configuration builds,
// without reading any data (the input shape comes from the dataset catalog).
#include <string>

#include "app/train/train_config.h"

namespace qt {

// The model options a run will use: input shape and classes from the dataset's catalog entry.
ModelOptions model_options_for(const TrainConfig& cfg);
// The model summary, the quantized layers and the model size at quantized vs float widths.
std::string describe_run(const TrainConfig& cfg);

}  // namespace qt
