#include "app/run/best_epoch.h"

namespace qt {

using json = nlohmann::json;

namespace {

std::optional<double> number(const json& rec, const char* key) {
  if (!rec.is_object()) return std::nullopt;
  auto it = rec.find(key);
  if (it == rec.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

}  // namespace

bool fully_quantized(const json& record) {
  if (!record.is_object()) return false;
  auto it = record.find("algorithm");
  if (it == record.end() || !it->is_object()) return true;
  auto f = it->find("fully_quantized");
  return f == it->end() || !f->is_boolean() || f->get<bool>();
}

BestEpoch best_epoch(const std::vector<json>& records) {
  BestEpoch b;
  bool has_val = false, any_quantized = false;
  for (const json& r : records) {
    has_val = has_val || number(r, "val_acc");
    any_quantized = any_quantized || fully_quantized(r);
  }
  b.selected_by = has_val ? "val_acc" : "test_acc";
  double best = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const bool quantized = fully_quantized(records[i]);
    const auto test = number(records[i], "test_acc");
    if (quantized && test) b.max_test = b.max_test ? std::max(*b.max_test, *test) : *test;
    // Model selection never looks at the test set when there is a validation split, and a
    // quantization method's result is a quantized network (BinaryRelax's code resets its best
    // when phase II starts).
    const auto key = number(records[i], b.selected_by.c_str());
    if (key && (quantized || !any_quantized) && (!b.index || *key > best)) {
      b.index = i;
      best = *key;
    }
  }
  if (b.index) b.fully_quantized = fully_quantized(records[*b.index]);
  return b;
}

}  // namespace qt
