// The report in a real browser: real runs trained by $QTRAIN_BIN (a small sweep folder and one
// run), their report.html rendered by headless Chromium (tools/browser-test, which installs
// Debian's chromium when it is missing), then the screenshot and the browser's DOM are checked:
// the page is not blank, the plots' lines are drawn in their colours, and every <svg> the
// browser built has a line with points in it.
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <regex>

#include "app/report/report.h"
#include "test_sweep_util.h"

using namespace sweep_test;

namespace {

void train(const fs::path& out, const std::vector<std::string>& extra, const fs::path& log) {
  std::vector<std::string> args = {
      qtrain_bin(),   "train", "--model",       "mlp-bn", "--epochs",     "4",
      "--batch-size", "64",    "--limit-train", "1500",   "--limit-test", "500",
      "--optimizer",  "adam",  "--lr",          "0.003",  "--threads",    "2",
      "--quiet",      "--out", out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  REQUIRE_MESSAGE(wait_exit(spawn(args, log)) == 0, "qtrain train failed: " << slurp(log));
}

// An 8-bit RGB or RGBA PNG, non-interlaced (what Chromium writes), decoded to RGB.
struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

Image decode_png(const std::string& png) {
  REQUIRE(png.size() > 8);
  REQUIRE(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  Image img;
  int color_type = -1, depth = 0, interlace = 0;
  std::string idat;
  for (size_t at = 8; at + 8 <= png.size();) {
    const uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    REQUIRE(at + 12 + len <= png.size());
    if (type == "IHDR") {
      img.width = int(be32(png, at + 8));
      img.height = int(be32(png, at + 12));
      depth = uint8_t(png[at + 16]);
      color_type = uint8_t(png[at + 17]);
      interlace = uint8_t(png[at + 20]);
    } else if (type == "IDAT") {
      idat += png.substr(at + 8, len);
    } else if (type == "IEND") {
      break;
    }
    at += 12 + len;
  }
  REQUIRE(depth == 8);
  REQUIRE((color_type == 2 || color_type == 6));
  REQUIRE(interlace == 0);
  const size_t bpp = color_type == 6 ? 4 : 3, stride = size_t(img.width) * bpp;
  std::vector<uint8_t> raw((stride + 1) * size_t(img.height));
  uLongf raw_len = raw.size();
  REQUIRE(uncompress(raw.data(), &raw_len, reinterpret_cast<const Bytef*>(idat.data()),
                     idat.size()) == Z_OK);
  REQUIRE(raw_len == raw.size());
  std::vector<uint8_t> prev(stride, 0), cur(stride);
  img.rgb.reserve(size_t(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t filter = raw[size_t(y) * (stride + 1)];
    const uint8_t* line = &raw[size_t(y) * (stride + 1) + 1];
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      int pred = 0;
      switch (filter) {
        case 0:
          pred = 0;
          break;
        case 1:
          pred = a;
          break;
        case 2:
          pred = b;
          break;
        case 3:
          pred = (a + b) / 2;
          break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          FAIL("PNG filter type " << int(filter));
      }
      cur[i] = uint8_t(line[i] + pred);
    }
    for (int x = 0; x < img.width; ++x)
      for (int k = 0; k < 3; ++k) img.rgb.push_back(cur[size_t(x) * bpp + k]);
    std::swap(prev, cur);
  }
  return img;
}

size_t pixels_near(const Image& img, int r, int g, int b, int tolerance) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += std::abs(img.rgb[i] - r) <= tolerance && std::abs(img.rgb[i + 1] - g) <= tolerance &&
         std::abs(img.rgb[i + 2] - b) <= tolerance;
  return n;
}

double non_white_share(const Image& img) {
  size_t n = 0;
  for (size_t i = 0; i + 2 < img.rgb.size(); i += 3)
    n += img.rgb[i] < 230 || img.rgb[i + 1] < 230 || img.rgb[i + 2] < 230;
  return double(n) / double(img.rgb.size() / 3);
}

// Every <svg> element of the DOM has a line or a bar with at least two points ("M… L…").
void check_dom(const std::string& dom, const std::string& html) {
  const size_t svgs = count(dom, "<svg");
  CHECK(svgs == count(html, "<svg"));  // the browser built every plot of the page
  CHECK(svgs >= 4);
  const std::regex drawn(R"re(<path[^>]*class="(line|band)"[^>]*\sd="M[-0-9. ]+ L[-0-9. ]+)re");
  for (size_t at = dom.find("<svg"), k = 0; at != std::string::npos;
       at = dom.find("<svg", at + 4), ++k) {
    const size_t end = dom.find("</svg>", at);
    REQUIRE_MESSAGE(end != std::string::npos, "svg " << k << " is not closed");
    const std::string svg = dom.substr(at, end - at);
    const size_t title_at = svg.find("<title>");
    const std::string title = title_at == std::string::npos
                                  ? "?"
                                  : svg.substr(title_at + 7, svg.find("</title>") - title_at - 7);
    CHECK_MESSAGE(std::regex_search(svg, drawn),
                  "svg " << k << " (" << title << ") has no drawn line");
  }
  CHECK(dom.find("parsererror") == std::string::npos);
}

void check_screenshot(const fs::path& png, int width, int height) {
  const Image img = decode_png(slurp(png));
  CHECK(img.width == width);
  CHECK(img.height == height);
  // Not a blank page (a blank one is 0; these pages measure 4–8 %).
  CHECK(non_white_share(img) > 0.02);
  // The first two series colours (#4e79a7, #f28e2b): the plots' lines were drawn (these pages
  // have 2 800 to 6 100 pixels of each; text and tables have none).
  CHECK(pixels_near(img, 0x4e, 0x79, 0xa7, 40) > 1500);
  CHECK(pixels_near(img, 0xf2, 0x8e, 0x2b, 40) > 800);
}

}  // namespace

TEST_CASE("report.html of a real sweep and of a real run, rendered by headless Chromium") {
  const fs::path root = scratch("report-browser");
  const Cleanup cleanup{root};
  const fs::path sweep = root / "sweep";
  // A sweep folder without a plan: two algorithms × two seeds, trained for real.
  for (int seed : {0, 1}) {
    train(sweep / ("algo=bcgd,seed=" + std::to_string(seed)),
          {"--algo", "bcgd", "--act-bits", "2", "--seed", std::to_string(seed)},
          root / "train.log");
    train(sweep / ("algo=binaryrelax,seed=" + std::to_string(seed)),
          {"--algo", "binaryrelax", "--projection", "ternary", "--phase2-epoch", "2", "--seed",
           std::to_string(seed)},
          root / "train.log");
  }
  const qt::ReportFiles sf = qt::write_report(sweep.string(), {});
  CHECK(sf.points == 2);
  const fs::path run_dir = sweep / "algo=binaryrelax,seed=0";
  const qt::ReportFiles rf = qt::write_report(run_dir.string(), {});

  const std::string tool = env("QTRAIN_SOURCE_DIR") + "/tools/browser-test";
  struct Page {
    std::string html;
    fs::path out;
    int w, h;
  };
  for (const Page& p : {Page{sf.html, root / "shot-sweep", 1400, 2400},
                        Page{rf.html, root / "shot-run", 1400, 1800}}) {
    INFO("page " << p.html);
    const fs::path log = root / "browser.log";
    const int code = wait_exit(spawn({tool, p.html, p.out.string(), "--window-size",
                                      std::to_string(p.w) + "," + std::to_string(p.h)},
                                     log));
    REQUIRE_MESSAGE(code == 0, "tools/browser-test failed (" << code << "): " << slurp(log));
    check_screenshot(p.out / "screenshot.png", p.w, p.h);
    check_dom(slurp(p.out / "dom.html"), slurp(p.html));
  }
}
