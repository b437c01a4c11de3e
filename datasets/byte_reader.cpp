#include "datasets/byte_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "engine/core/error.h"

namespace qt {

namespace {
// deflate cannot expand data by more than about 1032:1, which bounds what a gzip file can hold.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr size_t kInChunk = size_t{1} << 18;
constexpr uint64_t kGrowChunk = uint64_t{1} << 26;  // 64 MiB
}  // namespace

ByteReader::ByteReader(std::string path, std::string what)
    : path_(std::move(path)), what_(std::move(what)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path_, ec);
  if (!fs::exists(st)) fail("not found: expected " + what_ + ", found no such file");
  if (fs::is_directory(st)) fail("is a directory: expected " + what_ + ", found a directory");
  if (!fs::is_regular_file(st))
    fail("not a regular file: expected " + what_ + ", found a special file");
  file_size_ = fs::file_size(path_, ec);
  if (ec) fail("cannot read its size (" + ec.message() + ")");
  if (file_size_ == 0) fail("empty file: expected " + what_ + ", found 0 bytes");
  file_ = std::fopen(path_.c_str(), "rb");
  if (!file_) fail(std::string("cannot open (") + std::strerror(errno) + ")");
  uint8_t magic[2] = {0, 0};
  const size_t got = std::fread(magic, 1, 2, file_);
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (gzip_) {
    in_.resize(kInChunk);
    in_[0] = magic[0];
    in_[1] = magic[1];
    file_read_ = 2;
    zs_.next_in = in_.data();
    zs_.avail_in = 2;
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) fail("cannot initialise zlib");
    zs_init_ = true;
  } else {
    std::rewind(file_);
  }
}

ByteReader::~ByteReader() {
  if (zs_init_) inflateEnd(&zs_);
  if (file_) std::fclose(file_);
}

void ByteReader::fail(const std::string& message) const {
  throw DataError(path_ + ": " + message);
}

uint64_t ByteReader::compressed_offset() const {
  return file_read_ - zs_.avail_in;
}

bool ByteReader::refill() {
  // Keep unread input at the front, then append what the file has.
  if (zs_.avail_in > 0 && zs_.next_in != in_.data())
    std::memmove(in_.data(), zs_.next_in, zs_.avail_in);
  const size_t have = zs_.avail_in;
  const size_t got = std::fread(in_.data() + have, 1, in_.size() - have, file_);
  if (got == 0 && std::ferror(file_))
    fail("read error at compressed byte offset " + std::to_string(file_read_) + " (" +
         std::strerror(errno) + ")");
  file_read_ += got;
  zs_.next_in = in_.data();
  zs_.avail_in = static_cast<uInt>(have + got);
  return got > 0;
}

size_t ByteReader::read_gzip(uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (stream_end_) {
      // A gzip file may hold several members; anything else after the first is an error.
      if (zs_.avail_in < 2 && !(refill() || zs_.avail_in > 0)) break;
      if (zs_.avail_in < 2) refill();
      if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
        inflateReset(&zs_);
        stream_end_ = false;
      } else {
        fail("unexpected data after the end of the gzip stream at compressed byte offset " +
             std::to_string(compressed_offset()) + ": expected the end of the file, found " +
             std::to_string(file_size_ - compressed_offset()) + " more bytes");
      }
    }
    if (zs_.avail_in == 0 && !refill())
      fail(
          "truncated gzip stream: expected more compressed data, found the end of the file at "
          "compressed byte offset " +
          std::to_string(file_read_) + " (uncompressed offset " + std::to_string(offset_ + done) +
          ")");
    const size_t want = std::min<size_t>(n - done, size_t{1} << 30);
    zs_.next_out = dst + done;
    zs_.avail_out = static_cast<uInt>(want);
    const int ret = inflate(&zs_, Z_NO_FLUSH);
    done += want - zs_.avail_out;
    if (ret == Z_STREAM_END) {
      stream_end_ = true;
    } else if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT || ret == Z_STREAM_ERROR) {
      fail("corrupt gzip stream at compressed byte offset " + std::to_string(compressed_offset()) +
           ": expected valid deflate data, found " + (zs_.msg ? zs_.msg : "invalid data"));
    } else if (ret == Z_MEM_ERROR) {
      fail("zlib ran out of memory");
    }
    // Z_OK or Z_BUF_ERROR: more input or output needed; the loop provides it.
  }
  return done;
}

