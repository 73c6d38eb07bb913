/*
 * release.c: none and threshold releases (see release.h); dp.c adds the
 * noisy one. Sums are rendered exactly from their fixed-point grid with
 * OpenSSL's bignums: n / 2^k = n * 5^k / 10^k.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>

#include "frame.h"
#include "release.h"

int
release_fixed(const char *n, int k, char *out, size_t outlen)
{
	BIGNUM *v = NULL, *p5 = NULL, *five = NULL, *e = NULL;
	BN_CTX *ctx = NULL;
	char *s = NULL, *d;
	size_t len, digits, o = 0, i;
	int neg, rv = -1, used;

	if (k < 0 || k > 64 || outlen < 4)
		return -1;
	if ((ctx = BN_CTX_new()) == NULL || (p5 = BN_new()) == NULL ||
	    (five = BN_new()) == NULL || (e = BN_new()) == NULL ||
	    (used = BN_dec2bn(&v, n)) == 0 || n[used] != '\0' ||
	    !BN_set_word(five, 5) || !BN_set_word(e, (BN_ULONG)k) ||
	    !BN_exp(p5, five, e, ctx) || !BN_mul(v, v, p5, ctx) ||
	    (s = BN_bn2dec(v)) == NULL)
		goto out;
	neg = s[0] == '-';
	d = s + neg;
	digits = strlen(d);
	if (neg)
		out[o++] = '-';
	if (digits <= (size_t)k) {	/* 0.000ddd */
		if (o + 2 + (size_t)k + 1 > outlen)
			goto out;
		out[o++] = '0';
		if (k > 0)
			out[o++] = '.';
		for (i = digits; i < (size_t)k; i++)
			out[o++] = '0';
		memcpy(out + o, d, digits);
		o += digits;
	} else {
		len = digits - (size_t)k;
		if (o + digits + 2 > outlen)
			goto out;
		memcpy(out + o, d, len);
		o += len;
		if (k > 0) {
			out[o++] = '.';
			memcpy(out + o, d + len, (size_t)k);
			o += (size_t)k;
		}
	}
	out[o] = '\0';
	/* trim trailing zeros of the fraction, and a bare point */
	if (strchr(out, '.') != NULL) {
		while (o > 0 && out[o - 1] == '0')
			out[--o] = '\0';
		if (o > 0 && out[o - 1] == '.')
			out[--o] = '\0';
	}
	if (strcmp(out, "-0") == 0)
		strcpy(out, "0");
	rv = 0;
 out:
	OPENSSL_free(s);
	BN_free(v);
	BN_free(p5);
	BN_free(five);
	BN_free(e);
	BN_CTX_free(ctx);
	return rv;
}

static int
bad(struct veil_err *err, const char *name, const char *what)
{
	return veil_seterr(err, VEIL_E_PARSE, "release: result '%s': %s",
	    name, what);
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	frame_pack_cstr(pk, s);
}

/* Number of map entries we will write for an aggregation. */
struct rel {
	const char		*name;
	const msgpack_object	*agg, *groups;
	const char		*op;
	uint64_t		 k;
	int			 scale;
};

