// report.html: one self-contained page (inline CSS and SVG, no scripts, no network).
#include "app/report/report_html.h"

#include <algorithm>

#include "app/text/text_format.h"

namespace qt {

namespace {

const char* kStyle = R"(
body { font-family: Helvetica, Arial, sans-serif; color: #222; line-height: 1.45; margin: 24px auto;
       max-width: 1340px; padding: 0 16px; background: #fff; }
h1 { font-size: 1.55em; margin: 0 0 6px; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 30px; }
h3 { font-size: 1.08em; margin-top: 22px; }
h4 { font-size: 1em; margin-top: 16px; }
p.sub { color: #555; margin: 2px 0; }
nav { background: #f7f7f7; border: 1px solid #e5e5e5; padding: 8px 14px; margin: 14px 0; font-size: 14px; }
nav ul { margin: 4px 0; padding-left: 18px; columns: 2; }
.figs { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; margin: 10px 0; }
.figs svg { max-width: 100%; height: auto; border: 1px solid #e5e5e5; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e5e5e5; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: bold; }
p.warn { background: #fff4d6; border-left: 4px solid #e0a100; padding: 6px 10px; }
details { margin: 12px 0; }
details > summary { cursor: pointer; font-weight: bold; font-size: 1.05em; }
footer { color: #777; font-size: 12px; margin-top: 40px; border-top: 1px solid #eee; padding-top: 8px; }
)";

void render_table(const DocTable& t, std::string& o) {
  auto right = [&](size_t c) { return c < t.right.size() && t.right[c]; };
  o += "<div class=\"tablewrap\"><table>\n<thead><tr>";
  for (size_t c = 0; c < t.header.size(); ++c)
    o += std::string(right(c) ? "<th class=\"r\">" : "<th>") + xml_escape(t.header[c]) + "</th>";
  o += "</tr></thead>\n<tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const bool best = r < t.emphasis.size() && t.emphasis[r];
    o += best ? "<tr class=\"best\">" : "<tr>";
    for (size_t c = 0; c < t.rows[r].size(); ++c)
      o += std::string(right(c) ? "<td class=\"r\">" : "<td>") + xml_escape(t.rows[r][c]) + "</td>";
    o += "</tr>\n";
  }
  o += "</tbody></table></div>\n";
}

void render_section(const DocSection& s, int level, std::string& o) {
  std::string h = "h";
  h += std::to_string(std::min(level, 6));
  o += "<section" + (s.anchor.empty() ? std::string() : " id=\"" + xml_escape(s.anchor) + "\"") +
       ">\n";
  if (s.collapsed)
    o += "<details><summary>" + xml_escape(s.title) + "</summary>\n";
  else
    o += "<" + h + ">" + xml_escape(s.title) + "</" + h + ">\n";
  bool in_figs = false;
  for (const DocItem& item : s.items) {
    const bool fig = std::holds_alternative<DocFigure>(item);
    if (fig && !in_figs) o += "<div class=\"figs\">\n";
    if (!fig && in_figs) o += "</div>\n";
    in_figs = fig;
    if (auto* t = std::get_if<DocText>(&item))
      o += std::string(t->warning ? "<p class=\"warn\">" : "<p>") + xml_escape(t->text) + "</p>\n";
    else if (auto* tab = std::get_if<DocTable>(&item))
      render_table(*tab, o);
    else
      o += std::get<DocFigure>(item).svg;
  }
  if (in_figs) o += "</div>\n";
  for (const DocSection& c : s.children) render_section(c, level + 1, o);
  if (s.collapsed) o += "</details>\n";
  o += "</section>\n";
}

}  // namespace

std::string render_html(const ReportDoc& doc) {
  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += "<meta name=\"generator\" content=\"qtrain report\">\n";
  o += "<title>" + xml_escape(doc.title) + "</title>\n<style>" + kStyle +
       "</style>\n</head>\n<body>\n<header>\n";
  o += "<h1>" + xml_escape(doc.title) + "</h1>\n";
  for (auto& line : doc.subtitle) o += "<p class=\"sub\">" + xml_escape(line) + "</p>\n";
  o += "</header>\n<nav><strong>Contents</strong>\n<ul>\n";
  for (auto& s : doc.sections)
    if (!s.anchor.empty())
      o += "<li><a href=\"#" + xml_escape(s.anchor) + "\">" + xml_escape(s.title) + "</a></li>\n";
  o += "</ul>\n</nav>\n<main>\n";
  for (auto& s : doc.sections) render_section(s, 2, o);
  o += "</main>\n<footer>Written by <code>qtrain report</code>: the plots are inline SVG, the page "
       "needs no network "
       "and no scripts. The same tables are in report.md.</footer>\n</body>\n</html>\n";
  return o;
}

}  // namespace qt
