#pragma once
// Every option of every training algorithm, with the papers' defaults (docs/math.md §3).
// app/config/options_algorithm.cpp exposes each as "algo.<option>" / "--<option>"; docs/math.md
// explains them.
#include <cstdint>
#include <string>
#include <vector>

namespace qt {

// BinaryRelax's phase I: λ_e = λ₀·γ^(e+1) per epoch (the paper), or θ = λ/(1+λ) rising
// linearly from 0 to 1 per step (PARQ).
enum class LambdaSchedule { Exponential, Linear };

// --first-layer / --last-layer: the algorithm's choice, or forced in or out of quantization.
enum class LayerForce { Default, Quantized, Float };

// The b-bit activation quantizer's backward (engine/quant/act_quantizer.h): in x, 1 on (0, Lα]
// (inplt), for x > 0 (relu) or everywhere (idnty); in α, the mean, min, ae or pact rule.
enum class ActBackward { Inplt, Relu, Idnty };
enum class AlphaGrad { Mean, Min, Ae, Pact };

struct AlgoOptions {
  std::string name =
      "float";  // float | binaryconnect | bwn | ste | binaryrelax | bcgd | iterative | proxybnn

  // Weights: the projection Q (names of engine/quant/projection.h). "default" = the algorithm's
  // own (binary for ste, binaryrelax and bcgd; sign(w) for iterative).
  std::string projection = "default";
  int bits = 0;              // weight bits; 0 = the projection's own width (binary 1, ternary 2)
  int lloyd_iters = 1;       // b-bit projections: Lloyd alternations
  bool per_channel = false;  // one α per output channel (bwn and proxybnn always are)

  // Which conv/linear weights are quantized. Empty = the algorithm's default. Entries are layer
  // names or the words "conv", "linear", "all"; first_layer / last_layer then force the first and
  // the last weighted layer in ("quantized") or out ("float").
  std::vector<std::string> layers;
  LayerForce first_layer = LayerForce::Default;
  LayerForce last_layer = LayerForce::Default;

  // Activations at every activation site of the model. "default" = the b-bit quantizer for bcgd,
  // the model's own activation (ReLU) otherwise.
  std::string act = "default";  // default | relu | hardtanh | binary | binary-bireal | quant
  int act_bits = 4;             // quant: L = 2^b − 1 levels above 0
  ActBackward act_backward = ActBackward::Inplt;  // quant, backward in x
  AlphaGrad alpha_grad = AlphaGrad::Mean;         // quant, backward in α
  double alpha_init = 0;     // quant: starting α; 0 = the table {1: 1.2221, 2: 0.6511, 4: 0.1946}
  int alpha_stage = 0;       // quant: epochs in which α = max(x)/L per batch instead of learned
  double alpha_rate = 0.01;  // quant: the α gradient's rate factor (before clipping to [−1, 1])
  bool alpha_constant_lr =
      false;  // the BCGD code's quirk: base LR for everything once α is learned

  // BinaryRelax
  LambdaSchedule lambda_schedule = LambdaSchedule::Exponential;
  double lambda0 = 1.0;         // λ₀
  double lambda_growth = 1.04;  // γ: λ of epoch e is λ₀·γ^(e+1)
  int phase2_epoch = 150;       // first epoch (0-based) of phase II: exact Q(w)

  // BCGD
  double rho = 1e-5;      // blending: w ← (1 − ρ)·w + ρ·Q(w) before each step
  double rho_rate = 1.0;  // ρ of epoch e is min(ρ·rate^(e+1), rho_max)
  double rho_max = 0.01;
  bool relax = false;          // BinaryRelax's relaxation inside BCGD (the code's `br`)
  double relax_eta = 1.0;      // η₀
  double relax_growth = 1.02;  // η ×growth every half epoch
  int relax_until = 150;       // first epoch with exact Q(w) (the code's m_epochs)

  // Iterative Training
  int epochs_per_layer = 0;       // E: layer i of the order is binary from epoch i·E; 0 = spread:
                                  // layer i of L from epoch ⌊i·epochs/L⌋ (iterative.h)
  std::string order = "forward";  // forward | reverse | random | sensitivity-ascending:FILE |
                                  // sensitivity-descending:FILE | a comma-separated list of names
  bool reset_after_eval = false;  // the code's quirk: binary layers' w ← sign(w) after evaluation

  // ProxyBNN
  int proxy_dim = 16;     // linear layers: rows of the largest divisor of the input size ≤ this
  double proxy_lr = 0.1;  // P's learning rate as a fraction of the base rate

  // Filled by the trainer from the run, not options of their own.
  uint64_t seed = 0;            // the run's seed (random layer order)
  int64_t steps_per_epoch = 0;  // training batches per epoch (half-epoch and per-step schedules)
};

}  // namespace qt
