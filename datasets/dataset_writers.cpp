#include "datasets/dataset_writers.h"

#include <zlib.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "datasets/qtimg_reader.h"
#include "engine/core/error.h"

namespace qt {

namespace {
void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
}  // namespace

std::vector<uint8_t> idx_images_bytes(const Dataset& d) {
  if (d.channels != 1) throw std::invalid_argument("IDX images have one channel");
  std::vector<uint8_t> out;
  put_be32(out, 0x00000803);
  put_be32(out, static_cast<uint32_t>(d.size()));
  put_be32(out, static_cast<uint32_t>(d.height));
  put_be32(out, static_cast<uint32_t>(d.width));
  out.insert(out.end(), d.pixels.begin(), d.pixels.end());
  return out;
}

std::vector<uint8_t> idx_labels_bytes(const Dataset& d) {
  std::vector<uint8_t> out;
  put_be32(out, 0x00000801);
  put_be32(out, static_cast<uint32_t>(d.size()));
  for (int32_t y : d.labels) out.push_back(static_cast<uint8_t>(y));
  return out;
}

std::vector<uint8_t> cifar_bytes(const Dataset& d, const std::vector<int32_t>* coarse) {
  if (d.channels != 3 || d.height != 32 || d.width != 32)
    throw std::invalid_argument("CIFAR records hold 3×32×32 images");
  std::vector<uint8_t> out;
  const int64_t ss = d.sample_size();
  for (int64_t i = 0; i < d.size(); ++i) {
    if (coarse) out.push_back(static_cast<uint8_t>((*coarse)[i]));
    out.push_back(static_cast<uint8_t>(d.labels[i]));
    out.insert(out.end(), d.pixels.begin() + i * ss, d.pixels.begin() + (i + 1) * ss);
  }
  return out;
}

std::vector<uint8_t> qtimg_bytes(const Dataset& d) {
  std::vector<uint8_t> out = qtimg_header(d.size(), d.channels, d.height, d.width, d.classes);
  for (int32_t y : d.labels) {
    out.push_back(static_cast<uint8_t>(y));
    out.push_back(static_cast<uint8_t>(y >> 8));
  }
  out.insert(out.end(), d.pixels.begin(), d.pixels.end());
  return out;
}

std::vector<uint8_t> gzip_bytes(const std::vector<uint8_t>& raw) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = static_cast<uInt>(raw.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const int ret = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (ret != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw DataError(path + ": cannot write the file");
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw DataError(path + ": cannot open the file");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace qt
