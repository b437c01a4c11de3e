#include "app/cli/exit_code.h"

#include "engine/core/error.h"

namespace qt {

int exit_code_for(const std::exception& e) {
  if (dynamic_cast<const UsageError*>(&e)) return kExitUsage;
  if (dynamic_cast<const DataError*>(&e)) return kExitData;
  if (dynamic_cast<const Interrupted*>(&e)) return kExitInterrupted;
  if (dynamic_cast<const RunsBusy*>(&e)) return kExitBusy;
  return kExitFailure;
}

}  // namespace qt
