#pragma once
// The report as a document: sections of text, tables and figures. One document is written
// twice: as report.html (everything, figures as inline SVG) and as report.md (the text and the
// tables), so the two always agree.
#include <string>
#include <variant>
#include <vector>

namespace qt {

struct DocText {
  std::string text;
  bool warning = false;  // shown highlighted: a run in progress, a failed run
};

struct DocTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> right;     // per column: right-aligned (numbers)
  std::vector<bool> emphasis;  // per row: bold (the best point)
};

struct DocFigure {
  std::string svg;  // one <svg> element
};

using DocItem = std::variant<DocText, DocTable, DocFigure>;

struct DocSection {
  std::string title, anchor;
  bool collapsed = false;   // HTML: folded (<details>), for long tables and per-point detail
  bool in_markdown = true;  // also written to report.md (its text and tables; a section with
                            // neither, only figures, is left out of report.md)
  std::vector<DocItem> items = {};
  std::vector<DocSection> children = {};
};

struct ReportDoc {
  std::string title;
  std::vector<std::string> subtitle;  // lines under the title
  std::vector<DocSection> sections;
};

}  // namespace qt
