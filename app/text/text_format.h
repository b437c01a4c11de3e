#pragma once
// How qtrain writes numbers and text for people: terminal tables, report.md and report.html.
// Unknown numbers (NaN, ±inf) are written as "–".
#include <cstddef>
#include <string>

namespace qt {

std::string fixed(double v, int decimals);  // fixed(0.43118, 4) = "0.4312"
std::string percent(double fraction);       // 0.8921 → "89.21 %"

// Characters shown: UTF-8 code points, so that "×" or "±" count as one.
size_t display_width(const std::string& s);
// `s` filled with blanks to `width` characters shown, after it (or before it: `right`-aligned).
std::string pad(const std::string& s, size_t width, bool right = false);

// The entity of a character that HTML and XML text give a meaning to (&, <, >, and with
// `quotes` also " and '); nullptr for any other character.
const char* markup_entity(char c, bool quotes = true);
// `s` as literal text inside an element or an attribute value.
std::string xml_escape(const std::string& s);

}  // namespace qt
