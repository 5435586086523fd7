// GF(2^8) multiply-accumulate, the inner loop of Reed-Solomon coding.
//
// The SIMD kernels use the split-nibble table lookup: c·x = c·(x & 0x0f) ^ c·(x >> 4 << 4),
// each half a 16-entry table looked up 16 (SSSE3) or 32 (AVX2) bytes at a time with PSHUFB.
// Kernels are compiled for their instruction set with target attributes and chosen at run
// time, so the binary runs on any x86-64 (and on other CPUs with the portable loop).

#include "CTroveGF.h"
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TROVE_X86 1
#endif

static uint8_t mul_table[256][256];
static uint8_t nibble_lo[256][16];
static uint8_t nibble_hi[256][16];
static trove_gf_kernel best = TROVE_GF_PORTABLE;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    uint8_t exp[510];
    int log[256];
    unsigned x = 1;
    for (int i = 0; i < 255; i++) {
        exp[i] = (uint8_t)x;
        log[x] = i;
        x <<= 1;
        if (x & 0x100) x ^= 0x11D;
    }
    for (int i = 255; i < 510; i++) exp[i] = exp[i - 255];
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            mul_table[a][b] = (a == 0 || b == 0) ? 0 : exp[log[a] + log[b]];
        }
        for (int n = 0; n < 16; n++) {
            nibble_lo[a][n] = mul_table[a][n];
            nibble_hi[a][n] = mul_table[a][n << 4];
        }
    }
#if TROVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) best = TROVE_GF_AVX2;
    else if (__builtin_cpu_supports("ssse3")) best = TROVE_GF_SSSE3;
#endif
}

static inline void ready(void) { pthread_once(&once, build_tables); }

uint8_t trove_gf_mul(uint8_t a, uint8_t b) {
    ready();
    return mul_table[a][b];
}

static void mul_add_portable(uint8_t *dst, const uint8_t *src, uint8_t c, size_t n) {
    const uint8_t *row = mul_table[c];
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        dst[i] ^= row[src[i]];
        dst[i + 1] ^= row[src[i + 1]];
        dst[i + 2] ^= row[src[i + 2]];
        dst[i + 3] ^= row[src[i + 3]];
        dst[i + 4] ^= row[src[i + 4]];
        dst[i + 5] ^= row[src[i + 5]];
        dst[i + 6] ^= row[src[i + 6]];
        dst[i + 7] ^= row[src[i + 7]];
    }
    for (; i < n; i++) dst[i] ^= row[src[i]];
}

#if TROVE_X86
__attribute__((target("ssse3")))
static void mul_add_ssse3(uint8_t *dst, const uint8_t *src, uint8_t c, size_t n) {
    const __m128i lo = _mm_loadu_si128((const __m128i *)nibble_lo[c]);
    const __m128i hi = _mm_loadu_si128((const __m128i *)nibble_hi[c]);
    const __m128i mask = _mm_set1_epi8(0x0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i l = _mm_shuffle_epi8(lo, _mm_and_si128(x, mask));
        __m128i h = _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi64(x, 4), mask));
        __m128i d = _mm_loadu_si128((const __m128i *)(dst + i));
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(d, _mm_xor_si128(l, h)));
    }
    mul_add_portable(dst + i, src + i, c, n - i);
}

__attribute__((target("avx2")))
static void mul_add_avx2(uint8_t *dst, const uint8_t *src, uint8_t c, size_t n) {
    const __m256i lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)nibble_lo[c]));
    const __m256i hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)nibble_hi[c]));
    const __m256i mask = _mm256_set1_epi8(0x0f);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i x1 = _mm256_loadu_si256((const __m256i *)(src + i + 32));
        __m256i p0 = _mm256_xor_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x0, mask)),
                                      _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi64(x0, 4), mask)));
        __m256i p1 = _mm256_xor_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x1, mask)),
                                      _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi64(x1, 4), mask)));
        __m256i d0 = _mm256_loadu_si256((const __m256i *)(dst + i));
        __m256i d1 = _mm256_loadu_si256((const __m256i *)(dst + i + 32));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(d0, p0));
        _mm256_storeu_si256((__m256i *)(dst + i + 32), _mm256_xor_si256(d1, p1));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i p = _mm256_xor_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(x, mask)),
                                     _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi64(x, 4), mask)));
        __m256i d = _mm256_loadu_si256((const __m256i *)(dst + i));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_xor_si256(d, p));
    }
    mul_add_portable(dst + i, src + i, c, n - i);
}
#endif

trove_gf_kernel trove_gf_mul_add_with(trove_gf_kernel kernel, uint8_t *dst, const uint8_t *src, uint8_t c, size_t n) {
    ready();
    if (c == 0 || n == 0) return kernel > best ? TROVE_GF_PORTABLE : kernel;
#if TROVE_X86
    if (kernel == TROVE_GF_AVX2 && best >= TROVE_GF_AVX2) { mul_add_avx2(dst, src, c, n); return TROVE_GF_AVX2; }
    if (kernel == TROVE_GF_SSSE3 && best >= TROVE_GF_SSSE3) { mul_add_ssse3(dst, src, c, n); return TROVE_GF_SSSE3; }
#endif
    mul_add_portable(dst, src, c, n);
    return TROVE_GF_PORTABLE;
}

void trove_gf_mul_add(uint8_t *dst, const uint8_t *src, uint8_t c, size_t n) {
    ready();
    trove_gf_mul_add_with(best, dst, src, c, n);
}

trove_gf_kernel trove_gf_best_kernel(void) {
    ready();
    return best;
}
