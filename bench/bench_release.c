/*
 * bench_release.c: the release engine. Draws per second of each exact
 * sampler, next to a plain C floating-point Laplace (inverse CDF over an
 * insecure PRNG: the fast, leaky way the design forbids) measured in the
 * same run; and the cost of releasing one job's results with noise, next
 * to releasing them exactly (mode none).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp.h"
#include "frame.h"
#include "ledger.h"
#include "policy.h"
#include "release.h"
#include "rt.h"
#include "sampler.h"
#include "table.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xs = 88172645463325252ULL;

static double
unif(void)
{
	xs ^= xs << 13;
	xs ^= xs >> 7;
	xs ^= xs << 17;
	return ((double)(xs >> 11) + 0.5) / 9007199254740992.0;
}

#define N	2000000

int
main(void)
{
	struct sampler *s = sampler_new();
	struct table_builder *b = table_builder_new();
	struct table *t;
	struct rt_job j;
	struct rt_stats st;
	struct dp_params dp;
	struct policy *pol = policy_new_default();
	struct veil_err err;
	msgpack_sbuffer sb, out;
	msgpack_packer pk;
	msgpack_unpacked up;
	double t0, tref, tl, tl2, tb, tg, sink = 0, u, trel, tnone;
	void *buf;
	size_t len, off = 0;
	char msg[256];
	int64_t x;
	int i;
	static const char *const dx[] = { "A", "B", "C", "D" };

	t0 = now();
	for (i = 0; i < N; i++) {
		u = unif() - 0.5;
		sink += -10.0 * (u < 0 ? -1 : 1) * log(1 - 2 * fabs(u));
	}
	tref = now() - t0;
	t0 = now();
	for (i = 0; i < N; i++)
		sink += sampler_bernoulli_exp(s, 1, 3);
	tb = now() - t0;
	t0 = now();
	for (i = 0; i < N; i++)
		sink += (double)sampler_dlaplace(s, 10, 1);
	tl = now() - t0;
	t0 = now();
	for (i = 0; i < N; i++)
		sink += (double)sampler_dlaplace(s, 5000000000000ULL, 62500000);
	tl2 = now() - t0;
	t0 = now();
	for (i = 0; i < N / 10; i++) {
		(void)sampler_dgauss(s, 100, 1, &x);
		sink += (double)x;
	}
	tg = (now() - t0) * 10;
	printf("Exact samplers (%d draws each)\n", N);
	printf("  %-48s %8.2f M/s\n", "ref plain C float Laplace (inverse CDF)",
	    N / tref / 1e6);
	printf("  %-48s %8.2f M/s  %.1fx slower than ref\n",
	    "Bernoulli(exp(-1/3))", N / tb / 1e6, tb / tref);
	printf("  %-48s %8.2f M/s  %.1fx slower than ref\n",
	    "discrete Laplace, scale 10", N / tl / 1e6, tl / tref);
	printf("  %-48s %8.2f M/s  %.1fx slower than ref\n",
	    "discrete Laplace, scale 80000 (a sum's)", N / tl2 / 1e6,
	    tl2 / tref);
	printf("  %-48s %8.2f M/s  %.1fx slower than ref\n",
	    "discrete Gaussian, sigma^2 = 100", N / tg / 1e6, tg / tref);
	printf("  goal >= 1 M discrete Laplace draws/s: %s\n",
	    N / tl >= 1e6 ? "met" : "NOT met");

	/* one job's results: 6 releases over 100,000 rows */
	table_builder_add_column(b, "x", VEIL_T_FLOAT, VEIL_R_INSENSITIVE, 0);
	table_builder_add_column(b, "g", VEIL_T_CATEGORY, VEIL_R_SENSITIVE,
	    TABLE_F_DECLARED);
	for (i = 0; i < 4; i++)
		table_builder_dict_add(b, 1, dx[i], 1);
	for (i = 0; i < 100000; i++) {
		table_builder_float(b, 0, unif() * 1000);
		table_builder_category(b, 1, dx[i % 4], 1);
	}
	table_builder_finish(b, &buf, &len, NULL);
	table_open(buf, len, &t, NULL);
	memset(&j, 0, sizeof(j));
	j.source = "local v = veil.dataset() return { n = v:count(), "
	    "s = v:sum('x', 0, 1000), m = v:mean('x', 0, 1000), "
	    "g = v:group_by('g'):count(), q = v:quantile('x', 0.5, 0, 1000), "
	    "h = v:histogram('x', {0, 100, 500, 1000}) }";
	j.source_len = strlen(j.source);
	j.name = "=bench";
	j.mode = RT_MODE_DP;
	j.mem_limit = 64u << 20;
	j.row_insns = RT_ROW_INSNS_DEFAULT;
	j.log_fd = 2;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (rt_run(&j, t, &pk, msg, sizeof(msg), &st) != RT_OK) {
		fprintf(stderr, "bench_release: %s\n", msg);
		return 1;
	}
	msgpack_unpacked_init(&up);
	msgpack_unpack_next(&up, sb.data, sb.size, &off);
	memset(&dp, 0, sizeof(dp));
	dp.eps_job = LEDGER_NANO;
	dp.delta = 1e-6;
	dp.m = 5;
	dp.smp = s;
	msgpack_sbuffer_init(&out);
	t0 = now();
	for (i = 0; i < 2000; i++) {
		msgpack_sbuffer_clear(&out);
		msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
		if (dp_release(&up.data, &dp, &pk, &err) != 0) {
			fprintf(stderr, "bench_release: %s\n", err.msg);
			return 1;
		}
	}
	trel = (now() - t0) / 2000;
	pol->mode = POLICY_NONE;
	t0 = now();
	for (i = 0; i < 2000; i++) {
		msgpack_sbuffer_clear(&out);
		msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
		(void)release_results(&up.data, pol, &pk, &err);
	}
	tnone = (now() - t0) / 2000;
	printf("\nReleasing one job's 6 results (count, sum, mean, 4-key "
	    "group, quantile, histogram)\n");
	printf("  %-48s %8.1f us\n", "ref exact release (mode none)",
	    tnone * 1e6);
	printf("  %-48s %8.1f us  %.1fx the exact release\n",
	    "dp release (noise from the exact samplers)", trel * 1e6,
	    trel / tnone);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&out);
	table_free(t);
	free(buf);
	table_builder_free(b);
	policy_free(pol);
	sampler_free(s);
	return sink == 1.5 ? 1 : 0;
}
