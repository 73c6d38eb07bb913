/*
 * dp.c: the differentially private release (see dp.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp.h"
#include "frame.h"
#include "ledger.h"
#include "release.h"

#define MAX_RELEASES	256
#define GRID		256
#define LAP_MAXDELTA	(1u << 20)	/* coarsen sums above this */
#define GAUSS_MAXDELTA	(1u << 16)

typedef __int128 i128;

struct rel {
	char			 name[128];
	const msgpack_object	*agg;
	const char		*op;
	int64_t			 eps;		/* nano */
	int			 explicit;
};

static int
bad(struct veil_err *err, const char *name, const char *what)
{
	return veil_seterr(err, VEIL_E_PARSE, "release: result '%s': %s",
	    name, what);
}

/* Nano-epsilons from a double the job wrote, rounded down. */
static int64_t
nano_of(double e)
{
	int64_t n = (int64_t)llround(e * (double)LEDGER_NANO);

	while (n > 0 && (double)n / (double)LEDGER_NANO > e)
		n--;
	return n;
}

struct noise {
	const struct dp_params	*p;
	int64_t			 eps;	/* nano, for this vector */
	uint64_t		 delta1;	/* sensitivity, in its units */
	uint64_t		 rho_num, rho_den;	/* Gaussian */
};

/* One draw of the release's noise. Returns 0 or -1. */
static int
draw(const struct noise *nz, int64_t *x)
{
	uint64_t num, den;

	if (nz->p->noise == POLICY_LAPLACE) {
		/* scale delta1 / eps = delta1 * 1e9 / eps_nano */
		*x = sampler_dlaplace(nz->p->smp, nz->delta1 *
		    (uint64_t)LEDGER_NANO, (uint64_t)nz->eps);
		return 0;
	}
	/* sigma^2 = delta^2 / (2 rho) */
	num = nz->delta1 * nz->delta1 * nz->rho_den;
	den = 2 * nz->rho_num;
	return sampler_dgauss(nz->p->smp, num, den, x);
}

/*
 * rho for an epsilon share under zCDP: the largest rho with
 * rho + 2 sqrt(rho ln(1/delta)) <= eps, rounded down to nano units.
 */
static void
rho_of(const struct dp_params *p, int64_t eps, struct noise *nz)
{
	double e = (double)eps / (double)LEDGER_NANO, l = log(1 / p->delta);
	double r = pow(sqrt(e + l) - sqrt(l), 2);

	/* micro-rho: sigma^2's numerator (delta^2 * 1e6) stays in 64 bits */
	nz->rho_num = (uint64_t)floor(r * 1e6);
	nz->rho_den = 1000000ULL;
}

static void
pack_cstr(msgpack_packer *pk, const char *s)
{
	frame_pack_cstr(pk, s);
}

/*
 * What a release did, in words a reviewer can check: the mechanism, the
 * sensitivity it assumed (in the released unit), and its budget.
 */
static void
mechanism(msgpack_packer *pk, const struct noise *nz, const char *op,
    double lo, double hi)
{
	char buf[256], sens[96], e[32];
	double m = nz->p->m, b = fmax(fabs(lo), fabs(hi));
	const char *how;

	ledger_format(nz->eps, e, sizeof(e));
	if (strcmp(op, "sum") == 0 || strcmp(op, "mean") == 0)
		snprintf(sens, sizeof(sens), "sensitivity %g = %g rows x "
		    "|bound| %g", m * b, m, b);
	else
		snprintf(sens, sizeof(sens), "sensitivity %g rows", m);
	how = strcmp(op, "mean") == 0 ? "; noisy sum / noisy count, each "
	    "with half" : strcmp(op, "quantile") == 0 ? "; noisy binary "
	    "search over 256 bins, 9 queries of a ninth each" :
	    strcmp(op, "histogram") == 0 ? "; every bin" : "";
	if (nz->p->noise == POLICY_LAPLACE)
		snprintf(buf, sizeof(buf), "discrete Laplace, %s, epsilon %s%s",
		    sens, e, how);
	else
		snprintf(buf, sizeof(buf), "discrete Gaussian (zCDP), %s, "
		    "rho %.6g from epsilon %s%s", sens,
		    (double)nz->rho_num / (double)nz->rho_den, e, how);
	pack_cstr(pk, buf);
}

