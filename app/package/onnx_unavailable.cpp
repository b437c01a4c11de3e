// The ONNX writer when qtrain was built without Debian's libonnx-dev: the format says how to get
// it instead of being silently absent from the command.
#include "app/package/onnx_export.h"
#include "engine/core/error.h"

namespace qt {

nlohmann::json export_onnx(const std::string&, const std::string& out_path) {
  throw UsageError("cannot write " + out_path +
                   ": this qtrain was built without ONNX: install libonnx-dev (tools/setup "
                   "--onnx) and rebuild (cmake -DQTRAIN_ENABLE_ONNX=ON, the default, then says "
                   "\"qtrain: ONNX export enabled\")");
}

}  // namespace qt
