// The options of the training algorithms (docs/math.md §3), with the papers' defaults; the
// schedules that the papers set in epochs default to the same fractions of the run. Options
// of an algorithm other than the chosen one are ignored (so one config can serve a sweep over
// algorithms); the checks below reject combinations that cannot mean anything.
#include <algorithm>
#include <cmath>

#include "app/config.h"
#include "engine/core/error.h"
#include "engine/models/model.h"
#include "engine/quant/iterative.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

using json = nlohmann::json;

void add_algorithm_options(std::vector<ConfigOption>& v) {
  auto add = [&](ConfigOption o) { v.push_back(std::move(o)); };
  add({"algo.name", "--algo", "training algorithm: " + algorithm_help(), OptKind::String, "float",
       algorithm_names(), 0, 0, [](TrainConfig& t, const json& x) { t.algo.name = x; }});

  // Weights
  add({"algo.projection",
       "--projection",
       "weight projection Q for ste, binaryrelax, bcgd, iterative (default = binary mean|w|; "
       "iterative sign(w)); "
       "ternary is the exact projection, ternary-twn(-n) TWN's, bits the b-bit Lloyd one",
       OptKind::String,
       "default",
       {"default", "binary", "binary-median", "binary-noscale", "ternary", "ternary-twn",
        "ternary-twn-n", "bits"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.projection = x; }});
  add({"algo.bits",
       "--bits",
       "weight bits: 1 binary, 2 ternary, 3..8 b-bit (0 = the projection's own width)",
       OptKind::Int,
       0,
       {},
       0,
       8,
       [](TrainConfig& t, const json& x) { t.algo.bits = x; }});
  add({"algo.lloyd_iters",
       "--lloyd-iters",
       "b-bit projection: Lloyd alternations (the BinaryRelax code does 1)",
       OptKind::Int,
       1,
       {},
       1,
       1000,
       [](TrainConfig& t, const json& x) { t.algo.lloyd_iters = x; }});
  add({"algo.per_channel",
       "--per-channel",
       "one α per output channel instead of one per layer (bwn, proxybnn always)",
       OptKind::Bool,
       false,
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.per_channel = x; }});

  // Layers
  add({"algo.layers",
       "--layers",
       "quantized layers: names (see --list-layers) or conv, linear, all (none = the algorithm's "
       "default: "
       "binaryrelax/bcgd every conv; iterative every layer; others all but the last)",
       OptKind::StringList,
       json::array(),
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.layers = x.get<std::vector<std::string>>(); }});
  add({"algo.first_layer",
       "--first-layer",
       "force the first conv/linear layer quantized or float",
       OptKind::String,
       "default",
       {"default", "quantized", "float"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.first_layer = x; }});
  add({"algo.last_layer",
       "--last-layer",
       "force the last (classifier) layer quantized or float",
       OptKind::String,
       "default",
       {"default", "quantized", "float"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.last_layer = x; }});

  // Activations
  add({"algo.act",
       "--act",
       "activations: default (bcgd: quant; others: the model's ReLU), relu, hardtanh, binary "
       "(sign, hardtanh STE), "
       "binary-bireal (sign, Bi-Real STE), quant (b-bit with learnable α)",
       OptKind::String,
       "default",
       {"default", "relu", "hardtanh", "binary", "binary-bireal", "quant"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.act = x; }});
  add({"algo.act_bits",
       "--act-bits",
       "activation bits of the quant activations (BCGD code: 4)",
       OptKind::Int,
       4,
       {},
       1,
       8,
       [](TrainConfig& t, const json& x) { t.algo.act_bits = x; }});
  add({"algo.act_backward",
       "--act-backward",
       "quant activations, gradient in x: inplt 1 on (0, Lα], relu 1 for x > 0, idnty 1 everywhere",
       OptKind::String,
       "inplt",
       {"inplt", "relu", "idnty"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.act_backward = x; }});
  add({"algo.alpha_grad",
       "--alpha-grad",
       "quant activations, gradient in α inside (0, Lα] (L above): mean (L+1)/2, min 1, ae "
       "ceil(x/α), pact 0",
       OptKind::String,
       "mean",
       {"mean", "min", "ae", "pact"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.alpha_grad = x; }});
  add({"algo.alpha_init",
       "--alpha-init",
       "starting α (0 = the BCGD table: 1 bit 1.2221, 2 bits 0.6511, 4 bits 0.1946)",
       OptKind::Float,
       0.0,
       {},
       0,
       5,
       [](TrainConfig& t, const json& x) { t.algo.alpha_init = x; }});
  add({"algo.alpha_stage",
       "--alpha-stage",
       "epochs in which α = max(x)/L per batch before it is learned (BCGD config: 0)",
       OptKind::Int,
       0,
       {},
       0,
       1e6,
       [](TrainConfig& t, const json& x) { t.algo.alpha_stage = x; }});
  add({"algo.alpha_rate",
       "--alpha-rate",
       "factor on α's summed gradient before clipping to [-1, 1] (BCGD: 0.01)",
       OptKind::Float,
       0.01,
       {},
       0,
       1e6,
       [](TrainConfig& t, const json& x) { t.algo.alpha_rate = x; }});
  add({"algo.alpha_constant_lr",
       "--alpha-constant-lr",
       "the BCGD code's quirk: once α is learned, everything trains at the base LR (its schedule "
       "is never applied)",
       OptKind::Bool,
       false,
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.alpha_constant_lr = x; }});

  // BinaryRelax
  add({"algo.lambda_schedule",
       "--lambda-schedule",
       "binaryrelax phase I: exponential λ = λ0·γ^(e+1) (paper), or linear θ = λ/(1+λ) from 0 to 1 "
       "per step (PARQ)",
       OptKind::String,
       "exponential",
       {"exponential", "linear"},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.lambda_schedule = x; }});
  add({"algo.lambda0",
       "--lambda0",
       "binaryrelax: λ0 (paper: 1)",
       OptKind::Float,
       1.0,
       {},
       0,
       1e12,
       [](TrainConfig& t, const json& x) { t.algo.lambda0 = x; }});
  add({"algo.lambda_growth",
       "--lambda-growth",
       "binaryrelax: γ, λ's factor at the start of every epoch; auto = 1.04^(150/phase2-epoch), "
       "so that λ reaches the paper's λ0·1.04^150 ≈ 360·λ0 in the last phase-I epoch whatever the "
       "run's length (paper: 1.04, phase II at 150)",
       OptKind::Float,
       nullptr,
       {},
       1,
       1e3,
       [](TrainConfig& t, const json& x) { t.algo.lambda_growth = x; }});
  add({"algo.phase2_epoch",
       "--phase2-epoch",
       "binaryrelax: first epoch (0-based) of phase II, exact Q(w), before --epochs; auto = "
       "⌊3/4 of --epochs⌋ (paper: 150 of 200)",
       OptKind::Int,
       nullptr,
       {},
       0,
       1e6,
       [](TrainConfig& t, const json& x) { t.algo.phase2_epoch = x; }});

  // BCGD
  add({"algo.rho",
       "--rho",
       "bcgd: blending ρ, w ← (1−ρ)w + ρQ(w) before each step (0 = ste)",
       OptKind::Float,
       1e-5,
       {},
       0,
       1,
       [](TrainConfig& t, const json& x) { t.algo.rho = x; }});
  add({"algo.rho_rate",
       "--rho-rate",
       "bcgd: ρ's factor per epoch (1 = constant, as the BCGD config)",
       OptKind::Float,
       1.0,
       {},
       0,
       100,
       [](TrainConfig& t, const json& x) { t.algo.rho_rate = x; }});
  add({"algo.rho_max",
       "--rho-max",
       "bcgd: cap on ρ (code: 0.01)",
       OptKind::Float,
       0.01,
       {},
       0,
       1,
       [](TrainConfig& t, const json& x) { t.algo.rho_max = x; }});
  add({"algo.relax",
       "--relax",
       "bcgd: BinaryRelax's relaxation, forward at (ηQ(w)+w)/(1+η) (the code's br)",
       OptKind::Bool,
       false,
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.relax = x; }});
  add({"algo.relax_eta",
       "--relax-eta",
       "bcgd relax: η0 (code: 1)",
       OptKind::Float,
       1.0,
       {},
       0,
       1e12,
       [](TrainConfig& t, const json& x) { t.algo.relax_eta = x; }});
  add({"algo.relax_growth",
       "--relax-growth",
       "bcgd relax: η's factor every half epoch; auto = 1.02^(150/relax-until), so that η reaches "
       "the code's η0·1.02^300 ≈ 380·η0 in the last relaxed half epoch whatever the run's length "
       "(code: 1.02, relax until 150)",
       OptKind::Float,
       nullptr,
       {},
       1,
       1e3,
       [](TrainConfig& t, const json& x) { t.algo.relax_growth = x; }});
  add({"algo.relax_until",
       "--relax-until",
       "bcgd relax: first epoch (0-based) with exact Q(w), before --epochs; auto = ⌊3/4 of "
       "--epochs⌋ (code: 150 of 200)",
       OptKind::Int,
       nullptr,
       {},
       0,
       1e6,
       [](TrainConfig& t, const json& x) { t.algo.relax_until = x; }});

  // Iterative Training
  add({"algo.epochs_per_layer",
       "--epochs-per-layer",
       "iterative: E, layer i of the order is binary from epoch i·E; 0 = spread over the run, "
       "layer i of L from epoch ⌊i·epochs/L⌋ (several per epoch in a run shorter than L epochs) "
       "(paper: 150 for MLP/VGG, 50 ResNet-20)",
       OptKind::Int,
       0,
       {},
       0,
       1e6,
       [](TrainConfig& t, const json& x) { t.algo.epochs_per_layer = x; }});
  add({"algo.order",
       "--order",
       "iterative: forward, reverse, random (seeded), sensitivity-ascending:FILE, "
       "sensitivity-descending:FILE "
       "(from `qtrain sensitivity`), or a comma-separated list of layer names",
       OptKind::String,
       "forward",
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.order = x; }});
  add({"algo.reset_after_eval",
       "--reset-after-eval",
       "iterative: the code's quirk, binary layers' float weights reset to sign(w) after each "
       "evaluation",
       OptKind::Bool,
       false,
       {},
       0,
       0,
       [](TrainConfig& t, const json& x) { t.algo.reset_after_eval = x; }});

  // ProxyBNN
  add({"algo.proxy_dim",
       "--proxy-dim",
       "proxybnn (reconstruction): linear layers' row length, the largest divisor of the input "
       "size ≤ this",
       OptKind::Int,
       16,
       {},
       1,
       4096,
       [](TrainConfig& t, const json& x) { t.algo.proxy_dim = x; }});
  add({"algo.proxy_lr",
       "--proxy-lr",
       "proxybnn (reconstruction): P's learning rate as a fraction of --lr",
       OptKind::Float,
       0.1,
       {},
       0,
       100,
       [](TrainConfig& t, const json& x) { t.algo.proxy_lr = x; }});
}

