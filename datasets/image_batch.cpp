#include "datasets/image_batch.h"

#include <tbb/enumerable_thread_specific.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

#include "datasets/image_crop.h"
#include "engine/core/error.h"
#include "engine/core/parallel.h"
#include "engine/core/random.h"

namespace qt {

namespace {

constexpr int64_t kMaxImagePixels = int64_t{1} << 27;  // 134 M pixels, e.g. 16 384 × 8 192

// The draw that decides the flip, after the crop's 4 × 10 draws.
constexpr uint64_t kFlipDraw = 40;

void read_file(const std::string& path, std::vector<uint8_t>& out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw BadImage(std::string("cannot open: ") + std::strerror(errno));
  const std::streamoff size = in.tellg();
  out.resize(static_cast<size_t>(std::max<std::streamoff>(size, 0)));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(out.data()), size))
    throw BadImage("cannot read " + std::to_string(size) + " bytes");
}

// Refuses what is plainly not a JPEG with a message saying what it is instead.
void check_jpeg_bytes(const std::vector<uint8_t>& f) {
  if (f.empty()) throw BadImage("an empty file: expected a JPEG image");
  static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (f.size() >= 8 && std::memcmp(f.data(), png, 8) == 0)
    throw BadImage("a PNG image: qtrain reads JPEG only (convert it to JPEG)");
  if (f.size() < 2 || f[0] != 0xff || f[1] != 0xd8) {
    char found[16];
    std::snprintf(found, sizeof found, "%02x %02x", f[0], f.size() > 1 ? f[1] : 0);
    throw BadImage(std::string("not a JPEG: expected its first bytes to be ff d8, found ") + found);
  }
}

// The smallest decoded size that keeps the box at least as large as the output: the resampling
// after it then only shrinks (by less than 2) or enlarges an image smaller than the output.
JpegScale choose_scale(const CropBox& box, int out_w, int out_h) {
  for (const JpegScale& s : JpegDecoder::scales())
    if (box.w * s.num >= double(out_w) * s.denom && box.h * s.num >= double(out_h) * s.denom)
      return s;
  return {1, 1};
}

}  // namespace

void load_sample(DecodeScratch& s, const std::string& path, const SampleTransform& t, uint64_t key,
                 const float* scale, const float* shift, float* dst, std::string& warning) {
  read_file(path, s.file);
  check_jpeg_bytes(s.file);
  int width = 0, height = 0;
  s.decoder.read_size(s.file, width, height);
  // A corrupt header may claim up to 65 535 × 65 535 pixels: refuse rather than allocate 12 GB.
  if (int64_t{width} * height > kMaxImagePixels)
    throw BadImage("an image of " + std::to_string(width) + "×" + std::to_string(height) +
                   " pixels: expected at most " + std::to_string(kMaxImagePixels) +
                   " (a corrupt header?)");
  const CropBox box = t.random_resized_crop
                          ? random_resized_crop(width, height, t.min_scale, key)
                          : centre_crop(width, height, t.resize, t.out_w, t.out_h);
  const JpegScale js = choose_scale(box, t.out_w, t.out_h);
  s.decoder.decode(s.file, js, s.image, warning);
  // The box in the decoded image's pixels (its size is rounded up, so use its exact ratio).
  const double fx = double(s.image.width) / width, fy = double(s.image.height) / height;
  const CropBox scaled{box.x * fx, box.y * fy, box.w * fx, box.h * fy};
  const bool flip = t.hflip && uniform_at(key, kFlipDraw) < 0.5f;
  resample_box(s.image, scaled, t.out_w, t.out_h, flip, scale, shift, dst);
}

void make_file_batch(const Dataset& data, std::span<const int64_t> indices,
                     const Normalization& norm, const Augmentation& aug, uint64_t key, Batch& out,
                     int64_t first) {
  const int64_t b = static_cast<int64_t>(indices.size());
  const int C = data.channels, H = data.height, W = data.width;
  if (C != 3 || norm.mean.size() != 3 || norm.std.size() != 3)
    throw std::logic_error("make_file_batch: expected 3 channels, the dataset has " +
                           std::to_string(C) + ", the normalisation " +
                           std::to_string(norm.mean.size()));
  SampleTransform t;
  t.random_resized_crop = aug.random_resized_crop;
  t.min_scale = aug.min_scale;
  t.hflip = aug.hflip;
  t.resize = data.resize > 0 ? data.resize : std::min(H, W);
  t.out_w = W;
  t.out_h = H;
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * norm.std[c]);
    shift[c] = -norm.mean[c] / norm.std[c];
  }
  out.x.resize({b, C, H, W});
  out.y.resize(b);
  out.indices.assign(indices.begin(), indices.end());
  out.first = first;
  out.total = first + b;
  std::vector<std::optional<ImageProblem>> problems(b);
  std::vector<std::optional<std::string>> failure(b);
  tbb::enumerable_thread_specific<DecodeScratch> scratch;
  const int64_t n = data.size();
  parallel_for(b, 1, [&](int64_t i0, int64_t i1) {
    DecodeScratch& s = scratch.local();
    for (int64_t i = i0; i < i1; ++i) {
      const uint64_t sample_key = derive(key, static_cast<uint64_t>(first + i));
      float* dst = out.x.data() + i * data.sample_size();
      // A bad file: the next one of the dataset (wrapping around) in its place, so the batch
      // keeps its size and the same run always makes the same replacement.
      bool found = false;
      for (int64_t tries = 0; tries < n && !found; ++tries) {
        const int64_t idx = (indices[i] + tries) % n;
        const std::string& path = data.files[idx];
        std::string warning;
        try {
          load_sample(s, path, t, sample_key, scale, shift, dst, warning);
        } catch (const BadImage& e) {
          warning = e.what();
          if (!data.skip_bad) {
            failure[i] = path + ": " + warning;
            break;
          }
          // Only the sample's own file is reported: a bad replacement is its own sample's.
          if (tries == 0) problems[i] = ImageProblem{path + ": " + warning + "; skipped", true};
          continue;
        }
        if (!warning.empty()) {
          if (!data.skip_bad) {
            failure[i] = path + ": " + warning;
            break;
          }
          if (tries == 0)
            problems[i] = ImageProblem{path + ": " + warning + "; used as decoded", false};
        }
        out.y[i] = data.labels[idx];
        found = true;
      }
      if (!failure[i] && !found)
        failure[i] =
            data.source + ": none of its " + std::to_string(n) + " image files could be decoded";
    }
  });
  out.problems.clear();
  for (int64_t i = 0; i < b; ++i) {
    if (failure[i])
      throw DataError(*failure[i] + (data.skip_bad ? ""
                                                   : " (with --bad-image skip, the default, "
                                                     "it would be replaced by the next "
                                                     "good image and logged)"));
    if (problems[i]) out.problems.push_back(std::move(*problems[i]));
  }
}

}  // namespace qt
