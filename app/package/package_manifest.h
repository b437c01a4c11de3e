#pragma once
// The checks a package's manifest.json passes before any of it is used (docs/export.md): its
// types, each tensor's shape (element count overflow-checked), encoding, byte range within the
// weights file it declares, and, for packed tensors, bits and codebooks that account for exactly
// those bytes. A file that fails is a DataError naming the manifest, the tensor and the field.
#include <nlohmann/json.hpp>
#include <string>

namespace qt {

// `where` is the manifest's path.
void check_package_manifest(const nlohmann::json& manifest, const std::string& where);

}  // namespace qt
