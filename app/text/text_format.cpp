#include "app/text/text_format.h"

#include <cmath>
#include <cstdio>

namespace qt {

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "–";
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string percent(double fraction) {
  if (!std::isfinite(fraction)) return "–";
  char b[32];
  std::snprintf(b, sizeof b, "%.2f %%", 100 * fraction);
  return b;
}

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // continuation bytes are 10xxxxxx
  return n;
}

std::string pad(const std::string& s, size_t width, bool right) {
  const size_t shown = display_width(s);
  const std::string fill(shown < width ? width - shown : 0, ' ');
  return right ? fill + s : s + fill;
}

const char* markup_entity(char c, bool quotes) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return quotes ? "&quot;" : nullptr;
    case '\'':
      return quotes ? "&#39;" : nullptr;
    default:
      return nullptr;
  }
}

std::string xml_escape(const std::string& s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    if (const char* e = markup_entity(c))
      r += e;
    else
      r += c;
  }
  return r;
}

}  // namespace qt
