/* Fused float32 nearest-candidate search: scores computed in registers, a running top-m per query updated in
 * place, the score matrix never written to memory. Built at first use by core/stats/nearest_kernel.py with the
 * machine's C compiler and loaded with ctypes; the exactness proof is in core/stats/nearest.py.
 *
 * Scores: s = |r|^2 + sum_d (-2 q_d) r_d, accumulated from the float32 norm |r|^2 one dimension at a time
 * (one FMA, so one rounding, a dimension; without FMA hardware the generic path may round the product too).
 * The query is passed already multiplied by -2 (exact in binary floating point).
 *
 * Reference layout ("panels" of NR rows): for each panel, NR float32 norms then, for each dimension, the NR
 * coordinates of that dimension. Rows past the end of the reference are padded with norm +inf (never kept).
 * Queries are padded by the caller to a multiple of MR rows.
 *
 * A candidate enters the running top-m of its query only if its score is strictly below the m-th kept score
 * (the kept maximum), which it then replaces: every score left out is >= the final m-th kept score. With boxes
 * (pruning), a panel is skipped only when its box proves every one of its scores would be >= the kept maximum
 * of every row of the tile, so the same holds for the panels never scored.
 */
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define NR 32
#ifndef MR
#define MR 12
#endif
#else
/* Generic path (GCC/Clang vector extensions): 8 lanes with AVX, else 4. */
#if defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
typedef float vf __attribute__((vector_size(LANES * 4)));
typedef int32_t vi __attribute__((vector_size(LANES * 4)));
#define NR (2 * LANES)
#ifndef MR
#define MR 6
#endif
#endif

