// The loop of the popcount convolutions (packed_conv.cpp), included once per instruction-set path
// into a namespace that defines `Ops`, 8 lanes of 64-bit words:
//   V zero(); V load(const uint64_t*); V bcast(uint64_t); V add(V, V); V sub(V, V);
//   V shl(V, int); V pc(V) (per-lane popcount); V andv(V, V); V xorv(V, V); V orv(V, V);
//   void store(int64_t*, V); void affine(V s, sc, sh, float* out): out = sc·s + sh, 8 lanes;
//   uint32_t nonneg(V s, sc, sh): bit i set where that out[i] ≥ 0
// No include guard: it is meant to be included several times. Internal to packed_conv.cpp.

enum class Mode { XnorBinary, XnorTernary, BitSerialBinary, BitSerialTernary };

constexpr bool bit_serial(Mode m) {
  return m == Mode::BitSerialBinary || m == Mode::BitSerialTernary;
}

constexpr int64_t kP = 4;  // output pixels of one row per register block

// Rows of work [item0, item1): item = (sample, output row). For each block of kP output pixels
// the input words of every tap are located once, then every block of kOutTile channels runs
// over them.
// y null: the signs of the outputs go to `signs` instead, packed as pack_signs packs them.
template <Mode M>
void conv_items(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                const float* scale, const float* shift, float* y, uint64_t* signs, int64_t item0,
                int64_t item1) {
  const int64_t ho = g.ho(), wo = g.wo(), words = w.words, taps = g.k * g.k;
  const int64_t out_words = (g.cout + 63) / 64;
  const int64_t xpix = bit_serial(M) ? bits * words : words;  // words per input pixel
  std::vector<const uint64_t*> at_tap(static_cast<size_t>(taps * kP));
  std::vector<int64_t> tap_index(static_cast<size_t>(taps));
  // scale and shift padded with 0 to whole blocks: the epilogue's loops over a block then have a
  // fixed length and vectorize (64-input-channel layers spend about as long there as in the sums)
  std::vector<float> sc(static_cast<size_t>(w.cout_pad), 0.0f), sh(sc.size(), 0.0f);
  // A tap outside the image reads zeros: no branch per pixel in the sums below, which would keep
  // the accumulators in memory instead of registers. Zeros add nothing to the bit-serial sums; the
  // xnor sums mask them out.
  const std::vector<uint64_t> zeros(static_cast<size_t>(xpix), 0);
  std::copy(scale, scale + g.cout, sc.begin());
  std::copy(shift, shift + g.cout, sh.begin());
  for (int64_t item = item0; item < item1; ++item) {
    const int64_t n = item / ho, i = item % ho;
    for (int64_t j0 = 0; j0 < wo; j0 += kP) {
      // the taps inside the image for some pixel of the block; per pixel its input or null
      int64_t nt = 0;
      int64_t taps_in[kP] = {};
      for (int64_t a = 0; a < g.k; ++a) {
        const int64_t iy = i * g.stride - g.pad + a;
        if (iy < 0 || iy >= g.h) continue;
        for (int64_t b = 0; b < g.k; ++b) {
          bool any = false;
          for (int64_t p = 0; p < kP; ++p) {
            const int64_t ix = (j0 + p) * g.stride - g.pad + b;
            const bool in = j0 + p < wo && ix >= 0 && ix < g.w;
            at_tap[static_cast<size_t>(nt * kP + p)] =
                in ? x + ((n * g.h + iy) * g.w + ix) * xpix : nullptr;
            taps_in[p] += in;
            any = any || in;
          }
          if (any) tap_index[static_cast<size_t>(nt++)] = a * g.k + b;
        }
      }
      for (int64_t o0 = 0; o0 < g.cout; o0 += kOutTile) {
        V acc[kP][2], nz[kP][2];
        for (int64_t p = 0; p < kP; ++p)
          for (int t = 0; t < 2; ++t) acc[p][t] = nz[p][t] = zero();
        for (int64_t ti = 0; ti < nt; ++ti) {
          const int64_t tap = tap_index[static_cast<size_t>(ti)];
          const uint64_t* const* xp = at_tap.data() + ti * kP;
          const uint64_t* xq[kP];
          V in[kP];  // all ones for a pixel whose tap is inside the image, else 0
          for (int64_t p = 0; p < kP; ++p) {
            xq[p] = xp[p] ? xp[p] : zeros.data();
            in[p] = bcast(xp[p] ? ~uint64_t{0} : 0);
          }
          for (int64_t c = 0; c < words; ++c) {
            const int64_t at = (tap * words + c) * w.cout_pad + o0;
            const V p0 = load(w.pos.data() + at), p1 = load(w.pos.data() + at + 8);
            if constexpr (M == Mode::XnorBinary) {
              for (int64_t p = 0; p < kP; ++p) {
                const V xb = bcast(xq[p][c]);
                acc[p][0] = add(acc[p][0], andv(pc(xorv(xb, p0)), in[p]));
                acc[p][1] = add(acc[p][1], andv(pc(xorv(xb, p1)), in[p]));
              }
            } else if constexpr (M == Mode::BitSerialBinary) {
              // neg = NOT pos on the real channels, and q is 0 elsewhere:
              // popcount(q AND pos) − popcount(q AND neg) = 2·popcount(q AND pos) − popcount(q)
              for (int64_t p = 0; p < kP; ++p) {
                for (int j = 0; j < bits; ++j) {
                  const V q = bcast(xq[p][j * words + c]), cq = pc(q);
                  const V d0 = sub(shl(pc(andv(q, p0)), 1), cq);
                  const V d1 = sub(shl(pc(andv(q, p1)), 1), cq);
                  acc[p][0] = add(acc[p][0], shl(d0, j));
                  acc[p][1] = add(acc[p][1], shl(d1, j));
                }
              }
            } else {
              const V n0 = load(w.neg.data() + at), n1 = load(w.neg.data() + at + 8);
              if constexpr (M == Mode::XnorTernary) {
                const V m0 = orv(p0, n0), m1 = orv(p1, n1);
                const V c0 = pc(m0), c1 = pc(m1);
                for (int64_t p = 0; p < kP; ++p) {
                  const V xb = bcast(xq[p][c]);
                  acc[p][0] = add(acc[p][0], andv(pc(andv(xorv(xb, p0), m0)), in[p]));
                  acc[p][1] = add(acc[p][1], andv(pc(andv(xorv(xb, p1), m1)), in[p]));
                  nz[p][0] = add(nz[p][0], andv(c0, in[p]));
                  nz[p][1] = add(nz[p][1], andv(c1, in[p]));
                }
              } else {
                for (int64_t p = 0; p < kP; ++p) {
                  for (int j = 0; j < bits; ++j) {
                    const V q = bcast(xq[p][j * words + c]);
                    const V d0 = sub(pc(andv(q, p0)), pc(andv(q, n0)));
                    const V d1 = sub(pc(andv(q, p1)), pc(andv(q, n1)));
                    acc[p][0] = add(acc[p][0], shl(d0, j));
                    acc[p][1] = add(acc[p][1], shl(d1, j));
                  }
                }
              }
            }
          }
        }
        // y = scale·s + shift, s from the counts (see packed_conv.h)
        const int64_t valid = std::min(kOutTile, g.cout - o0);  // real channels of the block
        for (int64_t p = 0; p < kP && j0 + p < wo; ++p) {
          V s0 = acc[p][0], s1 = acc[p][1];
          if constexpr (M == Mode::XnorBinary) {
            const V all = bcast(static_cast<uint64_t>(taps_in[p] * g.cin));
            s0 = sub(all, shl(s0, 1));
            s1 = sub(all, shl(s1, 1));
          }
          if constexpr (M == Mode::XnorTernary) {
            s0 = sub(nz[p][0], shl(s0, 1));
            s1 = sub(nz[p][1], shl(s1, 1));
          }
          if (y) {
            float out[kOutTile];
            affine(s0, sc.data() + o0, sh.data() + o0, out);
            affine(s1, sc.data() + o0 + 8, sh.data() + o0 + 8, out + 8);
            float* at = y + ((n * g.cout + o0) * ho + i) * wo + j0 + p;
            for (int64_t t = 0; t < valid; ++t) at[t * ho * wo] = out[t];
            continue;
          }
          // bit t: y of channel o0 + t is ≥ 0; padding channels stay 0
          uint64_t sign_bits = nonneg(s0, sc.data() + o0, sh.data() + o0) |
                               nonneg(s1, sc.data() + o0 + 8, sh.data() + o0 + 8) << 8;
          sign_bits &= (uint64_t{1} << valid) - 1;
          // kOutTile divides 64: the block's bits sit in one word of the pixel
          signs[((n * ho + i) * wo + j0 + p) * out_words + o0 / 64] |= sign_bits << (o0 % 64);
        }
      }
    }
  }
}

inline void run(const ConvShape& g, int bits, const PackedWeights& w, const uint64_t* x,
                const float* scale, const float* shift, float* y, uint64_t* signs, bool xnor) {
  const int64_t items = g.n * g.ho();
  parallel_for(items, 1, [&](int64_t i0, int64_t i1) {
    if (!xnor && w.ternary)
      conv_items<Mode::BitSerialTernary>(g, bits, w, x, scale, shift, y, signs, i0, i1);
    else if (!xnor)
      conv_items<Mode::BitSerialBinary>(g, bits, w, x, scale, shift, y, signs, i0, i1);
    else if (w.ternary)
      conv_items<Mode::XnorTernary>(g, bits, w, x, scale, shift, y, signs, i0, i1);
    else
      conv_items<Mode::XnorBinary>(g, bits, w, x, scale, shift, y, signs, i0, i1);
  });
}