static int
get_i128(const msgpack_object *g, i128 *out)
{
	const char *s;
	size_t len, i;
	i128 v = 0;
	int neg = 0;

	if (frame_get_str(g, "sum", &s, &len) != 0 || len == 0 || len > 45)
		return -1;
	i = 0;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static void
i128_str(i128 x, char *buf, size_t len)
{
	char tmp[64], *p = tmp + sizeof(tmp);
	unsigned __int128 u = x < 0 ? (unsigned __int128)0 -
	    (unsigned __int128)x : (unsigned __int128)x;

	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (x < 0)
		*--p = '-';
	snprintf(buf, len, "%s", p);
}

/* round(x / 2^j), ties away from zero */
static i128
shift_round(i128 x, int j)
{
	i128 h;

	if (j == 0)
		return x;
	h = (i128)1 << (j - 1);
	return x >= 0 ? (x + h) >> j : -((-x + h) >> j);
}

/*
 * A noisy sum on its grid: S (grid units 2^-k), sensitivity delta (grid
 * units). Coarsens the grid until the sensitivity is small enough for the
 * sampler's 64-bit parameters, then renders S' + noise exactly.
 */
static int
noisy_sum(const struct noise *base, i128 s, int k, unsigned __int128 delta,
    char *out, size_t outlen, double *valp)
{
	struct noise nz = *base;
	unsigned __int128 lim = base->p->noise == POLICY_LAPLACE ?
	    LAP_MAXDELTA : GAUSS_MAXDELTA;
	int j = 0, kk;
	int64_t x;
	i128 v;
	char num[64];

	while ((delta >> j) + 2 > lim)
		j++;
	nz.delta1 = (uint64_t)(delta >> j) + (j > 0 ? 2 : 0);
	if (draw(&nz, &x) != 0)
		return -1;
	v = shift_round(s, j) + x;
	kk = k - j;
	if (kk < 0) {
		v <<= -kk;
		kk = 0;
	}
	i128_str(v, num, sizeof(num));
	if (release_fixed(num, kk, out, outlen) != 0)
		return -1;
	*valp = (double)v / ldexp(1.0, kk);
	return 0;
}

static double
agg_num(const msgpack_object *a, const char *key)
{
	const msgpack_object *v = frame_get(a, key);

	if (v == NULL)
		return NAN;
	if (v->type == MSGPACK_OBJECT_FLOAT64 ||
	    v->type == MSGPACK_OBJECT_FLOAT32)
		return v->via.f64;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return (double)v->via.u64;
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return (double)v->via.i64;
	return NAN;
}

/* The value of one group. */
static int
group_value(struct rel *r, const msgpack_object *g, const struct noise *nz,
    int scale, double lo, double hi, msgpack_packer *pk,
    struct veil_err *err)
{
	const msgpack_object *bins;
	uint64_t rows, n, i, steps;
	unsigned __int128 delta;
	char buf[96];
	int64_t x;
	double v, sv, cv;
	i128 s;
	struct noise half;

	if (frame_get_uint(g, "rows", &rows) != 0)
		return bad(err, r->name, "group without rows");
	if (strcmp(r->op, "count") == 0) {
		if (draw(nz, &x) != 0)
			return -1;
		x += (int64_t)rows;
		msgpack_pack_int64(pk, x < 0 ? 0 : x);
		return 0;
	}
	if (frame_get_uint(g, "n", &n) != 0)
		return bad(err, r->name, "group without n");
	if (strcmp(r->op, "sum") == 0 || strcmp(r->op, "mean") == 0) {
		if (get_i128(g, &s) != 0)
			return bad(err, r->name, "group without a sum");
		delta = (unsigned __int128)nz->p->m *
		    (unsigned __int128)ceil(fmax(fabs(lo), fabs(hi)) *
		    ldexp(1.0, scale));
		if (delta == 0)
			delta = 1;
		if (strcmp(r->op, "sum") == 0) {
			if (noisy_sum(nz, s, scale, delta, buf, sizeof(buf),
			    &sv) != 0)
				return -1;
			pack_cstr(pk, buf);
			return 0;
		}
		half = *nz;	/* mean: half for the sum, half for n */
		half.eps = nz->eps / 2;
		if (nz->p->noise == POLICY_GAUSSIAN)
			half.rho_den *= 2;
		if (noisy_sum(&half, s, scale, delta, buf, sizeof(buf),
		    &sv) != 0 || draw(&half, &x) != 0)
			return -1;
		cv = (double)((int64_t)n + x);
		v = sv / (cv < 1 ? 1 : cv);
		v = v < lo ? lo : v > hi ? hi : v;
		snprintf(buf, sizeof(buf), "%.10g", v);
		pack_cstr(pk, buf);
		return 0;
	}
	/* quantile: noisy binary search over the grid */
	bins = frame_get(g, "bins");
	if (bins == NULL || bins->type != MSGPACK_OBJECT_ARRAY ||
	    bins->via.array.size != GRID)
		return bad(err, r->name, "quantile without its grid");
	for (i = 0; i < GRID; i++)
		if (bins->via.array.ptr[i].type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
			return bad(err, r->name, "quantile grid not counts");
	{
		struct noise ninth = *nz;
		double q = agg_num(r->agg, "q"), target;
		uint64_t blo = 0, bhi = GRID, mid, pre;

		ninth.eps = nz->eps / 9;
		if (ninth.eps == 0)
			return veil_seterr(err, VEIL_E_REFUSED, "result '%s': "
			    "epsilon too small for a quantile", r->name);
		if (draw(&ninth, &x) != 0)
			return -1;
		target = q * (double)((int64_t)n + x);
		for (steps = 0; steps < 8; steps++) {
			mid = (blo + bhi) / 2;
			for (pre = 0, i = 0; i < mid; i++)
				pre += bins->via.array.ptr[i].via.u64;
			if (draw(&ninth, &x) != 0)
				return -1;
			if ((double)((int64_t)pre + x) < target)
				blo = mid;
			else
				bhi = mid;
		}
		v = lo + ((double)blo + 0.5) * (hi - lo) / GRID;
		snprintf(buf, sizeof(buf), "%.10g", v);
		pack_cstr(pk, buf);
	}
	return 0;
}

static int
histogram_value(struct rel *r, const msgpack_object *g,
    const struct noise *nz, msgpack_packer *pk, struct veil_err *err)
{
	const msgpack_object *bins = frame_get(g, "bins");
	uint64_t below, above;
	uint32_t i;
	int64_t x;

	if (bins == NULL || bins->type != MSGPACK_OBJECT_ARRAY ||
	    frame_get_uint(g, "below", &below) != 0 ||
	    frame_get_uint(g, "above", &above) != 0)
		return bad(err, r->name, "histogram without bins");
	pack_cstr(pk, "bins");
	msgpack_pack_array(pk, bins->via.array.size);
	for (i = 0; i < bins->via.array.size; i++) {
		if (bins->via.array.ptr[i].type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
			return bad(err, r->name, "histogram bin not a count");
		if (draw(nz, &x) != 0)
			return -1;
		x += (int64_t)bins->via.array.ptr[i].via.u64;
		msgpack_pack_int64(pk, x < 0 ? 0 : x);
	}
	pack_cstr(pk, "below");
	if (draw(nz, &x) != 0)
		return -1;
	msgpack_pack_int64(pk, (int64_t)below + x < 0 ? 0 :
	    (int64_t)below + x);
	pack_cstr(pk, "above");
	if (draw(nz, &x) != 0)
		return -1;
	msgpack_pack_int64(pk, (int64_t)above + x < 0 ? 0 :
	    (int64_t)above + x);
	return 0;
}

static int
release_one(struct rel *r, const struct dp_params *p, msgpack_packer *pk,
    struct veil_err *err)
{
	const msgpack_object *a = r->agg, *groups, *g, *v;
	struct noise nz, sel;
	uint64_t units, i, kept = 0;
	int64_t sc = 0, x;
	int declared, hist, rv, *keep = NULL;
	double lo = agg_num(a, "lo"), hi = agg_num(a, "hi"), tau = 0;
	char e[32], buf[160];

	hist = strcmp(r->op, "histogram") == 0;
	if ((groups = frame_get(a, "groups")) == NULL ||
	    groups->type != MSGPACK_OBJECT_ARRAY)
		return bad(err, r->name, "no groups");
	if ((strcmp(r->op, "sum") == 0 || strcmp(r->op, "mean") == 0) &&
	    (frame_get_int(a, "scale", &sc) != 0 || sc < 0 || sc > 64 ||
	    !isfinite(lo) || !isfinite(hi)))
		return bad(err, r->name, "bad bounds or scale");
	if (strcmp(r->op, "quantile") == 0 && (!isfinite(lo) || !isfinite(hi)))
		return bad(err, r->name, "bad bounds");
	v = frame_get(a, "declared");
	declared = v != NULL && v->type == MSGPACK_OBJECT_BOOLEAN &&
	    v->via.boolean;
	memset(&nz, 0, sizeof(nz));
	nz.p = p;
	nz.eps = r->eps;
	nz.delta1 = p->m;
	if (p->noise == POLICY_GAUSSIAN) {
		if (strcmp(r->op, "quantile") == 0 || !declared)
			return veil_seterr(err, VEIL_E_REFUSED, "result '%s': "
			    "quantiles and groups of undeclared keys are "
			    "released with Laplace noise; use noise = "
			    "\"laplace\"", r->name);
		rho_of(p, r->eps, &nz);
		if (nz.rho_num < 2)
			return veil_seterr(err, VEIL_E_REFUSED, "result '%s': "
			    "its epsilon share is too small for the Gaussian "
			    "mechanism", r->name);
	}
	if ((keep = calloc(groups->via.array.size + 1, sizeof(int))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	if (!declared) {
		/* DP partition selection: a key leaves only if its noisy
		 * count of distinct units clears tau. A unit reaches at most
		 * m keys, so the selection's L1 sensitivity is m. */
		if (p->delta <= 0) {
			free(keep);
			return veil_seterr(err, VEIL_E_REFUSED, "result '%s': "
			    "grouping by keys that are not declared needs "
			    "delta > 0 in the policy (or declare the "
			    "column's values)", r->name);
		}
		sel = nz;
		sel.eps = r->eps / 2;
		nz.eps = r->eps - sel.eps;
		tau = 1 + (double)p->m * ((double)LEDGER_NANO /
		    (double)sel.eps) * log((double)p->m / (2 * p->delta));
		for (i = 0; i < groups->via.array.size; i++) {
			g = &groups->via.array.ptr[i];
			if (frame_get_uint(g, "units", &units) != 0) {
				free(keep);
				return bad(err, r->name, "group without units");
			}
			if (draw(&sel, &x) != 0) {
				free(keep);
				return -1;
			}
			keep[i] = (double)((int64_t)units + x) >= tau;
			kept += keep[i];
		}
	} else {
		for (i = 0; i < groups->via.array.size; i++)
			keep[i] = 1;
		kept = groups->via.array.size;
	}
	ledger_format(r->eps, e, sizeof(e));
	msgpack_pack_map(pk, 7 + (frame_get(a, "col") != NULL) +
	    (!declared ? 1 : 0));
	pack_cstr(pk, "op");
	pack_cstr(pk, r->op);
	if ((v = frame_get(a, "col")) != NULL) {
		pack_cstr(pk, "col");
		msgpack_pack_object(pk, *v);
	}
	pack_cstr(pk, "by");
	if ((v = frame_get(a, "by")) != NULL)
		msgpack_pack_object(pk, *v);
	else
		msgpack_pack_nil(pk);
	pack_cstr(pk, "mode");
	pack_cstr(pk, "dp");
	pack_cstr(pk, "epsilon");
	pack_cstr(pk, e);
	pack_cstr(pk, "delta");
	if (!declared || p->noise == POLICY_GAUSSIAN) {
		snprintf(buf, sizeof(buf), "%.3g", p->delta);
		pack_cstr(pk, buf);
	} else
		pack_cstr(pk, "0");
	pack_cstr(pk, "mechanism");
	mechanism(pk, &nz, r->op, lo, hi);
	if (!declared) {
		pack_cstr(pk, "selection");
		snprintf(buf, sizeof(buf), "keys with noisy distinct units >= "
		    "%.4g (discrete Laplace, epsilon %s)", tau, e);
		pack_cstr(pk, buf);
	}
	pack_cstr(pk, "groups");
	msgpack_pack_array(pk, kept);
	rv = 0;
	for (i = 0; i < groups->via.array.size && rv == 0; i++) {
		if (!keep[i])
			continue;
		g = &groups->via.array.ptr[i];
		msgpack_pack_map(pk, hist ? 4 : 2);
		pack_cstr(pk, "key");
		if ((v = frame_get(g, "key")) != NULL)
			msgpack_pack_object(pk, *v);
		else
			msgpack_pack_nil(pk);
		if (hist)
			rv = histogram_value(r, g, &nz, pk, err);
		else {
			pack_cstr(pk, "value");
			rv = group_value(r, g, &nz, (int)sc, lo, hi, pk, err);
		}
	}
	free(keep);
	if (rv != 0 && err != NULL && err->code == 0)
		veil_seterr(err, VEIL_E_INTERNAL, "release: sampling failed");
	return rv;
}

int
dp_release(const msgpack_object *results, const struct dp_params *p,
    msgpack_packer *out, struct veil_err *err)
{
	struct rel *rels = NULL;
	const msgpack_object *k, *a;
	int64_t explicit_sum = 0, share;
	uint32_t i, n, nimp = 0;
	const char *op;
	size_t len;
	double ev;
	char x[32], y[32];
	int rv = VEIL_E_PARSE;

	if (results == NULL || results->type != MSGPACK_OBJECT_MAP ||
	    (n = results->via.map.size) == 0 || n > MAX_RELEASES)
		return veil_seterr(err, VEIL_E_PARSE, "release: no results");
	if (p->eps_job <= 0 || p->m == 0 || p->smp == NULL)
		return veil_seterr(err, VEIL_E_INVALID, "release: bad "
		    "parameters");
	if ((rels = calloc(n, sizeof(*rels))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		k = &results->via.map.ptr[i].key;
		a = &results->via.map.ptr[i].val;
		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 ||
		    k->via.str.size >= sizeof(rels[i].name) ||
		    a->type != MSGPACK_OBJECT_MAP) {
			rv = veil_seterr(err, VEIL_E_PARSE, "release: bad "
			    "result");
			goto out;
		}
		memcpy(rels[i].name, k->via.str.ptr, k->via.str.size);
		rels[i].agg = a;
		if (frame_get_str(a, "op", &op, &len) != 0) {
			rv = bad(err, rels[i].name, "no op");
			goto out;
		}
#define OP(s)	(len == sizeof(s) - 1 && memcmp(op, s, len) == 0)
		rels[i].op = OP("count") ? "count" : OP("sum") ? "sum" :
		    OP("mean") ? "mean" : OP("quantile") ? "quantile" :
		    OP("histogram") ? "histogram" : NULL;
#undef OP
		if (rels[i].op == NULL) {
			rv = bad(err, rels[i].name, "unknown op");
			goto out;
		}
		ev = agg_num(a, "epsilon");
		if (isfinite(ev)) {
			rels[i].explicit = 1;
			rels[i].eps = nano_of(ev);
			explicit_sum += rels[i].eps;
		} else
			nimp++;
	}
	if (explicit_sum > p->eps_job) {
		ledger_format(explicit_sum, x, sizeof(x));
		ledger_format(p->eps_job, y, sizeof(y));
		rv = veil_seterr(err, VEIL_E_REFUSED, "the job's releases ask "
		    "for %s epsilon; the job has %s", x, y);
		goto out;
	}
	share = nimp > 0 ? (p->eps_job - explicit_sum) / nimp : 0;
	for (i = 0; i < n; i++) {
		if (!rels[i].explicit)
			rels[i].eps = share;
		if (rels[i].eps <= 0) {
			rv = veil_seterr(err, VEIL_E_REFUSED, "result '%s': no "
			    "epsilon left for it (the other releases took "
			    "the job's)", rels[i].name);
			goto out;
		}
	}
	msgpack_pack_map(out, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_object(out, results->via.map.ptr[i].key);
		if ((rv = release_one(&rels[i], p, out, err)) != 0)
			goto out;
	}
	rv = 0;
 out:
	free(rels);
	return rv;
}
