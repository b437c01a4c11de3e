#include "app/run/progress.h"

#include <unistd.h>

#include <cstdio>

namespace qt {

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled) {}

void ProgressLine::update(const TrainProgress& p) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (p.batch != p.batches && now - last_ < std::chrono::milliseconds(200)) return;
  last_ = now;
  const int width = 24;
  const int filled = p.batches ? static_cast<int>(width * p.batch / p.batches) : 0;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  // The epoch's remaining time at the epoch's pace so far (evaluation not included).
  const double eta = p.batch > 0 ? p.elapsed_seconds * (p.batches - p.batch) / p.batch : 0;
  std::fprintf(
      stderr, "\r\033[Kepoch %d/%d [%s] %lld/%lld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %.0fs",
      p.epoch + 1, p.epochs, bar.c_str(), static_cast<long long>(p.batch),
      static_cast<long long>(p.batches), p.loss, 100 * p.accuracy, p.images_per_second, eta);
  std::fflush(stderr);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace qt