void ByteReader::declare_size(uint64_t total, const std::string& what) {
  if (offset_ > total)
    fail("expected " + what + " of " + std::to_string(total) + " bytes, found " +
         std::to_string(offset_) + " bytes read already");
  declared_ = true;
  declared_size_ = total;
  declared_what_ = what;
}

size_t ByteReader::read_some(uint8_t* dst, size_t n) {
  // Past a declared size, one byte is read to tell that there is more, and no more than that.
  if (declared_) n = static_cast<size_t>(std::min<uint64_t>(n, declared_size_ - offset_ + 1));
  size_t got = 0;
  if (gzip_) {
    got = read_gzip(dst, n);
  } else {
    got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_))
      fail("read error at byte offset " + std::to_string(offset_ + got) + " (" +
           std::strerror(errno) + ")");
  }
  offset_ += got;
  if (declared_ && offset_ > declared_size_)
    fail("unexpected data: expected the end of the file after " + declared_what_ +
         " at byte offset " + std::to_string(declared_size_) + ", found " +
         (gzip_ ? std::string("more (uncompressed) content; the rest was not decompressed")
                : std::to_string(file_size_ - declared_size_) + " more bytes"));
  return got;
}

void ByteReader::read_exact(uint8_t* dst, size_t n, const std::string& part) {
  const uint64_t start = offset_;
  const size_t got = read_some(dst, n);
  if (got < n)
    fail(std::string("truncated") + (gzip_ ? " (uncompressed content)" : "") + ": expected " +
         part + ": " + std::to_string(n) + " bytes at byte offset " + std::to_string(start) +
         ", found " + std::to_string(got) + " bytes before the end of the file");
}

void ByteReader::read_append(std::vector<uint8_t>& out, uint64_t n, const std::string& part) {
  const uint64_t start = offset_;
  auto truncated = [&](uint64_t found) {
    fail(std::string("truncated") + (gzip_ ? " (uncompressed content)" : "") + ": expected " +
         part + ": " + std::to_string(n) + " bytes at byte offset " + std::to_string(start) +
         ", found " + std::to_string(found) + " bytes before the end of the file");
  };
  // Refuse sizes the file cannot possibly hold before allocating anything.
  if (!gzip_ && n > file_size_ - std::min(file_size_, offset_)) truncated(file_size_ - offset_);
  if (gzip_ && n / kMaxDeflateRatio > file_size_)
    fail("expected " + part + ": " + std::to_string(n) + " bytes at byte offset " +
         std::to_string(start) + ", found a gzip file of " + std::to_string(file_size_) +
         " bytes, which cannot hold that much");
  const size_t base = out.size();
  uint64_t done = 0;
  while (done < n) {
    const uint64_t step = gzip_ ? std::min(n - done, std::max(kGrowChunk, done)) : n - done;
    out.resize(base + done + step);
    const size_t got = read_some(out.data() + base + done, step);
    done += got;
    if (got < step) {
      out.resize(base + done);
      truncated(done);
    }
  }
}

void ByteReader::expect_end(const std::string& after) {
  const uint64_t at = offset_;
  if (!gzip_) {
    // A raw file's size tells at once.
    if (file_size_ > at)
      fail("unexpected data: expected the end of the file after " + after + " at byte offset " +
           std::to_string(at) + ", found " + std::to_string(file_size_ - at) + " more bytes");
    return;
  }
  // Reading on drives inflate to the end of the stream, where zlib checks the CRC and the length;
  // with the size declared as what was read, the first byte beyond is refused (read_some) without
  // decompressing the rest.
  declare_size(at, after);
  uint8_t probe = 0;
  read_some(&probe, 1);
}

}  // namespace qt
