#include "app/package/npy_file.h"

namespace qt {

std::string npy_bytes(const Tensor& t) {
  std::string shape;
  for (int i = 0; i < t.ndim(); ++i) shape += std::to_string(t.dim(i)) + ", ";
  if (t.ndim() > 1) shape.resize(shape.size() - 1);  // "(2, 3)"; a 1-D shape keeps "(5,)"
  if (t.ndim() > 1) shape.pop_back();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  // magic (6) + version (2) + header length (2) + header + '\n': a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  out += header;
  out.append(reinterpret_cast<const char*>(t.data()), t.size() * sizeof(float));
  return out;
}

}  // namespace qt
