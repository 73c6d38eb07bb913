/*
 * identifiers.c: drop, pseudonymize and mask (see identifiers.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "datefmt.h"
#include "identifiers.h"
#include "scrub.h"

/* Rows up to which the unit's pseudonyms are kept as a category. */
#define UNIT_CATEGORY_MAX	(1u << 24)

int
anon_pseudonym(const unsigned char *key, size_t keylen, const char *p,
    size_t n, unsigned int len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;

	if (len > 64 || HMAC(EVP_sha256(), key, (int)keylen,
	    (const unsigned char *)p, n, mac, &maclen) == NULL ||
	    maclen != 32)
		return -1;
	for (i = 0; i < len; i++)
		out[i] = hex[(mac[i / 2] >> (i % 2 ? 0 : 4)) & 0x0f];
	out[len] = '\0';
	return 0;
}

int
anon_shift_days(const unsigned char *key, size_t keylen, const char *unit,
    size_t n, int window)
{
	unsigned char mac[EVP_MAX_MD_SIZE], msg[600];
	unsigned int maclen = 0, i, ctr;
	uint32_t span = (uint32_t)window * 2 + 1, lim, v;

	/* HMAC(key, "shift" || counter || unit), 4 bytes at a time, by
	 * rejection: uniform in [0, span) without modulo bias */
	lim = UINT32_MAX - UINT32_MAX % span;
	if (n > sizeof(msg) - 6)
		n = sizeof(msg) - 6;
	memcpy(msg, "shift", 5);
	memcpy(msg + 6, unit, n);
	for (ctr = 0; ctr < 256; ctr++) {
		msg[5] = (unsigned char)ctr;
		if (HMAC(EVP_sha256(), key, (int)keylen, msg, n + 6, mac,
		    &maclen) == NULL)
			return 0;
		for (i = 0; i + 4 <= maclen; i += 4) {
			v = (uint32_t)mac[i] << 24 | (uint32_t)mac[i + 1] << 16 |
			    (uint32_t)mac[i + 2] << 8 | mac[i + 3];
			if (v < lim)
				return (int)(v % span) - window;
		}
	}
	return 0;
}

/* Code points in the UTF-8 string (validated at ingestion). */
static size_t
ncp(const char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += ((unsigned char)p[i] & 0xc0) != 0x80;
	return k;
}

size_t
anon_mask(const char *p, size_t n, unsigned int prefix, unsigned int suffix,
    char *out)
{
	size_t total = ncp(p, n), i, k = 0, o = 0;

	if (total <= (size_t)prefix + suffix) {	/* too short: hide it all */
		for (i = 0; i < total; i++)
			out[o++] = '*';
		out[o] = '\0';
		return o;
	}
	for (i = 0; i < n; i++) {
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			k++;	/* p[i] starts code point number k (1-based) */
		if (k <= prefix || k > total - suffix)
			out[o++] = p[i];
		else if (((unsigned char)p[i] & 0xc0) != 0x80)
			out[o++] = '*';
	}
	out[o] = '\0';
	return o;
}

/* The value of row r of column c as text (for pseudonymizing non-strings). */
static const char *
as_text(const struct table_colview *c, uint64_t r, char *buf, size_t len,
    size_t *np)
{
	switch (c->type) {
	case VEIL_T_STRING:
		return table_str(c, r, np);
	case VEIL_T_CATEGORY:
		return table_dict(c, ((const uint32_t *)c->data)[r], np);
	case VEIL_T_INT:
		*np = (size_t)snprintf(buf, len, "%lld",
		    (long long)((const int64_t *)c->data)[r]);
		return buf;
	case VEIL_T_DATE:
		datefmt_format(((const int32_t *)c->data)[r], buf);
		*np = DATEFMT_LEN;
		return buf;
	case VEIL_T_BOOL:
		*np = (size_t)snprintf(buf, len, "%s",
		    ((const uint8_t *)c->data)[r] ? "true" : "false");
		return buf;
	default:
		*np = (size_t)snprintf(buf, len, "%.17g",
		    ((const double *)c->data)[r]);
		return buf;
	}
}

