// A sweep whose name, description and configuration strings are hostile (a <script> element, an
// attribute break-out with <img onerror>, a table pipe, a line break, backticks, an ampersand),
// trained for real (one run succeeds, one fails with its error message quoting the string) and
// reported with qtrain report: neither report.html nor report.md may contain the raw markup, both
// must show the text escaped, and every table row of report.md keeps its columns.
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

const std::string kScript = "<script>alert(1)</script>";
const std::string kImg = "\"><img src=x onerror=alert(1)>";
const std::string kHostile = kScript + kImg + " | `code` & \n# line2";

// Unescaped '|' of a Markdown line (a "\|" is text).
size_t pipes(const std::string& line) {
  size_t n = 0;
  for (size_t i = 0; i < line.size(); ++i)
    if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++n;
  return n;
}

}  // namespace

TEST_CASE("qtrain report escapes a hostile sweep name, description and config strings") {
  const fs::path root = scratch("report-escaping");
  const Cleanup cleanup{root};
  // data.dir is free text; for the synthetic set it is not read, for mnist it is searched and
  // the run fails with a message that quotes it.
  const json sweep = {{"name", kHostile},
                      {"description", kHostile},
                      {"base",
                       {{"model", "mlp"},
                        {"data", {{"val_size", 0}, {"synthetic", {{"size", {64, 32}}}}}},
                        {"epochs", 1},
                        {"batch_size", 32}}},
                      {"zip", json::array({{{"data.name", {"synthetic", "mnist"}},
                                            {"data.dir", {kHostile, kImg + "|x"}}}})},
                      {"out", "sweep"}};
  write(root / "hostile.json", sweep.dump());
  const Streams s =
      run_streams({qtrain_bin(), "sweep", "hostile.json", "--threads", "1", "--jobs", "1"}, root);
  CHECK_MESSAGE(s.code == 1, s.out << s.err);  // the mnist run fails: no such folder
  const Streams r = run_streams({qtrain_bin(), "report", "sweep"}, root);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string html = slurp(root / "sweep/report.html"), md = slurp(root / "sweep/report.md");

  for (const std::string& raw : {std::string("<script"), std::string("<img"), kImg}) {
    INFO(raw);
    CHECK(html.find(raw) == std::string::npos);
    CHECK(md.find(raw) == std::string::npos);
  }
  // HTML: the name in the title and heading, the value in the configuration table, the failed
  // run's message; all as text.
  CHECK(count(html,
              "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x "
              "onerror=alert(1)&gt; | `code` &amp; \n# line2") >= 2);
  CHECK(html.find("<title>qtrain report: sweep &lt;script&gt;") != std::string::npos);
  CHECK(html.find("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;|x") != std::string::npos);
  // Markdown: entities for the markup, backslashes for Markdown's own characters, no line break.
  const std::string md_hostile =
      "&lt;script&gt;alert(1)&lt;/script&gt;\"&gt;&lt;img src=x onerror=alert(1)&gt; \\| "
      "\\`code\\` &amp;  # line2";
  CHECK(md.find("# qtrain report: sweep " + md_hostile + "\n") == 0);
  CHECK(count(md, md_hostile) >= 2);  // the title, and data.dir in a table
  CHECK(md.find("\"&gt;&lt;img src=x onerror=alert(1)&gt;\\|x") != std::string::npos);
  CHECK(md.find("\n# line2") == std::string::npos);
  CHECK(md.find("\nline2") == std::string::npos);
  // Every row of every table has as many columns as its header.
  std::istringstream lines(md);
  std::string line;
  size_t header = 0, rows = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '|') {
      header = 0;
      continue;
    }
    if (header == 0) {
      header = pipes(line);
      continue;
    }
    INFO(line);
    CHECK(pipes(line) == header);
    ++rows;
  }
  CHECK(rows > 5);
}
