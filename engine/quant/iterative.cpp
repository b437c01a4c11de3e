#include "engine/quant/iterative.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "engine/core/error.h"
#include "engine/core/random.h"
#include "engine/models/model.h"
#include "engine/quant/sensitivity.h"

namespace qt {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string r;
  for (auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}

std::vector<std::string> split_names(const std::string& s) {
  std::vector<std::string> r;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) r.push_back(item);
  return r;
}

// `given` must name every layer of `layers` exactly once.
void check_permutation(const std::vector<std::string>& given,
                       const std::vector<std::string>& layers, const std::string& what) {
  std::set<std::string> seen;
  for (auto& n : given) {
    if (std::find(layers.begin(), layers.end(), n) == layers.end())
      throw UsageError(what + ": '" + n +
                       "' is not a quantized layer (quantized, in forward order: " + join(layers) +
                       ")");
    if (!seen.insert(n).second) throw UsageError(what + ": layer '" + n + "' appears twice");
  }
  std::vector<std::string> missing;
  for (auto& n : layers)
    if (!seen.count(n)) missing.push_back(n);
  if (!missing.empty())
    throw UsageError(what + ": must name every quantized layer once; missing " + join(missing));
}

}  // namespace

std::vector<std::string> iterative_order(const std::vector<std::string>& layers,
                                         const std::string& order, uint64_t seed,
                                         const std::string& model) {
  if (order == "forward") return layers;
  if (order == "reverse") return {layers.rbegin(), layers.rend()};
  if (order == "random") {
    // Fisher–Yates from the run's seed: the same seed gives the same order.
    std::vector<std::string> r = layers;
    Rng rng(derive(seed, "layer-order"));
    for (size_t i = r.size(); i > 1; --i) std::swap(r[i - 1], r[rng.below(i)]);
    return r;
  }
  for (const char* prefix : {"sensitivity-ascending", "sensitivity-descending"}) {
    const std::string p = prefix;
    if (order.rfind(p, 0) != 0) continue;
    if (order.size() <= p.size() + 1 || order[p.size()] != ':')
      throw UsageError("--order " + order + ": give the sensitivity file as " + p +
                       ":FILE (write one with `qtrain sensitivity`)");
    const std::string path = order.substr(p.size() + 1);
    const SensitivityReport rep = read_sensitivity(path);
    if (!model.empty() && rep.model != model)
      throw UsageError("--order: the sensitivity file " + path + " is for model " + rep.model +
                       ", this run trains " + model);
    std::vector<std::string> r = sensitivity_order(rep, p == "sensitivity-ascending");
    check_permutation(r, layers, "--order: the sensitivity file " + path);
    return r;
  }
  const std::vector<std::string> r = split_names(order);
  if (r.size() == 1 && std::find(layers.begin(), layers.end(), r[0]) == layers.end())
    throw UsageError("--order '" + order +
                     "': expected forward, reverse, random, sensitivity-ascending:FILE, "
                     "sensitivity-descending:FILE "
                     "or a comma-separated list of the quantized layers (" +
                     join(layers) + ")");
  check_permutation(r, layers, "--order");
  return r;
}

int first_binary_epoch(int rank, int epochs_per_layer, int layers, int epochs) {
  if (epochs_per_layer > 0) return rank * epochs_per_layer;
  return static_cast<int>(static_cast<long long>(rank) * epochs / std::max(1, layers));
}

int binary_count(int epoch, int epochs_per_layer, int layers, int epochs) {
  if (epochs_per_layer > 0) return std::min(layers, epoch / epochs_per_layer + 1);
  // spread: layer i is binary once ⌊i·epochs/L⌋ ≤ epoch, i.e. i < (epoch + 1)·L / epochs
  const long long n = (static_cast<long long>(epoch) + 1) * layers;
  return static_cast<int>(std::min<long long>(layers, (n + epochs - 1) / std::max(1, epochs)));
}

void check_iterative_schedule(int layers, int epochs_per_layer, int epochs) {
  if (layers <= 0 || epochs_per_layer == 0) return;  // spread: the last layer at ⌊(L−1)·E/L⌋ < E
  const long long need = static_cast<long long>(layers - 1) * epochs_per_layer + 1;
  if (need > epochs)
    throw UsageError(
        "iterative: the last of " + std::to_string(layers) + " layers becomes binary at epoch " +
        std::to_string(need) + " (" + std::to_string(layers - 1) + " × --epochs-per-layer " +
        std::to_string(epochs_per_layer) + " + 1), after the run's " + std::to_string(epochs) +
        " epochs: raise --epochs or lower --epochs-per-layer");
}

void Iterative::on_attach(Model& model) {
  std::vector<std::string> names;
  for (QuantTarget& t : targets_) names.push_back(t.layer());
  order_names_ = iterative_order(names, opt_.order, opt_.seed, model.name);
  rank_.assign(targets_.size(), 0);
  for (size_t i = 0; i < targets_.size(); ++i)
    rank_[i] = static_cast<int>(std::find(order_names_.begin(), order_names_.end(), names[i]) -
                                order_names_.begin());
  binary_.assign(targets_.size(), 0);
}

void Iterative::on_epoch(int epoch) {
  const int k =
      binary_count(epoch, opt_.epochs_per_layer, static_cast<int>(targets_.size()), epochs_);
  for (size_t i = 0; i < targets_.size(); ++i) binary_[i] = rank_[i] < k;
}

bool Iterative::quantized_now(const QuantTarget& t) const {
  return binary_[&t - targets_.data()];
}

void Iterative::before_forward() {
  for (size_t i = 0; i < targets_.size(); ++i) {
    QuantTarget& t = targets_[i];
    if (!binary_[i]) {
      t.param->restore();
      continue;
    }
    project(t);
    use(t, t.q);
  }
}

void Iterative::end_eval() {
  if (!opt_.reset_after_eval) return;
  for (size_t i = 0; i < targets_.size(); ++i)
    if (binary_[i]) {
      // w ← Q(w): the code resets the binarized layers' float weights to ±1
      project(targets_[i]);
      targets_[i].param->value.copy_from(targets_[i].q);
    }
}

std::vector<std::string> Iterative::binary_layers() const {
  std::vector<std::string> r;
  for (const std::string& n : order_names_)
    for (size_t i = 0; i < targets_.size(); ++i)
      if (binary_[i] && targets_[i].layer() == n) r.push_back(n);
  return r;
}

void Iterative::add_record(nlohmann::json& rec) {
  rec["binary_layers"] = binary_layers();
}

std::string Iterative::describe_target(const QuantTarget& t) const {
  const int r = rank_[&t - targets_.data()];
  return QuantAlgorithm::describe_target(t) + ", binary from epoch " +
         std::to_string(first_binary_epoch(r, opt_.epochs_per_layer,
                                           static_cast<int>(targets_.size()), epochs_) +
                        1) +
         " (order position " + std::to_string(r + 1) + ")";
}

}  // namespace qt
