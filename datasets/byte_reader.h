#pragma once
// Sequential reading of a dataset file, raw or gzip (detected by its magic bytes, not its name),
// that never trusts a size it has not seen: a header may claim anything, but no more memory is
// allocated than the file's actual content, and every failure names the file, what was expected,
// what was found and the byte offset.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace qt {

class ByteReader {
 public:
  // `what` describes the file for messages, e.g. "an IDX image file". Throws DataError when the
  // path does not exist, is a directory, is empty or cannot be opened.
  ByteReader(std::string path, std::string what);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  const std::string& path() const { return path_; }
  bool gzip() const { return gzip_; }
  uint64_t file_size() const { return file_size_; }
  // Bytes of content (decompressed, for gzip) consumed so far: the offset used in messages.
  uint64_t offset() const { return offset_; }

  // Reads up to n bytes; fewer only at the end of the content.
  size_t read_some(uint8_t* dst, size_t n);
  // Reads exactly n bytes of `part` (e.g. "the header"), or throws naming where the file ended.
  void read_exact(uint8_t* dst, size_t n, const std::string& part);
  // Appends exactly n bytes to `out`. The buffer grows with the data actually read, so a
  // header that lies about n cannot make it allocate more than the file holds.
  void read_append(std::vector<uint8_t>& out, uint64_t n, const std::string& part);
  // The content's whole size (header included) as the header declares it, `what` describing it
  // for messages. From then on no read goes more than one byte past it, and that byte is an
  // error: a gzip file holding more than its header says (a gzip bomb) is refused without
  // decompressing the rest.
  void declare_size(uint64_t total, const std::string& what);
  // Throws if any content is left after what was read (the header then undercounts the data).
  // For gzip this also reads to the end of the stream, which checks its CRC and length; past a
  // declared size, one more byte of content is enough to refuse the file.
  void expect_end(const std::string& after);

  // "path: message" as a DataError.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  size_t read_gzip(uint8_t* dst, size_t n);
  bool refill();
  uint64_t compressed_offset() const;

  std::string path_, what_;
  std::FILE* file_ = nullptr;
  uint64_t file_size_ = 0;
  uint64_t offset_ = 0;
  bool gzip_ = false;
  bool declared_ = false;
  uint64_t declared_size_ = 0;
  std::string declared_what_;
  // gzip state
  z_stream zs_{};
  bool zs_init_ = false;
  bool stream_end_ = false;
  uint64_t file_read_ = 0;  // compressed bytes read from the file so far
  std::vector<uint8_t> in_;
};

}  // namespace qt
