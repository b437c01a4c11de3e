#pragma once
// report.md: the report's text and tables (GitHub-flavoured Markdown), without the figures.
#include <string>

#include "app/report/report_doc.h"

namespace qt {

std::string render_markdown(const ReportDoc& doc);

}  // namespace qt
