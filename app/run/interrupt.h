#pragma once
// Ctrl-C (SIGINT) and SIGTERM: the first asks the run to stop at the next step boundary and
// save a checkpoint; a second exits at once (files are only ever replaced by rename, so none
// is left half-written).
#include <atomic>

namespace qt {

const std::atomic<bool>* install_interrupt_handler();

}  // namespace qt
