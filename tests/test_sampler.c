/*
 * test_sampler.c: the exact DP samplers against their exact distributions.
 * Each sampler draws 1,000,000 values; a chi-squared statistic over bins
 * with expected counts of at least 20 (tails merged) is compared with the
 * chi-squared quantile at 1 - 1e-4 for its degrees of freedom, so that a
 * correct sampler fails less than once in 10,000 runs. A sampler off by a
 * percent in any well-populated bin fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

#define DRAWS	1000000
#define SPAN	4000	/* values in [-SPAN, SPAN] are binned */

/* Upper 1e-4 quantile of chi-squared(df), Wilson-Hilferty. */
static double
chi2_crit(int df)
{
	double z = 3.7190165, a = 2.0 / (9.0 * df);

	return df * pow(1 - a + z * sqrt(a), 3);
}

/*
 * pmf[i] is the exact probability of value i - SPAN (normalized here);
 * counts are the draws. Bins are merged from the left until each holds
 * an expected 20; what is left at the right end joins the last bin (on
 * its own it could expect 0.01 draws, and one legitimate draw there
 * would fail the test). Returns the statistic and the degrees of freedom.
 */
static double
chi2(const double *pmf, const uint64_t *counts, int *dfp)
{
	double e = 0, o = 0, stat = 0, total = 0, le = 0, lo = 0;
	int i, bins = 0;

	for (i = 0; i <= 2 * SPAN; i++)
		total += pmf[i];
	for (i = 0; i <= 2 * SPAN; i++) {
		e += pmf[i] / total * DRAWS;
		o += (double)counts[i];
		if (e >= 20) {
			if (bins > 0)	/* the previous bin is final now */
				stat += (lo - le) * (lo - le) / le;
			le = e;
			lo = o;
			bins++;
			e = o = 0;
		}
	}
	le += e;	/* the right tail joins the last bin */
	lo += o;
	if (bins > 0)
		stat += (lo - le) * (lo - le) / le;
	*dfp = bins - 1;
	return stat;
}

static void
check(const char *what, const double *pmf, const uint64_t *counts)
{
	int df;
	double stat = chi2(pmf, counts, &df);

	if (df < 1)
		fail_msg("%s: too few bins", what);
	if (stat > chi2_crit(df))
		fail_msg("%s: chi-squared %.1f > %.1f (df %d)", what, stat,
		    chi2_crit(df), df);
	print_message("%s: chi2 %.1f, df %d, critical %.1f\n", what, stat, df,
	    chi2_crit(df));
}

static void
test_uniform(void **state)
{
	struct sampler *s = sampler_new();
	static const uint64_t ns[] = { 2, 7, 1000, 3000 };
	double *pmf = calloc(2 * SPAN + 1, sizeof(double));
	uint64_t *cnt = calloc(2 * SPAN + 1, sizeof(uint64_t)), v;
	size_t k;
	int i;
	char what[64];

	(void)state;
	assert_non_null(s);
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		memset(pmf, 0, (2 * SPAN + 1) * sizeof(double));
		memset(cnt, 0, (2 * SPAN + 1) * sizeof(uint64_t));
		for (v = 0; v < ns[k]; v++)
			pmf[SPAN + v] = 1;
		for (i = 0; i < DRAWS; i++) {
			v = sampler_uniform(s, ns[k]);
			assert_true(v < ns[k]);
			cnt[SPAN + v]++;
		}
		snprintf(what, sizeof(what), "uniform(%llu)",
		    (unsigned long long)ns[k]);
		check(what, pmf, cnt);
	}
	assert_int_equal(sampler_uniform(s, 1), 0);
	free(pmf);
	free(cnt);
	sampler_free(s);
}

static void
test_bernoulli_exp(void **state)
{
	static const uint64_t g[][2] = { { 0, 1 }, { 1, 3 }, { 1, 1 },
	    { 5, 2 }, { 7, 1 }, { 123456789, 100000000 } };
	struct sampler *s = sampler_new();
	double pmf[2 * SPAN + 1], p;
	uint64_t cnt[2 * SPAN + 1];
	size_t k;
	int i;
	char what[64];

	(void)state;
	for (k = 0; k < sizeof(g) / sizeof(g[0]); k++) {
		memset(pmf, 0, sizeof(pmf));
		memset(cnt, 0, sizeof(cnt));
		p = exp(-(double)g[k][0] / (double)g[k][1]);
		pmf[SPAN] = 1 - p;
		pmf[SPAN + 1] = p;
		for (i = 0; i < DRAWS; i++)
			cnt[SPAN + sampler_bernoulli_exp(s, g[k][0], g[k][1])]++;
		if (g[k][0] == 0) {	/* exp(0) = 1: always */
			assert_int_equal(cnt[SPAN + 1], DRAWS);
			continue;
		}
		snprintf(what, sizeof(what), "Bernoulli(exp(-%llu/%llu))",
		    (unsigned long long)g[k][0], (unsigned long long)g[k][1]);
		check(what, pmf, cnt);
	}
	sampler_free(s);
}

