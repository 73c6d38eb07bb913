/*
 * test_dp.c: the differentially private release. Released sums lie on
 * their grid; the job's epsilon is split as documented; releases that ask
 * too much are refused; and a statistical neighbour test: a count and a
 * clamped sum are released 100,000 times on two data sets that differ in
 * one person (whose value sits at the clamp bound), and the epsilon this
 * shows, with a Clopper-Pearson bound, is no larger than the one claimed.
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

#include "dp.h"
#include "frame.h"
#include "ledger.h"
#include "sampler.h"

/* One worker result: op over one group (or keys, if given). */
struct spec {
	const char	*name, *op;
	double		 lo, hi, eps;	/* eps 0: none */
	int		 scale, declared, nkeys;
	uint64_t	 rows, units, n;
	const char	*sum;
};

static void
pack_result(msgpack_packer *pk, const struct spec *s)
{
	int i, nf = 7 + (s->eps > 0);

	frame_pack_cstr(pk, s->name);
	msgpack_pack_map(pk, (size_t)nf + 3);
	frame_pack_cstr(pk, "op");
	frame_pack_cstr(pk, s->op);
	frame_pack_cstr(pk, "col");
	frame_pack_cstr(pk, "x");
	frame_pack_cstr(pk, "lo");
	msgpack_pack_double(pk, s->lo);
	frame_pack_cstr(pk, "hi");
	msgpack_pack_double(pk, s->hi);
	frame_pack_cstr(pk, "scale");
	msgpack_pack_int(pk, s->scale);
	frame_pack_cstr(pk, "q");
	msgpack_pack_double(pk, 0.5);
	frame_pack_cstr(pk, "by");
	msgpack_pack_nil(pk);
	frame_pack_cstr(pk, "declared");
	if (s->declared)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	frame_pack_cstr(pk, "max_rows_per_unit");
	msgpack_pack_uint64(pk, 1);
	if (s->eps > 0) {
		frame_pack_cstr(pk, "epsilon");
		msgpack_pack_double(pk, s->eps);
	}
	frame_pack_cstr(pk, "groups");
	msgpack_pack_array(pk, (size_t)(s->nkeys > 0 ? s->nkeys : 1));
	for (i = 0; i < (s->nkeys > 0 ? s->nkeys : 1); i++) {
		msgpack_pack_map(pk, 5);
		frame_pack_cstr(pk, "key");
		if (s->nkeys > 0)
			msgpack_pack_int(pk, i);
		else
			msgpack_pack_nil(pk);
		frame_pack_cstr(pk, "rows");
		msgpack_pack_uint64(pk, s->rows);
		frame_pack_cstr(pk, "units");
		msgpack_pack_uint64(pk, s->units);
		frame_pack_cstr(pk, "n");
		msgpack_pack_uint64(pk, s->n);
		frame_pack_cstr(pk, "sum");
		frame_pack_cstr(pk, s->sum != NULL ? s->sum : "0");
	}
}

struct fix {
	struct sampler		*smp;
	msgpack_sbuffer		 in, out;
	msgpack_unpacked	 ui, uo;
};

/* Releases specs under eps_job; returns dp_release's code. */
static int
release(struct fix *f, const struct spec *specs, int n, int64_t eps_job,
    double delta, enum policy_noise noise, struct veil_err *err)
{
	struct dp_params p;
	msgpack_packer pk;
	size_t off = 0;
	int i, r;

	msgpack_sbuffer_clear(&f->in);
	msgpack_sbuffer_clear(&f->out);
	msgpack_packer_init(&pk, &f->in, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (size_t)n);
	for (i = 0; i < n; i++)
		pack_result(&pk, &specs[i]);
	msgpack_unpacked_destroy(&f->ui);
	msgpack_unpacked_init(&f->ui);
	assert_int_equal(msgpack_unpack_next(&f->ui, f->in.data, f->in.size,
	    &off), MSGPACK_UNPACK_SUCCESS);
	memset(&p, 0, sizeof(p));
	p.eps_job = eps_job;
	p.delta = delta;
	p.noise = noise;
	p.m = 1;
	p.smp = f->smp;
	msgpack_packer_init(&pk, &f->out, msgpack_sbuffer_write);
	veil_err_clear(err);
	if ((r = dp_release(&f->ui.data, &p, &pk, err)) != 0)
		return r;
	off = 0;
	msgpack_unpacked_destroy(&f->uo);
	msgpack_unpacked_init(&f->uo);
	assert_int_equal(msgpack_unpack_next(&f->uo, f->out.data,
	    f->out.size, &off), MSGPACK_UNPACK_SUCCESS);
	return 0;
}