int64_t nearest_nr(void) { return NR; }
int64_t nearest_mr(void) { return MR; }
int64_t nearest_avx512(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

/* Put (s, j) in place of the kept maximum of one query's top-m and return the new maximum. */
static float keep(float *value, int64_t *index, int64_t m, float s, int64_t j) {
    int64_t arg = 0;
    float top = value[0];
    for (int64_t t = 1; t < m; ++t)
        if (value[t] > top) { top = value[t]; arg = t; }
    value[arg] = s;
    index[arg] = j;
    top = value[0];
    for (int64_t t = 1; t < m; ++t)
        if (value[t] > top) top = value[t];
    return top;
}

/* Offer the NR scores of one panel to query row `row`; only lanes set in `mask` can enter. */
static void offer(const float *scores, uint64_t mask, int64_t first, float *value, int64_t *index, int64_t m,
                  float *threshold) {
    while (mask) {
        int lane = __builtin_ctzll(mask);
        mask &= mask - 1;
        float s = scores[lane];
        if (s < *threshold) *threshold = keep(value, index, m, s, first + lane);
    }
}

/* Score one tile of MR query rows (qm2 rows q0..q0+MR) against panel p and offer the scores below each row's
 * kept maximum; returns whether any row's top-m changed. */
static inline __attribute__((always_inline)) int tile_panel(const float *panel, int64_t p, int64_t dims,
                                                            const float *q, int64_t q0, int64_t m, float *value,
                                                            int64_t *index, float *thr) {
    const float *coords = panel + NR;
    int changed = 0;
#if defined(__AVX512F__)
    __m512 a0[MR], a1[MR];
    const __m512 n0 = _mm512_loadu_ps(panel), n1 = _mm512_loadu_ps(panel + 16);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) { a0[i] = n0; a1[i] = n1; }
    for (int64_t d = 0; d < dims; ++d) {
        const __m512 r0 = _mm512_loadu_ps(coords + d * NR), r1 = _mm512_loadu_ps(coords + d * NR + 16);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
            const __m512 b = _mm512_set1_ps(q[i * dims + d]);
            a0[i] = _mm512_fmadd_ps(b, r0, a0[i]);
            a1[i] = _mm512_fmadd_ps(b, r1, a1[i]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
        const __m512 t = _mm512_set1_ps(thr[i]);
        const uint64_t mask = (uint64_t)_mm512_cmp_ps_mask(a0[i], t, _CMP_LT_OQ)
                              | ((uint64_t)_mm512_cmp_ps_mask(a1[i], t, _CMP_LT_OQ) << 16);
        if (__builtin_expect(mask != 0, 0)) {
            float scores[NR];
            _mm512_storeu_ps(scores, a0[i]);
            _mm512_storeu_ps(scores + 16, a1[i]);
            const int64_t row = q0 + i;
            offer(scores, mask, p * NR, value + row * m, index + row * m, m, thr + i);
            changed = 1;
        }
    }
#else
    vf a0[MR], a1[MR];
    vf n0, n1;
    memcpy(&n0, panel, sizeof n0);
    memcpy(&n1, panel + LANES, sizeof n1);
    for (int i = 0; i < MR; ++i) { a0[i] = n0; a1[i] = n1; }
    for (int64_t d = 0; d < dims; ++d) {
        vf r0, r1;
        memcpy(&r0, coords + d * NR, sizeof r0);
        memcpy(&r1, coords + d * NR + LANES, sizeof r1);
        for (int i = 0; i < MR; ++i) {
            const float b = q[i * dims + d];
            a0[i] = a0[i] + b * r0;
            a1[i] = a1[i] + b * r1;
        }
    }
    for (int i = 0; i < MR; ++i) {
        const float t = thr[i];
        const vi below = (a0[i] < t) | (a1[i] < t);
        int any = 0;
        for (int l = 0; l < LANES; ++l) any |= below[l];
        if (__builtin_expect(any != 0, 0)) {
            float scores[NR];
            uint64_t mask = 0;
            memcpy(scores, &a0[i], sizeof a0[i]);
            memcpy(scores + LANES, &a1[i], sizeof a1[i]);
            for (int l = 0; l < NR; ++l) mask |= (uint64_t)(scores[l] < t) << l;
            const int64_t row = q0 + i;
            offer(scores, mask, p * NR, value + row * m, index + row * m, m, thr + i);
            changed = 1;
        }
    }
#endif
    return changed;
}

/* Squared gaps between a tile's box and the boxes of panels [b0, b1) in n_box projected coordinates. */
static void box_gaps(const double *box, int64_t n_panels, int64_t n_box, const double *tile, int64_t b0, int64_t b1,
                     double *out) {
    for (int64_t p = b0; p < b1; ++p) out[p - b0] = 0.0;
    for (int64_t j = 0; j < n_box; ++j) {
        const double *lo = box + (2 * j) * n_panels, *hi = box + (2 * j + 1) * n_panels;
        const double tlo = tile[j], thi = tile[n_box + j];
        for (int64_t p = b0; p < b1; ++p) {
            double gap = lo[p] - thi;
            const double other = tlo - hi[p];
            gap = gap > other ? gap : other;
            gap = gap > 0.0 ? gap : 0.0;
            out[p - b0] += gap * gap;
        }
    }
}

/* The squared gap beyond which no row of a panel can enter any real row of the tile: with need = the largest
 * kept maximum plus offset over the rows, a panel enters only if max(0, shrink |gap| - slack)^2 <= need, so it
 * is skipped when |gap|^2 > ((sqrt(need) + slack) / shrink)^2 (rounded up); -1 when need < 0 (skip all). */
static double tile_limit(const float *thr, const double *offset, int64_t rows, double shrink, double slack) {
    double need = -__builtin_inf();
    for (int64_t i = 0; i < rows; ++i) {
        const double n = (double)thr[i] + offset[i];
        if (!(n <= need)) need = n;  /* NaN-safe; an unfilled row (+inf) keeps every panel */
    }
    need += __builtin_fabs(need) * 0x1p-45;
    if (need < 0.0) return -1.0;
    const double root = (__builtin_sqrt(need) + slack) / shrink;
    return root * root * (1.0 + 0x1p-40);
}

/* Update the running top-m of `n_query` rows (a multiple of MR) against the n_panels reference panels.
 * qm2: n_query x dims (each row times -2); value/index: n_query x m; threshold: n_query (kept maxima).
 * Pruning (box == NULL: none): box holds, for each of n_box projected coordinates, the panels' lows then highs
 * (2 n_box x n_panels); tile_box the tiles' lows then highs (n_query / MR x 2 n_box); offset, for each of the
 * n_valid real query rows, what turns a kept maximum into a squared distance bound. Each tile first scans its
 * `seeds` panels from seed_start[tile] (the reference rows nearest it in the common order), then every other
 * panel whose box is not proven out of reach. work holds block_panels doubles. Returns the (tile, panel) pairs
 * scored. */
int64_t nearest_scan(const float *panels, int64_t n_panels, int64_t dims, const float *qm2, int64_t n_query,
                     int64_t m, float *value, int64_t *index, float *threshold, int64_t block_panels,
                     const double *box, int64_t n_box, const double *tile_box, const double *offset,
                     int64_t n_valid, const int64_t *seed_start, int64_t seeds, double shrink, double slack,
                     double *work) {
    const int64_t stride = (dims + 1) * NR;
    const int64_t n_tiles = n_query / MR;
    int64_t scored = 0;
    if (box == NULL) seeds = 0;
    for (int64_t t = 0; t < n_tiles && seeds > 0; ++t) {  /* seeds first: tight thresholds early */
        const int64_t q0 = t * MR;
        const int64_t s1 = seed_start[t] + seeds < n_panels ? seed_start[t] + seeds : n_panels;
        for (int64_t p = seed_start[t]; p < s1; ++p) {
            tile_panel(panels + p * stride, p, dims, qm2 + q0 * dims, q0, m, value, index, threshold + q0);
            ++scored;
        }
    }
    for (int64_t b0 = 0; b0 < n_panels; b0 += block_panels) {  /* a block of panels stays in L2 */
        const int64_t b1 = b0 + block_panels < n_panels ? b0 + block_panels : n_panels;
        for (int64_t t = 0; t < n_tiles; ++t) {
            const int64_t q0 = t * MR;
            const float *q = qm2 + q0 * dims;
            float *thr = threshold + q0;
            const int64_t rows = n_valid - q0 < MR ? n_valid - q0 : MR;
            const int64_t s0 = seeds > 0 ? seed_start[t] : 0, s1 = s0 + seeds;
            double limit = __builtin_inf();
            if (box != NULL) {
                box_gaps(box, n_panels, n_box, tile_box + t * 2 * n_box, b0, b1, work);
                limit = tile_limit(thr, offset + q0, rows, shrink, slack);
            }
            for (int64_t p = b0; p < b1; ++p) {
                if (box != NULL && (work[p - b0] > limit || (p >= s0 && p < s1))) continue;
                if (tile_panel(panels + p * stride, p, dims, q, q0, m, value, index, thr) && box != NULL)
                    limit = tile_limit(thr, offset + q0, rows, shrink, slack);
                ++scored;
            }
        }
    }
    return scored;
}