static int
copy_value(struct table_builder *b, int out, const struct table_colview *c,
    uint64_t r)
{
	const char *p;
	size_t n;

	if (table_isnull(c, r))
		return table_builder_null(b, out);
	switch (c->type) {
	case VEIL_T_INT:
		return table_builder_int(b, out, ((const int64_t *)c->data)[r]);
	case VEIL_T_FLOAT:
		return table_builder_float(b, out, ((const double *)c->data)[r]);
	case VEIL_T_BOOL:
		return table_builder_bool(b, out, ((const uint8_t *)c->data)[r]);
	case VEIL_T_DATE:
		return table_builder_date(b, out, ((const int32_t *)c->data)[r]);
	case VEIL_T_CATEGORY:
		p = table_dict(c, ((const uint32_t *)c->data)[r], &n);
		return table_builder_category(b, out, p, n);
	default:
		p = table_str(c, r, &n);
		return table_builder_string(b, out, p, n);
	}
}

int
anon_identifiers(const struct table *in, const struct schema *s,
    const unsigned char *key, size_t keylen, void **bufp, size_t *lenp,
    struct veil_err *err)
{
	struct anon_stats st;

	return anon_identifiers_stats(in, s, key, keylen, bufp, lenp, &st,
	    err);
}

int
anon_identifiers_stats(const struct table *in, const struct schema *s,
    const unsigned char *key, size_t keylen, void **bufp, size_t *lenp,
    struct anon_stats *st, struct veil_err *err)
{
	const struct table_colview *uc = NULL;
	char ubuf[64], *sbuf = NULL;
	const char *up;
	size_t ulen, slen = 0;
	int *shift = NULL;
	struct table_builder *b = NULL;
	const struct table_colview *c;
	const struct schema_column *sc;
	int *map = NULL, r = VEIL_E_NOMEM, o, unit_out = -1, unitcat;
	uint64_t row, n = table_nrows(in);
	char tmp[64], *out = NULL;
	const char *p;
	size_t i, len, maxlen = 0;
	uint32_t k;

