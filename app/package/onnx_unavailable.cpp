// The ONNX writer when qtrain was built without Debian's libonnx-dev: the format says how to get
// it instead of being silently absent from the command.
#include "app/package/onnx_export.h"
#include "engine/core/error.h"

namespace qt {

nlohmann::json export_onnx(const std::string&, const std::string& out_path) {
  throw UsageError("cannot write " + out_path +
                   ": this qtrain was built without ONNX support. Install Debian's libonnx-dev "
                   "and libprotobuf-dev (tools/setup --onnx), then configure and build again "
                   "(cmake says \"qtrain: ONNX export enabled\")");
}

}  // namespace qt