namespace {

constexpr double kPaperPhase2 = 150;  // BinaryRelax's phase II and BCGD's relax-until, of 200

// The checks that need the model: layer names, the iterative order and schedule.
void check_layers(const json& c, const AlgoOptions& a) {
  if (a.name != "iterative" && a.layers.empty()) return;
  const std::string model = c["model"];
  ModelOptions mo = natural_options(model);
  auto algo = make_quant_algorithm(a);
  algo->configure(mo);
  auto m = make_model(model, mo);
  const std::vector<Param*> sel = select_layers(*m, a);
  if (a.name != "iterative") return;
  std::vector<std::string> names;
  for (Param* p : sel) names.push_back(p->layer);
  iterative_order(names, a.order, a.seed, model);
  check_iterative_schedule(static_cast<int>(sel.size()), a.epochs_per_layer,
                           c["epochs"].get<int>());
}

}  // namespace

std::string default_follows(const std::string& key) {
  if (key == "algo.phase2_epoch" || key == "algo.relax_until") return "epochs";
  if (key == "algo.lambda_growth") return "algo.phase2_epoch";
  if (key == "algo.relax_growth") return "algo.relax_until";
  return "";
}

void resolve_algorithm_defaults(json& cfg) {
  const json::json_pointer epochs_key("/epochs");
  if (!cfg.contains(epochs_key) || !cfg.at(epochs_key).is_number_integer()) return;
  const long long epochs = cfg.at(epochs_key).get<long long>();
  json& a = cfg["algo"];
  // The papers' exact phases start at 150 of 200 epochs; growth factors are set so that the
  // relaxation ends as strong as the papers' (1.04^150 per epoch, 1.02^300 per half epoch).
  auto resolve_start = [&](const char* key) {
    if (a[key].is_null()) a[key] = std::max(0LL, 3 * epochs / 4);
  };
  auto resolve_growth = [&](const char* key, const char* start, double factor) {
    if (!a[key].is_null() || !a[start].is_number_integer()) return;
    const double until = std::max(1.0, a[start].get<double>());
    a[key] = std::pow(factor, kPaperPhase2 / until);
  };
  resolve_start("phase2_epoch");
  resolve_start("relax_until");
  resolve_growth("lambda_growth", "phase2_epoch", 1.04);
  resolve_growth("relax_growth", "relax_until", 1.02);
}