	*bufp = NULL;
	*lenp = 0;
	memset(st, 0, sizeof(*st));
	if (table_ncols(in) != s->ncols)
		return veil_seterr(err, VEIL_E_INVALID, "anonymize: the table "
		    "does not follow the schema");
	if ((b = table_builder_new()) == NULL ||
	    (map = calloc(s->ncols, sizeof(*map))) == NULL)
		goto nomem;
	for (i = 0; i < s->ncols; i++) {
		sc = &s->cols[i];
		c = table_column(in, (unsigned)i);
		map[i] = -1;
		if (sc->action == SCHEMA_A_DROP) {
			st->dropped_columns++;
			continue;
		}
		/*
		 * The privacy unit's pseudonyms become a category: its codes
		 * are then the dense unit ids that every job's contribution
		 * bounding needs, instead of each job hashing every row's
		 * pseudonym again. (A dictionary holds at most 2^24 values:
		 * bigger tables keep strings.)
		 */
		unitcat = (int)i == s->unit_col && sc->action ==
		    SCHEMA_A_PSEUDONYMIZE && n <= UNIT_CATEGORY_MAX;
		if ((o = table_builder_add_column(b, sc->name,
		    sc->action == SCHEMA_A_KEEP ? c->type : unitcat ?
		    VEIL_T_CATEGORY : VEIL_T_STRING, c->role, c->flags)) < 0) {
			r = o;
			goto fail;
		}
		map[i] = o;
		if (unitcat)
			unit_out = o;
		if (c->type == VEIL_T_CATEGORY && sc->action == SCHEMA_A_KEEP)
			for (k = 0; k < c->dict_n; k++) {
				p = table_dict(c, k, &len);
				if ((r = table_builder_dict_add(b, o, p,
				    len)) != 0)
					goto fail;
			}
		if (c->type == VEIL_T_STRING)
			for (row = 0; row < n; row++)
				if (!table_isnull(c, row)) {
					(void)table_str(c, row, &len);
					if (len > maxlen)
						maxlen = len;
				}
	}
	if ((out = malloc(maxlen + 80)) == NULL ||
	    (sbuf = malloc(scrub_bound(maxlen) + 1)) == NULL)
		goto nomem;
	slen = scrub_bound(maxlen) + 1;
	/* one date offset per unit (rows without a unit column: per row) */
	for (i = 0; i < s->ncols; i++)
		if (s->cols[i].shift_unit)
			break;
	if (i < s->ncols) {
		if ((shift = calloc(n + 1, sizeof(int))) == NULL)
			goto nomem;
		if (s->unit_col >= 0)
			uc = table_column(in, (unsigned)s->unit_col);
		for (row = 0; row < n; row++) {
			if (uc != NULL && !table_isnull(uc, row))
				up = as_text(uc, row, ubuf, sizeof(ubuf), &ulen);
			else {
				ulen = (size_t)snprintf(ubuf, sizeof(ubuf),
				    "@row %llu", (unsigned long long)row);
				up = ubuf;
			}
			shift[row] = anon_shift_days(key, keylen, up, ulen,
			    s->cols[i].shift_days);
		}
	}
	for (row = 0; row < n; row++)
		for (i = 0; i < s->ncols; i++) {
			if (map[i] < 0)
				continue;
			sc = &s->cols[i];
			c = table_column(in, (unsigned)i);
			if (sc->action == SCHEMA_A_KEEP && sc->scrub &&
			    !table_isnull(c, row)) {
				long sl;

				p = table_str(c, row, &len);
				if ((sl = scrub_text(p, len, sbuf, slen,
				    st->scrubbed)) < 0) {
					r = veil_seterr(err, VEIL_E_INTERNAL,
					    "anonymize: scrub buffer");
					goto fail;
				}
				r = table_builder_string(b, map[i], sbuf,
				    (size_t)sl);
			} else if (sc->action == SCHEMA_A_KEEP && sc->shift_unit &&
			    !table_isnull(c, row)) {
				int32_t dd = ((const int32_t *)c->data)[row];

				r = table_builder_date(b, map[i], dd +
				    shift[row]);
				st->shifted++;
			} else if (sc->action == SCHEMA_A_KEEP ||
			    table_isnull(c, row)) {
				r = copy_value(b, map[i], c, row);
			} else {
				p = as_text(c, row, tmp, sizeof(tmp), &len);
				if (len + 80 > maxlen + 80) {	/* a long category */
					char *no = realloc(out, len + 80);

					if (no == NULL)
						goto nomem;
					out = no;
					maxlen = len;
				}
				if (sc->action == SCHEMA_A_PSEUDONYMIZE) {
					if (anon_pseudonym(key, keylen, p, len,
					    sc->pseudo_len, out) != 0) {
						r = veil_seterr(err,
						    VEIL_E_INTERNAL, "anonymize:"
						    " HMAC failed");
						goto fail;
					}
					len = sc->pseudo_len;
					st->pseudonymized++;
				} else {
					len = anon_mask(p, len, sc->mask_prefix,
					    sc->mask_suffix, out);
					st->masked++;
				}
				r = map[i] == unit_out ?
				    table_builder_category(b, map[i], out, len) :
				    table_builder_string(b, map[i], out, len);
			}
			if (r != 0)
				goto fail;
		}
	r = table_builder_finish(b, bufp, lenp, err);
	goto done;
 nomem:
	r = VEIL_E_NOMEM;
 fail:
	if (err != NULL && err->code == 0)
		veil_seterr(err, r, "anonymize: %s", veil_strerror(r));
 done:
	free(out);
	free(sbuf);
	free(shift);
	free(map);
	table_builder_free(b);
	return r;
}