/* The released value of group 0 of result name, as a double. */
static double
value(struct fix *f, const char *name, const char **strp)
{
	const msgpack_object *r = frame_get(&f->uo.data, name), *g, *v;

	assert_non_null(r);
	g = frame_get(r, "groups");
	assert_non_null(g);
	assert_true(g->via.array.size >= 1);
	v = frame_get(&g->via.array.ptr[0], "value");
	assert_non_null(v);
	if (v->type == MSGPACK_OBJECT_STR) {
		static char buf[128];

		snprintf(buf, sizeof(buf), "%.*s", (int)v->via.str.size,
		    v->via.str.ptr);
		if (strp != NULL)
			*strp = buf;
		return strtod(buf, NULL);
	}
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)v->via.u64;
	return (double)v->via.i64;
}

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (f == NULL || (f->smp = sampler_new()) == NULL)
		return -1;
	msgpack_sbuffer_init(&f->in);
	msgpack_sbuffer_init(&f->out);
	msgpack_unpacked_init(&f->ui);
	msgpack_unpacked_init(&f->uo);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	msgpack_sbuffer_destroy(&f->in);
	msgpack_sbuffer_destroy(&f->out);
	msgpack_unpacked_destroy(&f->ui);
	msgpack_unpacked_destroy(&f->uo);
	sampler_free(f->smp);
	free(f);
	return 0;
}

/* A decimal string times 2^k is an integer. */
static int
on_grid(const char *s, int k)
{
	const char *dot = strchr(s, '.');
	long double frac;

	if (dot == NULL)
		return 1;
	frac = strtold(dot, NULL) * ldexpl(1.0L, k);
	return frac == floorl(frac);
}

