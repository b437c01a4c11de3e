#include "engine/layers/conv2d.h"

#include <immintrin.h>
#include <tbb/enumerable_thread_specific.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "engine/core/gemm.h"
#include "engine/core/isa.h"
#include "engine/core/parallel.h"
#include "engine/layers/direct_conv.h"
#include "engine/layers/partial_sums.h"
#include "engine/layers/winograd.h"

// GCC 12's AVX-512 headers build several intrinsics on an "undefined" vector, which its
// -Wmaybe-uninitialized then reports at every use: a known false positive (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qt {

namespace {

// Scratch shared by every Conv2d: one chunk's columns and gathered gradients per worker thread.
// Layers run one at a time on a thread, so sharing bounds the memory by the largest layer rather
// than the sum over layers; the values computed never depend on which buffer was used.
tbb::enumerable_thread_specific<Tensor> g_chunk_scratch;
// The per-chunk partial weight gradients of the thread that called backward.
tbb::enumerable_thread_specific<Tensor> g_partials;

float* scratch(tbb::enumerable_thread_specific<Tensor>& ets, int64_t n) {
  Tensor& t = ets.local();
  if (t.size() < n) t.resize({n});
  return t.data();
}

// Columns aimed at per GEMM: enough for the kernel to run near its peak.
constexpr int64_t kTargetCols = 1024;
// At least this many chunks when the batch allows, so two threads (or more) stay busy.
constexpr int64_t kMinChunks = 4;

// Σ p[i] with 16 running lanes: the loop vectorises (a plain float sum cannot be reordered),
// and the order depends on n only.
float row_sum(const float* p, int64_t n) {
  constexpr int kLanes = 16;
  float lane[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += p[i + l];
  float s = 0.0f;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; i < n; ++i) s += p[i];
  return s;
}

// d[0, n) = s[0, n). im2col copies rows as short as the output width (10 floats in LeNet-5's
// conv2), where a memcpy call costs more than the copy: on the AVX-512 path, masked 16-float
// moves.
QT_AVX512 void copy_row_avx512(float* d, const float* s, int64_t n) {
  for (; n >= 16; n -= 16, d += 16, s += 16) _mm512_storeu_ps(d, _mm512_loadu_ps(s));
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
  _mm512_mask_storeu_ps(d, m, _mm512_maskz_loadu_ps(m, s));
}

inline void copy_row(bool avx512, float* d, const float* s, int64_t n) {
  if (avx512)
    copy_row_avx512(d, s, n);
  else
    std::memcpy(d, s, n * sizeof(float));
}

struct Geometry {
  int64_t c, h, w, k, s, p, ho, wo;
  int64_t hw() const { return h * w; }
  int64_t howo() const { return ho * wo; }
  int64_t ckk() const { return c * k * k; }
};

// col[(c·k + a)·k + b, t·Ho·Wo + i·Wo + j] = x[t, c, i·s − p + a, j·s − p + b] (0 outside), for
// the `ns` samples starting at x; col has ns·Ho·Wo columns.
void im2col(const Geometry& g, const float* x, int64_t ns, float* col) {
  const int64_t cols = ns * g.howo();
  const bool avx512 = use_avx512();
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t a = 0; a < g.k; ++a)
      for (int64_t b = 0; b < g.k; ++b) {
        float* row = col + ((c * g.k + a) * g.k + b) * cols;
        // Output columns j whose input column j·s − p + b lies inside [0, W).
        const int64_t j0 = std::min(g.wo, std::max<int64_t>(0, (g.p - b + g.s - 1) / g.s));
        const int64_t j1 = std::max(j0, std::min(g.wo, (g.w - 1 + g.p - b) / g.s + 1));
        for (int64_t t = 0; t < ns; ++t) {
          const float* plane = x + (t * g.c + c) * g.hw();
          for (int64_t i = 0; i < g.ho; ++i) {
            float* dst = row + t * g.howo() + i * g.wo;
            const int64_t h = i * g.s - g.p + a;
            if (h < 0 || h >= g.h) {
              std::memset(dst, 0, g.wo * sizeof(float));
              continue;
            }
            const float* src = plane + h * g.w - g.p + b;
            for (int64_t j = 0; j < j0; ++j) dst[j] = 0.0f;
            if (g.s == 1)
              copy_row(avx512, dst + j0, src + j0, j1 - j0);
            else
              for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * g.s];
            for (int64_t j = j1; j < g.wo; ++j) dst[j] = 0.0f;
          }
        }
      }
}

