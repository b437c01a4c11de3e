#pragma once
// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C, with op(A) M×K, op(B) K×N.
#include <cstdint>

namespace qt {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace qt