void add_algorithm_checks(std::vector<ConfigCheck>& v) {
  v.push_back([](const json& c) {
    const TrainConfig t = to_train_config(c);
    const AlgoOptions& a = t.algo;
    const bool fixed =
        a.name == "float" || a.name == "binaryconnect" || a.name == "bwn" || a.name == "proxybnn";
    if (fixed && (a.projection != "default" || a.bits != 0))
      throw UsageError("--algo " + a.name + " has its own weights (" +
                       (a.name == "float"           ? std::string("float")
                        : a.name == "binaryconnect" ? "sign(w)"
                                                    : "α·sign per channel") +
                       "): drop --projection/--bits, or use --algo ste");
    if (a.name == "float" &&
        (!a.layers.empty() || a.first_layer != "default" || a.last_layer != "default"))
      throw UsageError(
          "--algo float quantizes no weights: drop --layers/--first-layer/--last-layer");
    auto algo = make_quant_algorithm(a);
    algo->projection();  // throws on a bad --projection/--bits pair
    if (algo->activation() == "quant") act_quant_config(a);
    if (a.alpha_constant_lr && algo->activation() != "quant")
      throw UsageError(
          "--alpha-constant-lr needs quantized activations (--act quant, bcgd's default)");
    // An epoch at or after the run's end would leave the run without its exact phase.
    if (a.name == "binaryrelax" && a.phase2_epoch >= t.epochs)
      throw UsageError("binaryrelax: --phase2-epoch " + std::to_string(a.phase2_epoch) +
                       " leaves no epoch of phase II in a run of " + std::to_string(t.epochs) +
                       " epochs (0-based, it must be below --epochs): lower it, or leave it out "
                       "for 3/4 of the run (the paper: 150 of 200 epochs)");
    if (a.name == "bcgd" && a.relax && a.relax_until >= t.epochs)
      throw UsageError("bcgd --relax: --relax-until " + std::to_string(a.relax_until) +
                       " leaves no epoch at exact Q(w) in a run of " + std::to_string(t.epochs) +
                       " epochs (0-based, it must be below --epochs): lower it, or leave it out "
                       "for 3/4 of the run (the code: 150 of 200 epochs)");
    check_layers(c, a);
  });
}

}  // namespace qt
