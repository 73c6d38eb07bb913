/*
 * sampler.h: exact samplers for differential privacy, after Canonne,
 * Kamath and Steinke, "The Discrete Gaussian for Differential Privacy"
 * (NeurIPS 2020): Bernoulli(exp(-gamma)), the discrete Laplace and the
 * discrete Gaussian, in integer and rational arithmetic only.
 *
 * Randomness comes from the kernel CSPRNG (getrandom), buffered; uniform
 * integers are drawn by rejection (never modulo, never floating point).
 * Parameters are rationals num/den. The 64-bit paths use 128-bit
 * intermediates; the discrete Gaussian's acceptance test, whose squares
 * outgrow 128 bits, uses OpenSSL bignums.
 */
#ifndef VEIL_SAMPLER_H
#define VEIL_SAMPLER_H

#include <stdint.h>

struct sampler;

/* A sampler with its own random buffer; NULL on failure. */
struct sampler	*sampler_new(void);
void		 sampler_free(struct sampler *);

/* Uniform in [0, n), n >= 1, by rejection. */
uint64_t	 sampler_uniform(struct sampler *, uint64_t n);
/* Bernoulli(num/den), 0 <= num <= den, den >= 1. */
int		 sampler_bernoulli(struct sampler *, uint64_t num, uint64_t den);
/* Bernoulli(exp(-num/den)), num >= 0, den >= 1. */
int		 sampler_bernoulli_exp(struct sampler *, uint64_t num,
		    uint64_t den);
/*
 * The discrete Laplace with scale t/s: P(x) proportional to
 * exp(-|x| s / t), for integers x. t, s >= 1.
 */
int64_t		 sampler_dlaplace(struct sampler *, uint64_t t, uint64_t s);
/*
 * The discrete Gaussian with variance parameter sigma^2 = num/den:
 * P(x) proportional to exp(-x^2 / (2 sigma^2)). Returns 0 and sets *x, or
 * -1 if the bignum arithmetic failed (out of memory).
 */
int		 sampler_dgauss(struct sampler *, uint64_t num, uint64_t den,
		    int64_t *x);

#endif /* VEIL_SAMPLER_H */
