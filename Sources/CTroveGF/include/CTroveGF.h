#ifndef CTROVEGF_H
#define CTROVEGF_H

#include <stddef.h>
#include <stdint.h>

/// GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1 (0x11D), as zfec uses.

/// The kernels `trove_gf_mul_add` may use.
typedef enum {
    TROVE_GF_PORTABLE = 0,
    TROVE_GF_SSSE3 = 1,
    TROVE_GF_AVX2 = 2,
} trove_gf_kernel;

/// The product of two field elements.
uint8_t trove_gf_mul(uint8_t a, uint8_t b);

/// dst[i] ^= c · src[i] for i < n, with the fastest kernel this CPU runs (chosen once).
void trove_gf_mul_add(uint8_t *dst, const uint8_t *src, uint8_t c, size_t n);

/// The same with a given kernel (tests compare them); a kernel the CPU lacks falls back to
/// the portable one. Returns the kernel used.
trove_gf_kernel trove_gf_mul_add_with(trove_gf_kernel kernel, uint8_t *dst, const uint8_t *src, uint8_t c, size_t n);

/// The kernel `trove_gf_mul_add` uses on this CPU.
trove_gf_kernel trove_gf_best_kernel(void);

#endif
