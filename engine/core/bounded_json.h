#pragma once
// JSON from a file someone handed us (a config, a sweep, a checkpoint's meta section, a package
// manifest, a run's records). nlohmann's parser is iterative, but copying, comparing, printing and
// our own walks over a value recurse: a few hundred kilobytes of "[[[[…" would overflow the stack.
// Nesting deeper than kMaxJsonDepth is therefore refused as a parse error, which every caller
// already turns into its own clear message.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace qt {

// Far deeper than any file qtrain writes or reads (a sweep file nests about five levels).
constexpr int kMaxJsonDepth = 64;

// A number too large for a double ("1e999") is a parse error here too, not an out_of_range.
template <class Json = nlohmann::json, class Input>
Json parse_bounded_json(Input&& input) {
  using Event = typename Json::parse_event_t;
  try {
    return Json::parse(std::forward<Input>(input), [](int depth, Event event, Json&) {
      if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxJsonDepth)
        throw Json::parse_error::create(
            101, 0,
            "nesting deeper than " + std::to_string(kMaxJsonDepth) +
                " levels of objects and lists: expected a flatter document",
            static_cast<const Json*>(nullptr));
      return true;
    });
  } catch (const typename Json::out_of_range& e) {
    const std::string what = e.what();  // "[json.exception.out_of_range.406] number overflow …"
    throw Json::parse_error::create(101, 0, what.substr(what.find(']') + 2),
                                    static_cast<const Json*>(nullptr));
  }
}

}  // namespace qt