static void
test_sums_on_grid(void **state)
{
	struct fix *f = *state;
	struct veil_err err;
	struct spec s = { "s", "sum", 0, 1000, 0, 20, 1, 0, 100, 100, 100,
	    "52428800000" };	/* 50000 on a 2^-20 grid */
	const char *str;
	int i;

	for (i = 0; i < 200; i++) {
		assert_int_equal(release(f, &s, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		(void)value(f, "s", &str);
		if (!on_grid(str, 20))
			fail_msg("released sum %s is not on the 2^-20 grid", str);
	}
	/* integer columns: integers */
	s.scale = 0;
	s.sum = "50000";
	for (i = 0; i < 50; i++) {
		assert_int_equal(release(f, &s, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		(void)value(f, "s", &str);
		assert_null(strchr(str, '.'));
	}
}

static void
test_epsilon_split(void **state)
{
	struct fix *f = *state;
	struct veil_err err;
	struct spec s[3] = {
		{ "a", "count", 0, 0, 0.5, 0, 1, 0, 10, 10, 10, NULL },
		{ "b", "count", 0, 0, 0, 0, 1, 0, 10, 10, 10, NULL },
		{ "c", "count", 0, 0, 0, 0, 1, 0, 10, 10, 10, NULL },
	};
	const msgpack_object *e;

	assert_int_equal(release(f, s, 3, 2 * LEDGER_NANO, 0, POLICY_LAPLACE,
	    &err), 0);
	e = frame_get(frame_get(&f->uo.data, "a"), "epsilon");
	assert_true(frame_streq(e, "0.5"));
	e = frame_get(frame_get(&f->uo.data, "b"), "epsilon");
	assert_true(frame_streq(e, "0.75"));	/* (2 - 0.5) / 2 */
	e = frame_get(frame_get(&f->uo.data, "c"), "epsilon");
	assert_true(frame_streq(e, "0.75"));
	assert_non_null(frame_get(frame_get(&f->uo.data, "c"), "mechanism"));
	/* asking for more than the job has */
	s[0].eps = 3;
	assert_int_equal(release(f, s, 3, 2 * LEDGER_NANO, 0, POLICY_LAPLACE,
	    &err), VEIL_E_REFUSED);
	assert_non_null(strstr(err.msg, "ask for 3 epsilon; the job has 2"));
	/* taking it all leaves the others nothing */
	s[0].eps = 2;
	assert_int_equal(release(f, s, 3, 2 * LEDGER_NANO, 0, POLICY_LAPLACE,
	    &err), VEIL_E_REFUSED);
	assert_non_null(strstr(err.msg, "no epsilon left"));
}

static void
test_refusals(void **state)
{
	struct fix *f = *state;
	struct veil_err err;
	struct spec g = { "g", "count", 0, 0, 0, 0, 0, 3, 10, 10, 10, NULL };
	struct spec q = { "q", "quantile", 0, 100, 0, 0, 1, 0, 10, 10, 10,
	    NULL };

	/* undeclared keys need delta */
	assert_int_equal(release(f, &g, 1, LEDGER_NANO, 0, POLICY_LAPLACE,
	    &err), VEIL_E_REFUSED);
	assert_non_null(strstr(err.msg, "delta > 0"));
	/* ...with delta, keys of 10 units pass a threshold of about 14.8
	 * only sometimes; keys of 1000 units always */
	g.units = 1000;
	assert_int_equal(release(f, &g, 1, LEDGER_NANO, 1e-6, POLICY_LAPLACE,
	    &err), 0);
	assert_int_equal(frame_get(frame_get(&f->uo.data, "g"),
	    "groups")->via.array.size, 3);
	g.units = 1;	/* a key of one person: released with prob < 1e-6 */
	assert_int_equal(release(f, &g, 1, LEDGER_NANO, 1e-6, POLICY_LAPLACE,
	    &err), 0);
	assert_int_equal(frame_get(frame_get(&f->uo.data, "g"),
	    "groups")->via.array.size, 0);
	/* Gaussian: no quantiles */
	assert_int_equal(release(f, &q, 1, LEDGER_NANO, 1e-6,
	    POLICY_GAUSSIAN, &err), VEIL_E_REFUSED);
	/* a quantile under Laplace lands in [lo, hi] */
	assert_int_equal(release(f, &q, 1, LEDGER_NANO, 0, POLICY_LAPLACE,
	    &err), VEIL_E_PARSE);	/* no grid bins in this spec */
}

/* {====== Clopper-Pearson */

static double
betacf(double a, double b, double x)
{
	double c = 1, d = 1 - (a + b) * x / (a + 1), h, del, aa;
	int m;

	d = fabs(d) < 1e-300 ? 1e-300 : d;
	d = 1 / d;
	h = d;
	for (m = 1; m <= 300; m++) {
		aa = m * (b - m) * x / ((a - 1 + 2 * m) * (a + 2 * m));
		d = 1 + aa * d;
		d = fabs(d) < 1e-300 ? 1e-300 : d;
		c = 1 + aa / c;
		c = fabs(c) < 1e-300 ? 1e-300 : c;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1 + 2 * m));
		d = 1 + aa * d;
		d = fabs(d) < 1e-300 ? 1e-300 : d;
		c = 1 + aa / c;
		c = fabs(c) < 1e-300 ? 1e-300 : c;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-12)
			break;
	}
	return h;
}

/* The regularized incomplete beta function I_x(a, b). */
static double
ibeta(double a, double b, double x)
{
	double bt;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) +
	    b * log(1 - x));
	if (x < (a + 1) / (a + b + 2))
		return bt * betacf(a, b, x) / a;
	return 1 - bt * betacf(b, a, 1 - x) / b;
}

