#include "app/report/report_markdown.h"

#include <algorithm>
#include <cctype>

#include "app/text/text_format.h"

namespace qt {

namespace {

// Every string of the document may hold user data (a sweep's name, a configuration value, a
// failed run's message): it is written as literal text, so that it can neither add HTML nor
// break a table row, start a code span or link, or end its line. HTML's own characters become
// entities, Markdown's are backslash-escaped, line breaks become spaces.
std::string inline_text(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (const char* e = markup_entity(c, /*quotes=*/false)) {
      r += e;
      continue;
    }
    switch (c) {
      case '\\':
      case '`':
      case '*':
      case '[':
      case ']':
      case '|':
        r += '\\';
        r += c;
        break;
      case '\n':
      case '\r':
        r += ' ';
        break;
      default:
        r += c;
    }
  }
  return r;
}

// The same at the start of a line, where a leading #, -, +, =, ~ or "1." would start a heading,
// a list or a code fence.
std::string line_text(const std::string& s) {
  std::string r = inline_text(s);
  size_t digits = 0;
  while (digits < r.size() && std::isdigit(static_cast<unsigned char>(r[digits]))) ++digits;
  if (digits > 0 && digits < r.size() && (r[digits] == '.' || r[digits] == ')'))
    r.insert(digits, 1, '\\');
  else if (!r.empty() && std::string("#-+=~").find(r[0]) != std::string::npos)
    r.insert(0, 1, '\\');
  return r;
}

std::string cell(const std::string& s) {
  const std::string r = inline_text(s);
  return r.empty() ? " " : r;
}

void render_table(const DocTable& t, std::string& o) {
  auto right = [&](size_t c) { return c < t.right.size() && t.right[c]; };
  o += "|";
  for (auto& h : t.header) {
    o += ' ';
    o += cell(h);
    o += " |";
  }
  o += "\n|";
  for (size_t c = 0; c < t.header.size(); ++c) o += right(c) ? " ---: |" : " --- |";
  o += "\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const bool best = r < t.emphasis.size() && t.emphasis[r];
    o += "|";
    for (auto& v : t.rows[r]) {
      const bool bold = best && !v.empty();
      o += bold ? " **" : " ";
      o += cell(v);
      o += bold ? "** |" : " |";
    }
    o += "\n";
  }
  o += "\n";
}

// Whether a section has anything Markdown shows (text or tables), itself or below.
bool has_text(const DocSection& s) {
  if (!s.in_markdown) return false;
  for (const DocItem& item : s.items)
    if (!std::holds_alternative<DocFigure>(item)) return true;
  for (const DocSection& c : s.children)
    if (has_text(c)) return true;
  return false;
}

void render_section(const DocSection& s, int level, std::string& o) {
  if (!has_text(s)) return;
  o += std::string(static_cast<size_t>(std::min(level, 6)), '#') + " " + inline_text(s.title) +
       "\n\n";
  for (const DocItem& item : s.items) {
    if (auto* t = std::get_if<DocText>(&item))
      o += (t->warning ? "> **Note:** " + inline_text(t->text) : line_text(t->text)) + "\n\n";
    else if (auto* tab = std::get_if<DocTable>(&item))
      render_table(*tab, o);
  }
  for (const DocSection& c : s.children) render_section(c, level + 1, o);
}

}  // namespace

std::string render_markdown(const ReportDoc& doc) {
  std::string o = "# " + inline_text(doc.title) + "\n\n";
  for (auto& line : doc.subtitle) o += line_text(line) + "  \n";
  if (!doc.subtitle.empty()) o += "\n";
  o += "The plots are in report.html, beside this file.\n\n";
  for (auto& s : doc.sections) render_section(s, 2, o);
  return o;
}

}  // namespace qt
