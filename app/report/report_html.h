#pragma once
// report.html: the whole document, its figures as inline SVG.
#include <string>

#include "app/report/report_doc.h"

namespace qt {

std::string render_html(const ReportDoc& doc);

}  // namespace qt