/* The p with I_p(a, b) = y, by bisection. */
static double
ibeta_inv(double a, double b, double y)
{
	double lo = 0, hi = 1, mid;
	int i;

	for (i = 0; i < 100; i++) {
		mid = (lo + hi) / 2;
		if (ibeta(a, b, mid) < y)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* Two-sided Clopper-Pearson interval for k successes in n, level 1-alpha. */
static void
clopper_pearson(uint64_t k, uint64_t n, double alpha, double *lo, double *hi)
{
	*lo = k == 0 ? 0 : ibeta_inv((double)k, (double)(n - k + 1), alpha / 2);
	*hi = k == n ? 1 : ibeta_inv((double)(k + 1), (double)(n - k),
	    1 - alpha / 2);
}

/* }====== */

#define RUNS	100000

/*
 * The epsilon an attacker can prove from the event "output >= t":
 * ln(P_D'[E] lower bound / P_D[E] upper bound), both ways round.
 */
static double
empirical_eps(uint64_t k1, uint64_t k2)
{
	double l1, h1, l2, h2, e = 0;

	clopper_pearson(k1, RUNS, 1e-6, &l1, &h1);
	clopper_pearson(k2, RUNS, 1e-6, &l2, &h2);
	if (l2 > 0 && h1 > 0)
		e = fmax(e, log(l2 / h1));
	if (l1 > 0 && h2 > 0)
		e = fmax(e, log(l1 / h2));
	if (1 - h2 > 0 && 1 - l1 > 0)
		e = fmax(e, log((1 - h1) / (1 - l2)));
	return e;
}

static void
test_neighbours(void **state)
{
	struct fix *f = *state;
	struct veil_err err;
	/* D: 100 people; D': one more, whose value sits at the bound 10 */
	struct spec c1 = { "c", "count", 0, 0, 0, 0, 1, 0, 100, 100, 100,
	    NULL };
	struct spec c2 = { "c", "count", 0, 0, 0, 0, 1, 0, 101, 101, 101,
	    NULL };
	struct spec s1 = { "s", "sum", 0, 10, 0, 0, 1, 0, 100, 100, 100,
	    "500" };
	struct spec s2 = { "s", "sum", 0, 10, 0, 0, 1, 0, 101, 101, 101,
	    "510" };
	uint64_t k1 = 0, k2 = 0, j1 = 0, j2 = 0, i;
	double e;

	for (i = 0; i < RUNS; i++) {
		assert_int_equal(release(f, &c1, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		k1 += value(f, "c", NULL) >= 101;
		assert_int_equal(release(f, &c2, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		k2 += value(f, "c", NULL) >= 101;
		assert_int_equal(release(f, &s1, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		j1 += value(f, "s", NULL) >= 505;
		assert_int_equal(release(f, &s2, 1, LEDGER_NANO, 0,
		    POLICY_LAPLACE, &err), 0);
		j2 += value(f, "s", NULL) >= 505;
	}
	e = empirical_eps(k1, k2);
	print_message("count: P[>=101] %.4f vs %.4f, proven epsilon %.3f "
	    "(claimed 1)\n", (double)k1 / RUNS, (double)k2 / RUNS, e);
	assert_true(e <= 1.0);
	assert_true(k2 > k1);		/* the test has power */
	e = empirical_eps(j1, j2);
	print_message("sum: P[>=505] %.4f vs %.4f, proven epsilon %.3f "
	    "(claimed 1)\n", (double)j1 / RUNS, (double)j2 / RUNS, e);
	assert_true(e <= 1.0);
	assert_true(j2 > j1);
}

/* The same test catches a mechanism with half the noise it needs. */
static void
test_neighbours_can_fail(void **state)
{
	struct fix *f = *state;
	uint64_t k1 = 0, k2 = 0, i;

	for (i = 0; i < RUNS; i++) {	/* scale 1/2: really epsilon 2 */
		k1 += 100 + sampler_dlaplace(f->smp, 1, 2) >= 101;
		k2 += 101 + sampler_dlaplace(f->smp, 1, 2) >= 101;
	}
	assert_true(empirical_eps(k1, k2) > 1.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sums_on_grid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_epsilon_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_neighbours, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_neighbours_can_fail, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
