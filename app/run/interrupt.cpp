#include "app/run/interrupt.h"

#include <signal.h>
#include <unistd.h>

namespace qt {

namespace {
std::atomic<bool> g_stop{false};  // a signal handler can reach nothing else

void on_signal(int) {
  if (g_stop.exchange(true)) _exit(130);
  const char msg[] =
      "\nqtrain: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}
}  // namespace

const std::atomic<bool>* install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return &g_stop;
}

}  // namespace qt
