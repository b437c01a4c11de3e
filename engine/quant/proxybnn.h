#pragma once
// proxybnn (He et al. 2020): learning both the basis and the coefficients of the pre-binarization
// weights. No full text or code of the paper is reachable here: this is qtrain's documented
// reconstruction of the abstract (docs/math.md §3, ProxyBNN), not the authors' method verbatim.
//
// A quantized weight is viewed as R rows of length d (conv (C_out, C_in, k, k): d = k·k; linear
// (out, in): d = the largest divisor of `in` ≤ proxy-dim). Pre-binarization weights W̃ = C·P:
// C (R × d, the float master of the weight itself) are the coefficients, P (d × d, one per layer,
// an extra parameter) the proxy basis. Binary weights W_b = α ⊙ sign(W̃), α = mean|W̃| per output
// channel. P starts as the identity, so W̃ starts as the float weights, and with P = I the
// forward is BWN's on C.
// Backward: dW̃ = dW_b·[|W̃| ≤ 1] (STE through sign), dC = dW̃·Pᵀ, dP = Cᵀ·dW̃. P learns at
// proxy-lr × the base rate, without weight decay.
#include <cstdint>
#include <vector>

#include "engine/quant/quant_algorithm.h"

namespace qt {

// d for a weight of this shape; UsageError when no row length fits.
int64_t proxy_row_length(const Shape& weight_shape, int max_dim);
// W̃ = C·P, C (R × d), P (d × d)
void proxy_combine(const float* c, const float* p, int64_t rows, int64_t d, float* wt);
// dC = dW̃·Pᵀ, dP = Cᵀ·dW̃
void proxy_backward(const float* c, const float* p, const float* dwt, int64_t rows, int64_t d,
                    float* dc, float* dp);

class ProxyBnn : public QuantAlgorithm {
 public:
  using QuantAlgorithm::QuantAlgorithm;
  // used = α ⊙ sign(C·P)
  void before_forward() override;
  // grad of C ← (grad·[|W̃| ≤ 1])·Pᵀ, grad of P ← Cᵀ·(grad·[|W̃| ≤ 1])
  void adjust_gradients() override;
  std::vector<Param*> extra_params() override { return proxies_; }
  Param* proxy(size_t target) { return proxies_[target]; }
  const Tensor& pre_binary(size_t target) const { return wt_[target]; }

 protected:
  ProjectionSpec default_projection() const override {
    return parse_projection("binary", 0, 1, /*per_channel=*/true);
  }
  void on_attach(Model& model) override;
  const Tensor& latent(QuantTarget& t) override;

 private:
  ParamStore store_;             // the proxy matrices
  std::vector<Param*> proxies_;  // one per target
  std::vector<int64_t> dims_;    // d per target
  std::vector<Tensor> wt_;       // W̃ per target, from the latest latent()
  Tensor dwt_;                   // scratch
};

}  // namespace qt
