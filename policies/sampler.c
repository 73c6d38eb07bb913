/*
 * sampler.c: the exact samplers of sampler.h.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>

#include "sampler.h"

typedef unsigned __int128 u128;

#define POOL	65536

struct sampler {
	unsigned char	 pool[POOL];
	size_t		 pos;
};

struct sampler *
sampler_new(void)
{
	struct sampler *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->pos = POOL;
	return s;
}

void
sampler_free(struct sampler *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

static void
refill(struct sampler *s)
{
	size_t got = 0;
	ssize_t n;

	while (got < POOL) {
		n = getrandom(s->pool + got, POOL - got, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();	/* no entropy: never fall back to less */
		got += (size_t)n;
	}
	s->pos = 0;
}

static uint64_t
rand64(struct sampler *s)
{
	uint64_t v;

	if (s->pos + 8 > POOL)
		refill(s);
	memcpy(&v, s->pool + s->pos, 8);
	explicit_bzero(s->pool + s->pos, 8);
	s->pos += 8;
	return v;
}

/* Uniform below n: draw the bits n needs, reject what lies above. */
uint64_t
sampler_uniform(struct sampler *s, uint64_t n)
{
	uint64_t mask, v;

	if (n <= 1)
		return 0;
	mask = n - 1;
	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	mask |= mask >> 32;
	do
		v = rand64(s) & mask;
	while (v >= n);
	return v;
}

static u128
uniform128(struct sampler *s, u128 n)
{
	u128 mask, v;
	int i;

	if (n <= 1)
		return 0;
	if ((n >> 64) == 0)
		return sampler_uniform(s, (uint64_t)n);
	mask = n - 1;
	for (i = 1; i < 128; i <<= 1)
		mask |= mask >> i;
	do
		v = ((((u128)rand64(s)) << 64) | rand64(s)) & mask;
	while (v >= n);
	return v;
}

int
sampler_bernoulli(struct sampler *s, uint64_t num, uint64_t den)
{
	return sampler_uniform(s, den) < num;
}

/* Bernoulli(num / (den * k)), in 128 bits. */
static int
bern_ratio(struct sampler *s, uint64_t num, uint64_t den, uint64_t k)
{
	return uniform128(s, (u128)den * k) < num;
}

/* Bernoulli(exp(-g)) for g = num/den in [0, 1]: CKS Algorithm 1. */
static int
bern_exp_small(struct sampler *s, uint64_t num, uint64_t den)
{
	uint64_t k;

	for (k = 1; bern_ratio(s, num, den, k); k++)
		;
	return k % 2;	/* the first k whose coin is 0, odd: accept */
}

int
sampler_bernoulli_exp(struct sampler *s, uint64_t num, uint64_t den)
{
	uint64_t i, whole;

	if (num <= den)
		return bern_exp_small(s, num, den);
	whole = num / den;
	for (i = 0; i < whole; i++)
		if (!bern_exp_small(s, 1, 1))
			return 0;
	return bern_exp_small(s, num - whole * den, den);
}

int64_t
sampler_dlaplace(struct sampler *s, uint64_t t, uint64_t sc)
{
	uint64_t u, v;
	u128 x, y;
	int b;

	for (;;) {
		u = sampler_uniform(s, t);
		if (!sampler_bernoulli_exp(s, u, t))
			continue;
		for (v = 0; sampler_bernoulli_exp(s, 1, 1); v++)
			;
		x = (u128)u + (u128)t * v;
		y = x / sc;
		b = (int)(rand64(s) & 1);
		if (b && y == 0)
			continue;
		if (y > INT64_MAX)
			continue;	/* beyond 2^63: astronomically rare */
		return b ? -(int64_t)y : (int64_t)y;
	}
}

/* Bernoulli(exp(-n/d)) for bignums with n/d in [0, 1]. */
static int
bern_exp_small_bn(const BIGNUM *n, const BIGNUM *d, BN_CTX *ctx, int *out)
{
	BIGNUM *dk, *r;
	BN_ULONG k;
	int rv = -1;

	BN_CTX_start(ctx);
	if ((dk = BN_CTX_get(ctx)) == NULL || (r = BN_CTX_get(ctx)) == NULL)
		goto out;
	for (k = 1;; k++) {
		if (BN_copy(dk, d) == NULL || !BN_mul_word(dk, k) ||
		    !BN_rand_range(r, dk))	/* uniform by rejection */
			goto out;
		if (BN_cmp(r, n) >= 0)
			break;
	}
	*out = (int)(k % 2);
	rv = 0;
 out:
	BN_CTX_end(ctx);
	return rv;
}