// The adjoint of im2col: dx[t, c, i·s − p + a, j·s − p + b] += col[(c·k + a)·k + b, …], dx zeroed
// first.
void col2im(const Geometry& g, const float* col, int64_t ns, float* dx) {
  const int64_t cols = ns * g.howo();
  std::memset(dx, 0, ns * g.c * g.hw() * sizeof(float));
  for (int64_t t = 0; t < ns; ++t)
    for (int64_t c = 0; c < g.c; ++c) {
      float* plane = dx + (t * g.c + c) * g.hw();
      for (int64_t a = 0; a < g.k; ++a)
        for (int64_t b = 0; b < g.k; ++b) {
          const float* row = col + ((c * g.k + a) * g.k + b) * cols + t * g.howo();
          const int64_t j0 = std::min(g.wo, std::max<int64_t>(0, (g.p - b + g.s - 1) / g.s));
          const int64_t j1 = std::max(j0, std::min(g.wo, (g.w - 1 + g.p - b) / g.s + 1));
          for (int64_t i = 0; i < g.ho; ++i) {
            const int64_t h = i * g.s - g.p + a;
            if (h < 0 || h >= g.h) continue;
            float* dst = plane + h * g.w - g.p + b;
            const float* src = row + i * g.wo;
            if (g.s == 1)
              for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
            else
              for (int64_t j = j0; j < j1; ++j) dst[j * g.s] += src[j];
          }
        }
    }
}

}  // namespace

Conv2d::Conv2d(ParamStore& store, std::string name, int64_t in_ch, int64_t out_ch, int64_t kernel,
               int64_t stride, int64_t padding, bool bias)
    : Layer(std::move(name)), in_(in_ch), out_(out_ch), k_(kernel), s_(stride), p_(padding) {
  if (in_ < 1 || out_ < 1 || k_ < 1 || s_ < 1 || p_ < 0)
    throw std::invalid_argument(this->name() +
                                ": conv needs channels, kernel, stride ≥ 1 and padding ≥ 0, got " +
                                describe());
  weight_ = store.add(this->name(), "weight", {out_ch, in_ch, kernel, kernel}, ParamRole::Weight,
                      in_ch * kernel * kernel);
  if (bias)
    bias_ = store.add(this->name(), "bias", {out_ch}, ParamRole::Bias, in_ch * kernel * kernel);
}

std::string Conv2d::describe() const {
  return "Conv2d(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", k " +
         std::to_string(k_) + ", s " + std::to_string(s_) + ", p " + std::to_string(p_) +
         (bias_ ? "" : ", no bias") + ")";
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != in_ || in[2] + 2 * p_ < k_ || in[3] + 2 * p_ < k_)
    throw std::invalid_argument(name() + ": expected (N, " + std::to_string(in_) +
                                ", H, W) with H, W ≥ " + std::to_string(k_ - 2 * p_) + ", got " +
                                shape_str(in));
  return {in[0], out_, (in[2] + 2 * p_ - k_) / s_ + 1, (in[3] + 2 * p_ - k_) / s_ + 1};
}

// PyTorch's default: W, b ~ U(−1/√fan_in, 1/√fan_in), fan_in = Cin·k² (kaiming_uniform, a = √5).
void Conv2d::init(Rng& rng) {
  float bound = 1.0f / std::sqrt(static_cast<float>(in_ * k_ * k_));
  for (float& w : weight_->value.span()) w = rng.uniform(-bound, bound);
  if (bias_)
    for (float& b : bias_->value.span()) b = rng.uniform(-bound, bound);
}