static void
test_dlaplace(void **state)
{
	static const uint64_t sc[][2] = { { 1, 1 }, { 3, 2 }, { 10, 1 },
	    { 1, 3 }, { 200, 7 } };
	struct sampler *s = sampler_new();
	double *pmf = calloc(2 * SPAN + 1, sizeof(double)), b, sum;
	uint64_t *cnt = calloc(2 * SPAN + 1, sizeof(uint64_t));
	int64_t x;
	size_t k;
	int i;
	char what[64];

	(void)state;
	for (k = 0; k < sizeof(sc) / sizeof(sc[0]); k++) {
		b = (double)sc[k][0] / (double)sc[k][1];
		sum = 0;
		for (i = -SPAN; i <= SPAN; i++)
			pmf[i + SPAN] = exp(-fabs((double)i) / b);
		memset(cnt, 0, (2 * SPAN + 1) * sizeof(uint64_t));
		for (i = 0; i < DRAWS; i++) {
			x = sampler_dlaplace(s, sc[k][0], sc[k][1]);
			sum += (double)x;
			if (x < -SPAN || x > SPAN)
				fail_msg("draw %lld beyond %d", (long long)x,
				    SPAN);
			cnt[x + SPAN]++;
		}
		snprintf(what, sizeof(what), "discrete Laplace(%llu/%llu)",
		    (unsigned long long)sc[k][0], (unsigned long long)sc[k][1]);
		check(what, pmf, cnt);
		/* symmetric: the mean is 0 within 5 standard errors */
		assert_true(fabs(sum / DRAWS) < 5 * sqrt(2 * b * b + 1) /
		    sqrt(DRAWS));
	}
	free(pmf);
	free(cnt);
	sampler_free(s);
}

static void
test_dgauss(void **state)
{
	static const uint64_t v[][2] = { { 1, 1 }, { 9, 4 }, { 25, 1 },
	    { 1, 4 }, { 10000, 3 } };
	struct sampler *s = sampler_new();
	double *pmf = calloc(2 * SPAN + 1, sizeof(double)), s2;
	uint64_t *cnt = calloc(2 * SPAN + 1, sizeof(uint64_t));
	int64_t x;
	size_t k;
	int i;
	char what[64];

	(void)state;
	for (k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		s2 = (double)v[k][0] / (double)v[k][1];
		for (i = -SPAN; i <= SPAN; i++)
			pmf[i + SPAN] = exp(-(double)i * i / (2 * s2));
		memset(cnt, 0, (2 * SPAN + 1) * sizeof(uint64_t));
		for (i = 0; i < DRAWS; i++) {
			assert_int_equal(sampler_dgauss(s, v[k][0], v[k][1],
			    &x), 0);
			if (x < -SPAN || x > SPAN)
				fail_msg("draw %lld beyond %d", (long long)x,
				    SPAN);
			cnt[x + SPAN]++;
		}
		snprintf(what, sizeof(what), "discrete Gaussian(s2=%llu/%llu)",
		    (unsigned long long)v[k][0], (unsigned long long)v[k][1]);
		check(what, pmf, cnt);
	}
	free(pmf);
	free(cnt);
	sampler_free(s);
}

/* The test must be able to fail: a biased "sampler" is caught. */
static void
test_detects_bias(void **state)
{
	struct sampler *s = sampler_new();
	double *pmf = calloc(2 * SPAN + 1, sizeof(double));
	uint64_t *cnt = calloc(2 * SPAN + 1, sizeof(uint64_t));
	int64_t x;
	int i, df;

	(void)state;
	for (i = -SPAN; i <= SPAN; i++)
		pmf[i + SPAN] = exp(-fabs((double)i) / 3.0);
	for (i = 0; i < DRAWS; i++) {
		x = sampler_dlaplace(s, 3, 1);
		if (x == 1 && sampler_uniform(s, 10) == 0)
			x = 2;	/* 10% of the ones become twos */
		cnt[x + SPAN]++;
	}
	assert_true(chi2(pmf, cnt, &df) > chi2_crit(df));
	free(pmf);
	free(cnt);
	sampler_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_bernoulli_exp),
		cmocka_unit_test(test_dlaplace),
		cmocka_unit_test(test_dgauss),
		cmocka_unit_test(test_detects_bias),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