/* Bernoulli(exp(-n/d)) for bignums n >= 0, d >= 1. */
static int
bern_exp_bn(const BIGNUM *n, const BIGNUM *d, BN_CTX *ctx, int *out)
{
	BIGNUM *w, *rem, *one;
	int rv = -1, coin;

	BN_CTX_start(ctx);
	if ((w = BN_CTX_get(ctx)) == NULL || (rem = BN_CTX_get(ctx)) == NULL ||
	    (one = BN_CTX_get(ctx)) == NULL || !BN_one(one) ||
	    !BN_div(w, rem, n, d, ctx))
		goto out;
	/* exp(-n/d) = exp(-1)^w exp(-rem/d): stop at the first failure */
	while (!BN_is_zero(w)) {
		if (bern_exp_small_bn(one, one, ctx, &coin) != 0)
			goto out;
		if (!coin) {
			*out = 0;
			rv = 0;
			goto out;
		}
		if (!BN_sub_word(w, 1))
			goto out;
	}
	rv = bern_exp_small_bn(rem, d, ctx, out);
 out:
	BN_CTX_end(ctx);
	return rv;
}

/* floor(sqrt(num / den)), exactly. */
static uint64_t
isqrt_ratio(uint64_t num, uint64_t den)
{
	uint64_t lo = 0, hi = (uint64_t)1 << 32, mid;

	/* t*t <= num/den (a real) iff t*t <= floor(num/den) */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if ((u128)mid * mid <= num / den)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/*
 * The acceptance coin in 128 bits: exp(-n/d) with d*k fitting. Returns
 * 0/1, or -1 if the numbers outgrow 128 bits (the caller uses bignums).
 */
static int
bern_exp128(struct sampler *s, u128 n, u128 d)
{
	u128 w = n / d, rem = n % d, dk;
	uint64_t k;

	for (; w > 0; w--)
		if (!bern_exp_small(s, 1, 1))
			return 0;
	for (k = 1;; k++) {
		if (__builtin_mul_overflow(d, (u128)k, &dk))
			return -1;
		if (uniform128(s, dk) >= rem)
			break;
	}
	return (int)(k % 2);
}

int
sampler_dgauss(struct sampler *s, uint64_t num, uint64_t den, int64_t *x)
{
	BN_CTX *ctx = NULL;
	BIGNUM *n = NULL, *d = NULL, *tmp = NULL;
	uint64_t t = isqrt_ratio(num, den) + 1;
	int64_t y;
	int rv = -1, c;

	if ((ctx = BN_CTX_new()) == NULL || (n = BN_new()) == NULL ||
	    (d = BN_new()) == NULL || (tmp = BN_new()) == NULL)
		goto out;
	for (;;) {
		y = sampler_dlaplace(s, t, 1);
		{
			u128 a, nn, dd, ay = (u128)(y < 0 ? -y : y);
			int ok = 1;

			ok &= !__builtin_mul_overflow(ay, (u128)den, &a);
			ok &= !__builtin_mul_overflow(a, (u128)t, &a);
			a = a >= num ? a - num : num - a;
			ok &= !__builtin_mul_overflow(a, a, &nn);
			ok &= !__builtin_mul_overflow((u128)num * 2, (u128)den,
			    &dd);
			ok &= !__builtin_mul_overflow(dd, (u128)t * t, &dd);
			if (ok && (c = bern_exp128(s, nn, dd)) >= 0) {
				if (c) {
					*x = y;
					rv = 0;
					goto out;
				}
				continue;
			}
		}
		/* accept with exp(-(|y| - s2/t)^2 / (2 s2)), s2 = num/den:
		 * N = (|y| den t - num)^2, D = 2 num den t^2 */
		if (!BN_set_word(n, (BN_ULONG)(y < 0 ? -y : y)) ||
		    !BN_mul_word(n, (BN_ULONG)den) ||
		    !BN_mul_word(n, (BN_ULONG)t) ||
		    !BN_set_word(tmp, (BN_ULONG)num) ||
		    !BN_sub(n, n, tmp) || !BN_sqr(n, n, ctx) ||
		    !BN_set_word(d, (BN_ULONG)num) ||
		    !BN_mul_word(d, (BN_ULONG)den) ||
		    !BN_mul_word(d, (BN_ULONG)t) ||
		    !BN_mul_word(d, (BN_ULONG)t) || !BN_mul_word(d, 2))
			goto out;
		if (bern_exp_bn(n, d, ctx, &c) != 0)
			goto out;
		if (c) {
			*x = y;
			rv = 0;
			goto out;
		}
	}
 out:
	BN_free(n);
	BN_free(d);
	BN_free(tmp);
	BN_CTX_free(ctx);
	return rv;
}
