// The options of the training algorithms (docs/math.md §3), with the papers' defaults; the
// schedules that the papers set in epochs default to the same fractions of the run. Options
// of an algorithm other than the chosen one are ignored (so one config can serve a sweep over
// algorithms); the checks below reject combinations that cannot mean anything.
#include "app/config/options_algorithm.h"

#include <algorithm>
#include <cmath>

#include "app/config/config.h"
#include "engine/core/error.h"
#include "engine/models/model.h"
#include "engine/quant/act_quantizer.h"
#include "engine/quant/iterative.h"
#include "engine/quant/make_algorithm.h"

namespace qt {

using json = nlohmann::json;

namespace {

// The table's choices have checked the name already; this only turns it into the enum.
LayerForce parse_layer_force(const std::string& s) {
  if (s == "quantized") return LayerForce::Quantized;
  if (s == "float") return LayerForce::Float;
  if (s == "default") return LayerForce::Default;
  throw UsageError("'" + s + "': expected default, quantized or float");
}

}  // namespace

void add_algorithm_options(std::vector<ConfigOption>& v) {
  auto add = [&](ConfigOption o) { v.push_back(std::move(o)); };
  add({
      .key = "algo.name",
      .flag = "--algo",
      .help = "training algorithm: " + algorithm_help(),
      .kind = OptKind::String,
      .def = "float",
      .choices = algorithm_names(),
      .apply = [](TrainConfig& t, const json& x) { t.algo.name = x; },
  });

  // Weights
  add({
      .key = "algo.projection",
      .flag = "--projection",
      .help = "weight projection Q for ste, binaryrelax, bcgd, iterative (default = binary "
              "mean|w|; iterative sign(w)); ternary is the exact projection, ternary-twn(-n) "
              "TWN's, bits the b-bit Lloyd one",
      .kind = OptKind::String,
      .def = "default",
      .choices = {"default", "binary", "binary-median", "binary-noscale", "ternary", "ternary-twn",
                  "ternary-twn-n", "bits"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.projection = x; },
  });
  add({
      .key = "algo.bits",
      .flag = "--bits",
      .help = "weight bits: 1 binary, 2 ternary, 3..8 b-bit (0 = the projection's own width)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 8,
      .apply = [](TrainConfig& t, const json& x) { t.algo.bits = x; },
  });
  add({
      .key = "algo.lloyd_iters",
      .flag = "--lloyd-iters",
      .help = "b-bit projection: Lloyd alternations (the BinaryRelax code does 1)",
      .kind = OptKind::Int,
      .def = 1,
      .min = 1,
      .max = 1000,
      .apply = [](TrainConfig& t, const json& x) { t.algo.lloyd_iters = x; },
  });
  add({
      .key = "algo.per_channel",
      .flag = "--per-channel",
      .help = "one α per output channel instead of one per layer (bwn, proxybnn always)",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.algo.per_channel = x; },
  });

  // Layers
  add({
      .key = "algo.layers",
      .flag = "--layers",
      .help = "quantized layers: names (see --list-layers) or conv, linear, all (none = the "
              "algorithm's default: binaryrelax/bcgd every conv; iterative every layer; others all "
              "but the last)",
      .kind = OptKind::StringList,
      .def = json::array(),
      .apply = [](TrainConfig& t,
                  const json& x) { t.algo.layers = x.get<std::vector<std::string>>(); },
  });
  add({
      .key = "algo.first_layer",
      .flag = "--first-layer",
      .help = "force the first conv/linear layer quantized or float",
      .kind = OptKind::String,
      .def = "default",
      .choices = {"default", "quantized", "float"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.first_layer = parse_layer_force(x); },
  });
  add({
      .key = "algo.last_layer",
      .flag = "--last-layer",
      .help = "force the last (classifier) layer quantized or float",
      .kind = OptKind::String,
      .def = "default",
      .choices = {"default", "quantized", "float"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.last_layer = parse_layer_force(x); },
  });