std::vector<Param*> Conv2d::params() {
  if (bias_) return {weight_, bias_};
  return {weight_};
}

ConvAlgo Conv2d::algorithm_for(const Shape& in) const {
  const int64_t h = in.size() == 4 ? in[2] : 0, w = in.size() == 4 ? in[3] : 0;
  const int64_t ho = h + 2 * p_ - k_ + 1, wo = w + 2 * p_ - k_ + 1, cols = (ho * w + 15) / 16 * 16;
  // The direct kernel's rows are W wide, so it takes "same" convolutions (2p = k − 1: y and dx as
  // wide as x and dy), and rounds the plane up to 16 columns: worth it while that adds at most a
  // third.
  const bool direct = direct_conv_available() && s_ == 1 && 2 * p_ == k_ - 1 && k_ <= 15 &&
                      ho > 0 && 3 * cols <= 4 * ho * wo;
  // Narrower padding ("valid", LeNet-5's conv2): y and dW by the direct kernel on rows W wide
  // (forward and dW), dx by im2col's GEMM and col2im. Worth it while the rows' dropped columns
  // add at most half (5×5 on 14×14: 144 columns for 100 outputs).
  const bool narrow = direct_conv_available() && s_ == 1 && 2 * p_ < k_ - 1 && k_ <= 15 && ho > 0 &&
                      wo > 0 && 2 * cols <= 3 * ho * wo;
  const bool winograd = k_ == 3 && s_ == 1;
  // Stride 2 by the direct kernels over the input's phases: "same" padding, even H and W.
  const bool direct2 = s_ == 2 && direct_conv_s2_applies(k_, p_, h, w);
  switch (algo_) {
    case ConvAlgo::Im2col:
      return ConvAlgo::Im2col;
    case ConvAlgo::Direct:
      return direct || direct2 || narrow ? ConvAlgo::Direct : ConvAlgo::Im2col;
    case ConvAlgo::Winograd:
      return winograd ? ConvAlgo::Winograd : ConvAlgo::Im2col;
    case ConvAlgo::Auto:
      break;
  }
  // Measured on ResNet-20 and VGG-11 shapes (tools/bench_layers): the direct kernel wins while
  // Cin·Cout is small (its dW reduction grows with it), Winograd from 64 channels up; Winograd's
  // transformed GEMMs are as thin as Cin, so it needs a few input channels.
  // ResNet-20's 3×3 stride-2 convolutions: the phase-split direct kernel is 1.5–2× faster than
  // im2col (no column copy, and a dx without col2im's scattered adds).
  if (direct2 && k_ == 3) return ConvAlgo::Direct;
  if ((direct || narrow) && in_ * out_ <= 4096) return ConvAlgo::Direct;
  if (winograd && in_ >= 8) return ConvAlgo::Winograd;
  if (direct) return ConvAlgo::Direct;
  return ConvAlgo::Im2col;
}

// Samples per chunk, from the shapes only (never the thread count): about kTargetCols GEMM columns,
// but at least kMinChunks chunks when the batch is large enough.
static int64_t chunk_samples(int64_t n, int64_t howo) {
  int64_t ns = std::max<int64_t>(1, (kTargetCols + howo - 1) / howo);
  return std::max<int64_t>(1, std::min(ns, (n + kMinChunks - 1) / kMinChunks));
}