static int
group_value(const struct rel *r, const msgpack_object *g, msgpack_packer *pk,
    uint64_t *suppressed, struct veil_err *err)
{
	const msgpack_object *bins, *units;
	const char *s;
	size_t len;
	uint64_t rows, n, u, i;
	char buf[160], num[64];
	long double sum;

	if (frame_get_uint(g, "rows", &rows) != 0)
		return bad(err, r->name, "group without rows");
	if (strcmp(r->op, "count") == 0) {
		msgpack_pack_uint64(pk, rows);
		return 0;
	}
	if (frame_get_uint(g, "n", &n) != 0)
		return bad(err, r->name, "group without n");
	if (strcmp(r->op, "sum") == 0 || strcmp(r->op, "mean") == 0) {
		if (frame_get_str(g, "sum", &s, &len) != 0 || len == 0 ||
		    len >= sizeof(num))
			return bad(err, r->name, "group without a sum");
		memcpy(num, s, len);
		num[len] = '\0';
		if (strcmp(r->op, "sum") == 0) {
			if (release_fixed(num, r->scale, buf, sizeof(buf)) != 0)
				return bad(err, r->name, "sum is not an integer");
			pack_str(pk, buf);
			return 0;
		}
		if (n == 0) {
			msgpack_pack_nil(pk);
			return 0;
		}
		sum = strtold(num, NULL);
		snprintf(buf, sizeof(buf), "%.12Lg",
		    sum / ldexpl(1.0L, r->scale) / (long double)n);
		pack_str(pk, buf);
		return 0;
	}
	if (strcmp(r->op, "quantile") == 0) {
		const msgpack_object *e = frame_get(g, "exact");

		if (e == NULL || (e->type != MSGPACK_OBJECT_FLOAT64 &&
		    e->type != MSGPACK_OBJECT_NIL))
			return bad(err, r->name, "quantile without a value");
		if (e->type == MSGPACK_OBJECT_NIL)
			msgpack_pack_nil(pk);
		else {
			snprintf(buf, sizeof(buf), "%.12g", e->via.f64);
			pack_str(pk, buf);
		}
		return 0;
	}
	/* histogram: bins, with bins of fewer than k units suppressed */
	bins = frame_get(g, "bins");
	units = frame_get(g, "bin_units");
	if (bins == NULL || units == NULL ||
	    bins->type != MSGPACK_OBJECT_ARRAY ||
	    units->type != MSGPACK_OBJECT_ARRAY ||
	    bins->via.array.size != units->via.array.size)
		return bad(err, r->name, "histogram without bins");
	msgpack_pack_array(pk, bins->via.array.size);
	for (i = 0; i < bins->via.array.size; i++) {
		const msgpack_object *b = &bins->via.array.ptr[i];
		const msgpack_object *bu = &units->via.array.ptr[i];

		if (b->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    bu->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return bad(err, r->name, "histogram bin not a count");
		u = bu->via.u64;
		if (r->k > 0 && u < r->k && b->via.u64 > 0) {
			msgpack_pack_nil(pk);
			(*suppressed)++;
		} else
			msgpack_pack_uint64(pk, b->via.u64);
	}
	return 0;
}

static int
release_one(struct rel *r, const struct policy *p, msgpack_packer *pk,
    struct veil_err *err)
{
	const msgpack_object *a = r->agg, *g, *v;
	uint64_t units, suppressed = 0, kept = 0, i, x;
	const char *s;
	size_t len;
	int64_t sc;
	int rv, hist;

	if (frame_get_str(a, "op", &s, &len) != 0)
		return bad(err, r->name, "no op");
	if (len == 5 && memcmp(s, "count", 5) == 0)
		r->op = "count";
	else if (len == 3 && memcmp(s, "sum", 3) == 0)
		r->op = "sum";
	else if (len == 4 && memcmp(s, "mean", 4) == 0)
		r->op = "mean";
	else if (len == 8 && memcmp(s, "quantile", 8) == 0)
		r->op = "quantile";
	else if (len == 9 && memcmp(s, "histogram", 9) == 0)
		r->op = "histogram";
	else
		return bad(err, r->name, "unknown op");
	hist = strcmp(r->op, "histogram") == 0;
	r->scale = 0;
	if ((strcmp(r->op, "sum") == 0 || strcmp(r->op, "mean") == 0) &&
	    (frame_get_int(a, "scale", &sc) != 0 || sc < 0 || sc > 64))
		return bad(err, r->name, "bad scale");
	else if (strcmp(r->op, "sum") == 0 || strcmp(r->op, "mean") == 0)
		r->scale = (int)sc;
	if ((r->groups = frame_get(a, "groups")) == NULL ||
	    r->groups->type != MSGPACK_OBJECT_ARRAY)
		return bad(err, r->name, "no groups");
	r->k = p->mode == POLICY_THRESHOLD ? p->k : 0;

	/* which groups survive the threshold */
	for (i = 0; i < r->groups->via.array.size; i++) {
		g = &r->groups->via.array.ptr[i];
		if (frame_get_uint(g, "units", &units) != 0)
			return bad(err, r->name, "group without units");
		if (r->k > 0 && units < r->k && !hist)
			suppressed++;
		else
			kept++;
	}
	msgpack_pack_map(pk, 6 + (frame_get(a, "col") != NULL));
	pack_str(pk, "op");
	pack_str(pk, r->op);
	if ((v = frame_get(a, "col")) != NULL) {
		pack_str(pk, "col");
		msgpack_pack_object(pk, *v);
	}
	pack_str(pk, "by");
	if ((v = frame_get(a, "by")) != NULL)
		msgpack_pack_object(pk, *v);
	else
		msgpack_pack_nil(pk);
	pack_str(pk, "mode");
	pack_str(pk, policy_mode_name(p->mode));
	pack_str(pk, "groups");
	msgpack_pack_array(pk, kept);
	for (i = 0; i < r->groups->via.array.size; i++) {
		g = &r->groups->via.array.ptr[i];
		(void)frame_get_uint(g, "units", &units);
		if (r->k > 0 && units < r->k && !hist)
			continue;
		msgpack_pack_map(pk, hist ? 4 : 2);
		pack_str(pk, "key");
		if ((v = frame_get(g, "key")) != NULL)
			msgpack_pack_object(pk, *v);
		else
			msgpack_pack_nil(pk);
		pack_str(pk, hist ? "bins" : "value");
		if ((rv = group_value(r, g, pk, &suppressed, err)) != 0)
			return rv;
		if (hist) {
			uint64_t bu;

			pack_str(pk, "below");
			if (frame_get_uint(g, "below", &x) != 0 ||
			    frame_get_uint(g, "below_units", &bu) != 0)
				return bad(err, r->name, "histogram: no below");
			if (r->k > 0 && bu < r->k && x > 0) {
				msgpack_pack_nil(pk);
				suppressed++;
			} else
				msgpack_pack_uint64(pk, x);
			pack_str(pk, "above");
			if (frame_get_uint(g, "above", &x) != 0 ||
			    frame_get_uint(g, "above_units", &bu) != 0)
				return bad(err, r->name, "histogram: no above");
			if (r->k > 0 && bu < r->k && x > 0) {
				msgpack_pack_nil(pk);
				suppressed++;
			} else
				msgpack_pack_uint64(pk, x);
		}
	}
	pack_str(pk, "suppressed");
	msgpack_pack_uint64(pk, suppressed);
	pack_str(pk, "k");
	msgpack_pack_uint64(pk, r->k);
	return 0;
}

int
release_results(const msgpack_object *results, const struct policy *p,
    msgpack_packer *out, struct veil_err *err)
{
	struct rel r;
	uint32_t i;
	char name[128];
	int rv;

	if (p->mode != POLICY_NONE && p->mode != POLICY_THRESHOLD)
		return veil_seterr(err, VEIL_E_INVALID, "release: mode %s is "
		    "not released here", policy_mode_name(p->mode));
	if (results == NULL || results->type != MSGPACK_OBJECT_MAP)
		return veil_seterr(err, VEIL_E_PARSE, "release: no results");
	msgpack_pack_map(out, results->via.map.size);
	for (i = 0; i < results->via.map.size; i++) {
		const msgpack_object *k = &results->via.map.ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 ||
		    k->via.str.size >= sizeof(name))
			return veil_seterr(err, VEIL_E_PARSE, "release: bad "
			    "result name");
		memcpy(name, k->via.str.ptr, k->via.str.size);
		name[k->via.str.size] = '\0';
		memset(&r, 0, sizeof(r));
		r.name = name;
		r.agg = &results->via.map.ptr[i].val;
		if (r.agg->type != MSGPACK_OBJECT_MAP)
			return bad(err, name, "not a map");
		msgpack_pack_object(out, *k);
		if ((rv = release_one(&r, p, out, err)) != 0)
			return rv;
	}
	return 0;
}