  // Activations
  add({
      .key = "algo.act",
      .flag = "--act",
      .help =
          "activations: default (bcgd: quant; others: the model's ReLU), relu, hardtanh, binary "
          "(sign, hardtanh STE), binary-bireal (sign, Bi-Real STE), quant (b-bit with learnable α)",
      .kind = OptKind::String,
      .def = "default",
      .choices = {"default", "relu", "hardtanh", "binary", "binary-bireal", "quant"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.act = x; },
  });
  add({
      .key = "algo.act_bits",
      .flag = "--act-bits",
      .help = "activation bits of the quant activations (BCGD code: 4)",
      .kind = OptKind::Int,
      .def = 4,
      .min = 1,
      .max = 8,
      .apply = [](TrainConfig& t, const json& x) { t.algo.act_bits = x; },
  });
  add({
      .key = "algo.act_backward",
      .flag = "--act-backward",
      .help = "quant activations, gradient in x: inplt 1 on (0, Lα], relu 1 for x > 0, idnty 1 "
              "everywhere",
      .kind = OptKind::String,
      .def = "inplt",
      .choices = {"inplt", "relu", "idnty"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.act_backward = parse_act_backward(x); },
  });
  add({
      .key = "algo.alpha_grad",
      .flag = "--alpha-grad",
      .help = "quant activations, gradient in α inside (0, Lα] (L above): mean (L+1)/2, min 1, ae "
              "ceil(x/α), pact 0",
      .kind = OptKind::String,
      .def = "mean",
      .choices = {"mean", "min", "ae", "pact"},
      .apply = [](TrainConfig& t, const json& x) { t.algo.alpha_grad = parse_alpha_grad(x); },
  });
  add({
      .key = "algo.alpha_init",
      .flag = "--alpha-init",
      .help = "starting α (0 = the BCGD table: 1 bit 1.2221, 2 bits 0.6511, 4 bits 0.1946)",
      .kind = OptKind::Float,
      .def = 0.0,
      .min = 0,
      .max = 5,
      .apply = [](TrainConfig& t, const json& x) { t.algo.alpha_init = x; },
  });
  add({
      .key = "algo.alpha_stage",
      .flag = "--alpha-stage",
      .help = "epochs in which α = max(x)/L per batch before it is learned (BCGD config: 0)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.algo.alpha_stage = x; },
  });
  add({
      .key = "algo.alpha_rate",
      .flag = "--alpha-rate",
      .help = "factor on α's summed gradient before clipping to [-1, 1] (BCGD: 0.01)",
      .kind = OptKind::Float,
      .def = 0.01,
      .min = 0,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.algo.alpha_rate = x; },
  });
  add({
      .key = "algo.alpha_constant_lr",
      .flag = "--alpha-constant-lr",
      .help = "the BCGD code's quirk: once α is learned, everything trains at the base LR (its "
              "schedule is never applied)",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.algo.alpha_constant_lr = x; },
  });

  // BinaryRelax
  add({
      .key = "algo.lambda_schedule",
      .flag = "--lambda-schedule",
      .help = "binaryrelax phase I: exponential λ = λ0·γ^(e+1) (paper), or linear θ = λ/(1+λ) from "
              "0 to 1 per step (PARQ)",
      .kind = OptKind::String,
      .def = "exponential",
      .choices = {"exponential", "linear"},
      .apply =
          [](TrainConfig& t, const json& x) {
            t.algo.lambda_schedule =
                x == "linear" ? LambdaSchedule::Linear : LambdaSchedule::Exponential;
          },
  });
  add({
      .key = "algo.lambda0",
      .flag = "--lambda0",
      .help = "binaryrelax: λ0 (paper: 1)",
      .kind = OptKind::Float,
      .def = 1.0,
      .min = 0,
      .max = 1e12,
      .apply = [](TrainConfig& t, const json& x) { t.algo.lambda0 = x; },
  });
  add({
      .key = "algo.lambda_growth",
      .flag = "--lambda-growth",
      .help = "binaryrelax: γ, λ's factor at the start of every epoch; auto = "
              "1.04^(150/phase2-epoch), so that λ reaches the paper's λ0·1.04^150 ≈ 360·λ0 in the "
              "last phase-I epoch whatever the run's length (paper: 1.04, phase II at 150)",
      .kind = OptKind::Float,
      .def = nullptr,
      .min = 1,
      .max = 1e3,
      .apply = [](TrainConfig& t, const json& x) { t.algo.lambda_growth = x; },
  });
  add({
      .key = "algo.phase2_epoch",
      .flag = "--phase2-epoch",
      .help = "binaryrelax: first epoch (0-based) of phase II, exact Q(w), before --epochs; auto = "
              "⌊3/4 of --epochs⌋ (paper: 150 of 200)",
      .kind = OptKind::Int,
      .def = nullptr,
      .min = 0,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.algo.phase2_epoch = x; },
  });

  // BCGD
  add({
      .key = "algo.rho",
      .flag = "--rho",
      .help = "bcgd: blending ρ, w ← (1−ρ)w + ρQ(w) before each step (0 = ste)",
      .kind = OptKind::Float,
      .def = 1e-5,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.algo.rho = x; },
  });
  add({
      .key = "algo.rho_rate",
      .flag = "--rho-rate",
      .help = "bcgd: ρ's factor per epoch (1 = constant, as the BCGD config)",
      .kind = OptKind::Float,
      .def = 1.0,
      .min = 0,
      .max = 100,
      .apply = [](TrainConfig& t, const json& x) { t.algo.rho_rate = x; },
  });
  add({
      .key = "algo.rho_max",
      .flag = "--rho-max",
      .help = "bcgd: cap on ρ (code: 0.01)",
      .kind = OptKind::Float,
      .def = 0.01,
      .min = 0,
      .max = 1,
      .apply = [](TrainConfig& t, const json& x) { t.algo.rho_max = x; },
  });
  add({
      .key = "algo.relax",
      .flag = "--relax",
      .help = "bcgd: BinaryRelax's relaxation, forward at (ηQ(w)+w)/(1+η) (the code's br)",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.algo.relax = x; },
  });
  add({
      .key = "algo.relax_eta",
      .flag = "--relax-eta",
      .help = "bcgd relax: η0 (code: 1)",
      .kind = OptKind::Float,
      .def = 1.0,
      .min = 0,
      .max = 1e12,
      .apply = [](TrainConfig& t, const json& x) { t.algo.relax_eta = x; },
  });
  add({
      .key = "algo.relax_growth",
      .flag = "--relax-growth",
      .help = "bcgd relax: η's factor every half epoch; auto = 1.02^(150/relax-until), so that η "
              "reaches the code's η0·1.02^300 ≈ 380·η0 in the last relaxed half epoch whatever the "
              "run's length (code: 1.02, relax until 150)",
      .kind = OptKind::Float,
      .def = nullptr,
      .min = 1,
      .max = 1e3,
      .apply = [](TrainConfig& t, const json& x) { t.algo.relax_growth = x; },
  });
  add({
      .key = "algo.relax_until",
      .flag = "--relax-until",
      .help = "bcgd relax: first epoch (0-based) with exact Q(w), before --epochs; auto = ⌊3/4 of "
              "--epochs⌋ (code: 150 of 200)",
      .kind = OptKind::Int,
      .def = nullptr,
      .min = 0,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.algo.relax_until = x; },
  });

  // Iterative Training
  add({
      .key = "algo.epochs_per_layer",
      .flag = "--epochs-per-layer",
      .help = "iterative: E, layer i of the order is binary from epoch i·E; 0 = spread over the "
              "run, layer i of L from epoch ⌊i·epochs/L⌋ (several per epoch in a run shorter than "
              "L epochs) (paper: 150 for MLP/VGG, 50 ResNet-20)",
      .kind = OptKind::Int,
      .def = 0,
      .min = 0,
      .max = 1e6,
      .apply = [](TrainConfig& t, const json& x) { t.algo.epochs_per_layer = x; },
  });
  add({
      .key = "algo.order",
      .flag = "--order",
      .help = "iterative: forward, reverse, random (seeded), sensitivity-ascending:FILE, "
              "sensitivity-descending:FILE (from `qtrain sensitivity`), or a comma-separated list "
              "of layer names",
      .kind = OptKind::String,
      .def = "forward",
      .apply = [](TrainConfig& t, const json& x) { t.algo.order = x; },
  });
  add({
      .key = "algo.reset_after_eval",
      .flag = "--reset-after-eval",
      .help = "iterative: the code's quirk, binary layers' float weights reset to sign(w) after "
              "each evaluation",
      .kind = OptKind::Bool,
      .def = false,
      .apply = [](TrainConfig& t, const json& x) { t.algo.reset_after_eval = x; },
  });

  // ProxyBNN
  add({
      .key = "algo.proxy_dim",
      .flag = "--proxy-dim",
      .help = "proxybnn (reconstruction): linear layers' row length, the largest divisor of the "
              "input size ≤ this",
      .kind = OptKind::Int,
      .def = 16,
      .min = 1,
      .max = 4096,
      .apply = [](TrainConfig& t, const json& x) { t.algo.proxy_dim = x; },
  });
  add({
      .key = "algo.proxy_lr",
      .flag = "--proxy-lr",
      .help = "proxybnn (reconstruction): P's learning rate as a fraction of --lr",
      .kind = OptKind::Float,
      .def = 0.1,
      .min = 0,
      .max = 100,
      .apply = [](TrainConfig& t, const json& x) { t.algo.proxy_lr = x; },
  });
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
    if (a.name == "float" && (!a.layers.empty() || a.first_layer != LayerForce::Default ||
                              a.last_layer != LayerForce::Default))
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