// y[n, o] = W[o, :]·col_n + b[o]: per chunk, out[Cout × ns·HoWo] = W[Cout × CKK]·col[CKK × ns·HoWo]
void Conv2d::forward(const Tensor& x, Tensor& y, const Context&) {
  y.resize(output_shape(x.shape()));
  const int64_t n = x.dim(0);
  const Geometry g{in_, x.dim(2), x.dim(3), k_, s_, p_, y.dim(2), y.dim(3)};
  const int64_t howo = g.howo(), ckk = g.ckk(), cout = out_;
  const bool pointwise = k_ == 1 && s_ == 1 && p_ == 0;
  const int64_t ns = chunk_samples(n, howo), chunks = (n + ns - 1) / ns;
  const float* w = weight_->used.data();
  const float* bias = bias_ ? bias_->used.data() : nullptr;
  switch (algorithm_for(x.shape())) {
    case ConvAlgo::Direct:
      if (s_ == 2)
        direct_conv_s2_forward(ConvStride1{n, in_, out_, g.h, g.w, k_, p_}, x.data(), w, bias,
                               y.data());
      else
        direct_conv_forward(ConvStride1{n, in_, out_, g.h, g.w, k_, p_}, x.data(), w, bias,
                            y.data());
      return;
    case ConvAlgo::Winograd:
      winograd_forward(Conv3x3{n, in_, out_, g.h, g.w, p_}, x.data(), w, bias, y.data());
      return;
    default:
      break;
  }
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t n0 = ch * ns, m = std::min(n, n0 + ns) - n0, cols = m * howo;
      const float* xc = x.data() + n0 * in_ * g.hw();
      float* yc = y.data() + n0 * cout * howo;
      if (pointwise || m == 1) {
        // One sample at a time straight into y: no gather, no scatter.
        float* col = pointwise ? nullptr : scratch(g_chunk_scratch, ckk * howo);
        for (int64_t t = 0; t < m; ++t) {
          const float* b = xc + t * in_ * g.hw();
          if (!pointwise) {
            im2col(g, b, 1, col);
            b = col;
          }
          float* yt = yc + t * cout * howo;
          if (bias)
            for (int64_t o = 0; o < cout; ++o)
              for (int64_t j = 0; j < howo; ++j) yt[o * howo + j] = bias[o];
          gemm(false, false, cout, howo, ckk, 1.0f, w, ckk, b, howo, bias ? 1.0f : 0.0f, yt, howo);
        }
        continue;
      }
      float* col = scratch(g_chunk_scratch, (ckk + cout) * cols);
      float* out = col + ckk * cols;
      im2col(g, xc, m, col);
      gemm(false, false, cout, cols, ckk, 1.0f, w, ckk, col, cols, 0.0f, out, cols);
      for (int64_t t = 0; t < m; ++t)
        for (int64_t o = 0; o < cout; ++o) {
          const float* src = out + o * cols + t * howo;
          float* dst = yc + (t * cout + o) * howo;
          const float bo = bias ? bias[o] : 0.0f;
          for (int64_t j = 0; j < howo; ++j) dst[j] = src[j] + bo;
        }
    }
  });
}

// Per chunk: dW_chunk = dY·colᵀ, db_chunk = Σ_cols dY, dcol = Wᵀ·dY then col2im into dx;
// dW and db are the chunk partials summed in chunk order (the same sum for every thread count).
void Conv2d::backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor* dx) {
  const int64_t n = x.dim(0);
  const Geometry g{in_, x.dim(2), x.dim(3), k_, s_, p_, y.dim(2), y.dim(3)};
  const int64_t howo = g.howo(), ckk = g.ckk(), cout = out_, wsize = cout * ckk;
  const bool pointwise = k_ == 1 && s_ == 1 && p_ == 0;
  const int64_t ns = chunk_samples(n, howo), chunks = (n + ns - 1) / ns;
  const float* w = weight_->used.data();
  if (dx) dx->resize(x.shape());
  float* db_out = bias_ ? bias_->grad.data() : nullptr;
  float* dx_out = dx ? dx->data() : nullptr;
  bool weights = true;  // the chunks below compute dW and db (else only dx)
  switch (algorithm_for(x.shape())) {
    case ConvAlgo::Direct:
      if (s_ == 2) {
        direct_conv_s2_backward(ConvStride1{n, in_, out_, g.h, g.w, k_, p_}, x.data(), w, dy.data(),
                                weight_->grad.data(), db_out, dx_out);
        return;
      }
      if (2 * p_ == k_ - 1) {
        direct_conv_backward(ConvStride1{n, in_, out_, g.h, g.w, k_, p_}, x.data(), w, dy.data(),
                             weight_->grad.data(), db_out, dx_out);
        return;
      }
      // Outputs narrower than the input ("valid"): the direct kernel's dx rows would be too
      // narrow, so it gives dW and db, and the chunks below only dx (no im2col, no dW GEMM).
      direct_conv_backward(ConvStride1{n, in_, out_, g.h, g.w, k_, p_}, x.data(), w, dy.data(),
                           weight_->grad.data(), db_out, nullptr);
      if (!dx) return;
      weights = false;
      break;
    case ConvAlgo::Winograd:
      winograd_backward(Conv3x3{n, in_, out_, g.h, g.w, p_}, x.data(), w, dy.data(),
                        weight_->grad.data(), db_out, dx_out);
      return;
    default:
      break;
  }
  // Partial dW then partial db of every chunk.
  const int64_t part = wsize + cout;
  float* parts = scratch(g_partials, chunks * part);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t n0 = ch * ns, m = std::min(n, n0 + ns) - n0;
      const float* xc = x.data() + n0 * in_ * g.hw();
      const float* gc = dy.data() + n0 * cout * howo;
      float* dxc = dx ? dx->data() + n0 * in_ * g.hw() : nullptr;
      float* dw = parts + ch * part;
      float* db = dw + wsize;
      if (weights)
        for (int64_t o = 0; o < cout; ++o) db[o] = 0.0f;
      if (pointwise || m == 1) {
        float* col = pointwise ? nullptr : scratch(g_chunk_scratch, ckk * howo);
        for (int64_t t = 0; t < m; ++t) {
          const float* xt = xc + t * in_ * g.hw();
          const float* gt = gc + t * cout * howo;
          const float* b = xt;
          if (weights && !pointwise) {
            im2col(g, xt, 1, col);
            b = col;
          }
          if (weights) {
            gemm(false, true, cout, ckk, howo, 1.0f, gt, howo, b, howo, t ? 1.0f : 0.0f, dw, ckk);
            for (int64_t o = 0; o < cout; ++o) db[o] += row_sum(gt + o * howo, howo);
          }
          if (!dxc) continue;
          float* dxt = dxc + t * in_ * g.hw();
          if (pointwise) {
            gemm(true, false, ckk, howo, cout, 1.0f, w, ckk, gt, howo, 0.0f, dxt, howo);
          } else {
            gemm(true, false, ckk, howo, cout, 1.0f, w, ckk, gt, howo, 0.0f, col, howo);
            col2im(g, col, 1, dxt);
          }
        }
        continue;
      }
      const int64_t cols = m * howo;
      float* col = scratch(g_chunk_scratch, (ckk + cout) * cols);
      float* gcol = col + ckk * cols;
      // dY of the chunk as [Cout × m·HoWo], the layout of the forward GEMM's output.
      for (int64_t t = 0; t < m; ++t)
        for (int64_t o = 0; o < cout; ++o)
          std::memcpy(gcol + o * cols + t * howo, gc + (t * cout + o) * howo, howo * sizeof(float));
      if (weights) {
        im2col(g, xc, m, col);
        gemm(false, true, cout, ckk, cols, 1.0f, gcol, cols, col, cols, 0.0f, dw, ckk);
        for (int64_t o = 0; o < cout; ++o) db[o] = row_sum(gcol + o * cols, cols);
      }
      if (!dxc) continue;
      gemm(true, false, ckk, cols, cout, 1.0f, w, ckk, gcol, cols, 0.0f, col, cols);
      col2im(g, col, m, dxc);
    }
  });
  if (!weights) return;
  sum_partials(parts, chunks, wsize, cout, weight_->grad.data(), db_out);
}

}  // namespace qt
