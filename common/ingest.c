/*
 * ingest.c: typed CSV ingestion (see ingest.h). This is the hot path of
 * registration: one pass, no per-field allocation, numbers parsed by hand
 * (Clinger's exact fast path for decimals, strtod only for the rest).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datefmt.h"
#include "ingest.h"
#include "utf8.h"

#define EXCERPT		40
#define MAX_NUMLEN	128

struct ictx {
	const struct schema	*s;
	struct csv_reader	*rd;
	struct table_builder	*b;
	struct veil_err		*err;
	int			*map;		/* CSV field -> schema column */
	size_t			 nfields;
	unsigned char		*tabhier;	/* column: has a table hierarchy */
	int			 utf8ok;	/* the whole record is valid UTF-8 */
};

void
ingest_opts_default(struct ingest_opts *o)
{
	csv_limits_default(&o->limits);
	o->delimiter = 0;
}

int
ingest_parse_int(const char *p, size_t len, int64_t *out)
{
	const char *e = p + len;
	uint64_t v = 0, lim;
	int neg = 0;

	if (p < e && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == e || e - p > 20)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < e; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (d > 9 || v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static const double pow10tab[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
	1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

int
ingest_parse_float(const char *p, size_t len, double *out)
{
	const char *s = p, *e = p + len;
	char buf[MAX_NUMLEN + 1], *end;
	uint64_t m = 0;
	int neg = 0, ndig = 0, sig = 0, exp10 = 0, esign = 1, ev = 0;
	double d;

	if (len == 0 || len > MAX_NUMLEN)
		return -1;
	if (s < e && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	for (; s < e && *s >= '0' && *s <= '9'; s++, ndig++)
		if (m != 0 || *s != '0') {
			if (sig < 19)
				m = m * 10 + (uint64_t)(*s - '0');
			else
				exp10++;
			sig++;
		}
	if (s < e && *s == '.') {
		for (s++; s < e && *s >= '0' && *s <= '9'; s++, ndig++) {
			if (m == 0 && *s == '0') {
				exp10--;
				continue;
			}
			if (sig < 19) {
				m = m * 10 + (uint64_t)(*s - '0');
				exp10--;
			}
			sig++;
		}
	}
	if (ndig == 0)
		return -1;
	if (s < e && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < e && (*s == '-' || *s == '+'))
			esign = *s++ == '-' ? -1 : 1;
		if (s == e || *s < '0' || *s > '9')
			return -1;
		for (; s < e && *s >= '0' && *s <= '9'; s++)
			if (ev < 100000)
				ev = ev * 10 + (*s - '0');
		exp10 += esign * ev;
	}
	if (s != e)
		return -1;
	if (sig <= 19 && m <= (UINT64_C(1) << 53) && exp10 >= -22 &&
	    exp10 <= 22) {
		d = (double)m;
		d = exp10 < 0 ? d / pow10tab[-exp10] : d * pow10tab[exp10];
		*out = neg ? -d : d;
		return 0;
	}
	memcpy(buf, p, len);	/* the grammar is checked: strtod agrees */
	buf[len] = '\0';
	errno = 0;
	d = strtod(buf, &end);
	if (*end != '\0' || !isfinite(d))
		return -1;
	if (d == 0 && m != 0)	/* non-zero digits underflowed to zero */
		return -1;
	*out = d;
	return 0;
}

/*
 * The spellings are at most five letters: the field is lowercased (ASCII
 * letters only, as strncasecmp in the C locale) once, then compared with
 * the spellings of its length, instead of one case-folding compare each.
 */
int
ingest_parse_bool(const char *p, size_t len, int *out)
{
	char w[5];
	size_t i;
	int v = -1;

	if (len == 0 || len > sizeof(w))
		return -1;
	for (i = 0; i < len; i++)
		w[i] = p[i] >= 'A' && p[i] <= 'Z' ? (char)(p[i] + 32) : p[i];
	switch (len) {
	case 1:
		if (w[0] == '1' || w[0] == 't' || w[0] == 'y')
			v = 1;
		else if (w[0] == '0' || w[0] == 'f' || w[0] == 'n')
			v = 0;
		break;
	case 2:
		v = memcmp(w, "no", 2) == 0 ? 0 : -1;
		break;
	case 3:
		v = memcmp(w, "yes", 3) == 0 ? 1 : -1;
		break;
	case 4:
		v = memcmp(w, "true", 4) == 0 ? 1 : -1;
		break;
	case 5:
		v = memcmp(w, "false", 5) == 0 ? 0 : -1;
		break;
	}
	if (v < 0)
		return -1;
	*out = v;
	return 0;
}

static int
ferr(struct ictx *c, int code, size_t field, const char *what,
    const char *p, size_t len)
{
	const struct schema_column *col = &c->s->cols[c->map[field]];
	char ex[3 * EXCERPT];

	veil_excerpt(ex, sizeof(ex), p, len, EXCERPT);
	return veil_seterr(c->err, code, "%s:%llu: column %zu (%s): %s: %s",
	    csv_name(c->rd), (unsigned long long)csv_line(c->rd), field + 1,
	    col->name, what, ex);
}

static int
nomem(struct ictx *c, int r)
{
	return veil_seterr(c->err, r, "%s:%llu: %s", csv_name(c->rd),
	    (unsigned long long)csv_line(c->rd), r == VEIL_E_LIMIT ?
	    "table size limit reached" : "out of memory");
}

/*
 * Is the value (text p) listed in the column's table hierarchy? Whether
 * there is one is worked out once, in read_header.
 */
static int
in_hier(const struct ictx *c, int ci, const char *p, size_t len)
{
	return !c->tabhier[ci] ||
	    hierarchy_find(c->s->cols[ci].hier, p, len) >= 0;
}

static int
put_field(struct ictx *c, size_t fi, const struct csv_field *f)
{
	const struct schema_column *col = &c->s->cols[c->map[fi]];
	int ci = c->map[fi], r, bv;
	int64_t iv;
	double dv;
	int32_t days;
	uint32_t before;
	size_t bad;
	char buf[96];

	if (f->len == 0 && col->required)	/* "" counts as missing too */
		return ferr(c, VEIL_E_TYPE, fi, "a value is required", f->p,
		    0);
	if (f->len == 0 && !(f->quoted && col->type == VEIL_T_STRING)) {
		if (col->required)
			return ferr(c, VEIL_E_TYPE, fi, "a value is required",
			    f->p, 0);
		if ((r = table_builder_null(c->b, ci)) != 0)
			return nomem(c, r);
		return 0;
	}
	switch (col->type) {
	case VEIL_T_INT:
		if (ingest_parse_int(f->p, f->len, &iv) != 0)
			return ferr(c, VEIL_E_TYPE, fi, "not an integer "
			    "(or beyond 64 bits)", f->p, f->len);
		if (col->has_range && (iv < col->ilo || iv > col->ihi)) {
			snprintf(buf, sizeof(buf), "outside [%lld, %lld]",
			    (long long)col->ilo, (long long)col->ihi);
			return ferr(c, VEIL_E_RANGE, fi, buf, f->p, f->len);
		}
		if (c->tabhier[ci]) {
			bad = (size_t)snprintf(buf, sizeof(buf), "%lld",
			    (long long)iv);
			if (!in_hier(c, ci, buf, bad))
				return ferr(c, VEIL_E_RANGE, fi, "value has no "
				    "line in the column's hierarchy", f->p,
				    f->len);
		}
		r = table_builder_int(c->b, ci, iv);
		break;
	case VEIL_T_FLOAT:
		if (ingest_parse_float(f->p, f->len, &dv) != 0)
			return ferr(c, VEIL_E_TYPE, fi, "not a finite decimal "
			    "number", f->p, f->len);
		if (col->has_range && (dv < col->flo || dv > col->fhi)) {
			snprintf(buf, sizeof(buf), "outside [%g, %g]",
			    col->flo, col->fhi);
			return ferr(c, VEIL_E_RANGE, fi, buf, f->p, f->len);
		}
		r = table_builder_float(c->b, ci, dv);
		break;
	case VEIL_T_BOOL:
		if (ingest_parse_bool(f->p, f->len, &bv) != 0)
			return ferr(c, VEIL_E_TYPE, fi, "not a bool (true, "
			    "false, 1, 0, yes, no)", f->p, f->len);
		r = table_builder_bool(c->b, ci, bv);
		break;
	case VEIL_T_DATE:
		if (datefmt_parse(f->p, f->len, &days) != 0)
			return ferr(c, VEIL_E_TYPE, fi, "not a date "
			    "YYYY-MM-DD", f->p, f->len);
		if (col->has_range && (days < col->ilo || days > col->ihi))
			return ferr(c, VEIL_E_RANGE, fi, "date outside the "
			    "declared range", f->p, f->len);
		if (!in_hier(c, ci, f->p, f->len))
			return ferr(c, VEIL_E_RANGE, fi, "value has no line "
			    "in the column's hierarchy", f->p, f->len);
		r = table_builder_date(c->b, ci, days);
		break;
	case VEIL_T_CATEGORY:
	case VEIL_T_STRING:
		if (!c->utf8ok && (bad = utf8_check(f->p, f->len)) != f->len)
			return ferr(c, VEIL_E_TYPE, fi, "invalid UTF-8",
			    f->p + bad, f->len - bad);
		if (col->type == VEIL_T_STRING) {
			if (!in_hier(c, ci, f->p, f->len))
				return ferr(c, VEIL_E_RANGE, fi, "value has no "
				    "line in the column's hierarchy", f->p,
				    f->len);
			r = table_builder_string(c->b, ci, f->p, f->len);
			break;
		}
		before = table_builder_dict_size(c->b, ci);
		if ((r = table_builder_category(c->b, ci, f->p, f->len)) != 0)
			break;
		if (table_builder_dict_size(c->b, ci) != before) {
			if (col->nvalues > 0)
				return ferr(c, VEIL_E_RANGE, fi, "not one of the "
				    "declared values", f->p, f->len);
			if (!in_hier(c, ci, f->p, f->len))
				return ferr(c, VEIL_E_RANGE, fi, "value has no "
				    "line in the column's hierarchy", f->p,
				    f->len);
		}
		break;
	default:
		return veil_seterr(c->err, VEIL_E_INTERNAL, "bad column type");
	}
	return r != 0 ? nomem(c, r) : 0;
}

/* Matches the header to the schema and creates the builder's columns. */
static int
read_header(struct ictx *c)
{
	const struct schema *s = c->s;
	struct csv_field *f;
	size_t nf, i, j, bad;
	int r, *seen = NULL;
	char ex[3 * EXCERPT];

	if ((r = csv_next(c->rd, &f, &nf, c->err)) < 0)
		return r;
	if (r == 0)
		return veil_seterr(c->err, VEIL_E_PARSE, "%s: empty file "
		    "(expected a header line naming the columns)",
		    csv_name(c->rd));
	if ((c->map = calloc(nf, sizeof(*c->map))) == NULL ||
	    (c->tabhier = calloc(s->ncols, 1)) == NULL ||
	    (seen = calloc(s->ncols, sizeof(*seen))) == NULL) {
		free(seen);
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	}
	c->nfields = nf;
	r = 0;
	for (i = 0; i < nf && r == 0; i++) {
		c->map[i] = schema_find(s, f[i].p, f[i].len);
		veil_excerpt(ex, sizeof(ex), f[i].p, f[i].len, EXCERPT);
		if ((bad = utf8_check(f[i].p, f[i].len)) != f[i].len)
			r = veil_seterr(c->err, VEIL_E_PARSE, "%s:%llu: header "
			    "column %zu: invalid UTF-8 in %s", csv_name(c->rd),
			    (unsigned long long)csv_line(c->rd), i + 1, ex);
		else if (c->map[i] >= 0 && seen[c->map[i]]++)
			r = veil_seterr(c->err, VEIL_E_PARSE, "%s:%llu: header "
			    "column %zu: %s appears twice", csv_name(c->rd),
			    (unsigned long long)csv_line(c->rd), i + 1, ex);
		else if (c->map[i] < 0 && !s->ignore_unknown &&
		    !schema_ignored(s, f[i].p, f[i].len))
			r = veil_seterr(c->err, VEIL_E_SCHEMA, "%s:%llu: header "
			    "column %zu: %s is not in the schema %s (declare "
			    "it, or list it in the schema's ignore = {...})",
			    csv_name(c->rd),
			    (unsigned long long)csv_line(c->rd), i + 1, ex,
			    s->path);
	}
	for (j = 0; j < s->ncols && r == 0; j++)
		if (!seen[j])
			r = veil_seterr(c->err, VEIL_E_SCHEMA, "%s: column "
			    "\"%s\" of the schema is missing from the header",
			    csv_name(c->rd), s->cols[j].name);
	free(seen);
	if (r != 0)
		return r;
	if ((c->b = table_builder_new()) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (j = 0; j < s->ncols; j++) {
		const struct schema_column *col = &s->cols[j];

		c->tabhier[j] = col->hier != NULL &&
		    hierarchy_kind(col->hier) == HIER_TABLE;
		if ((r = table_builder_add_column(c->b, col->name, col->type,
		    col->role, ((int)j == s->unit_col ? TABLE_F_UNIT : 0) |
		    (col->nvalues > 0 ? TABLE_F_DECLARED : 0))) < 0)
			return veil_seterr(c->err, r, "%s: cannot add column "
			    "\"%s\"", csv_name(c->rd), col->name);
		for (i = 0; i < col->nvalues; i++)
			if ((r = table_builder_dict_add(c->b, (int)j,
			    col->values[i], strlen(col->values[i]))) != 0)
				return veil_seterr(c->err, r, "out of memory");
	}
	return 0;
}

static int
ingest(struct csv_reader *rd, const struct schema *s,
    struct table_builder **bp, struct ingest_stats *stats,
    struct veil_err *err)
{
	struct ictx c;
	struct csv_field *f;
	const char *rec;
	size_t nf, i, len;
	int r;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.rd = rd;
	c.err = err;
	if ((r = read_header(&c)) != 0)
		goto out;
	while ((r = csv_next(rd, &f, &nf, err)) == 1) {
		if (nf != c.nfields) {
			r = veil_seterr(err, VEIL_E_PARSE, "%s:%llu: %zu fields, "
			    "the header has %zu", csv_name(rd),
			    (unsigned long long)csv_line(rd), nf, c.nfields);
			goto out;
		}
		/*
		 * One pass over the record instead of one per text field:
		 * the fields of a valid record are valid (csv.h). Otherwise
		 * each field is checked, to name the column at fault.
		 */
		rec = csv_record(rd, &len);
		c.utf8ok = utf8_check(rec, len) == len;
		for (i = 0; i < nf; i++)
			if (c.map[i] >= 0 && (r = put_field(&c, i, &f[i])) != 0)
				goto out;
	}
	if (r < 0)
		goto out;
	if (stats != NULL) {
		stats->rows = table_builder_nrows(c.b);
		stats->bytes = csv_bytes(rd);
		stats->delimiter = csv_delimiter(rd);
	}
	*bp = c.b;
	c.b = NULL;
 out:
	table_builder_free(c.b);
	free(c.tabhier);
	free(c.map);
	return r;
}

static int
pick_delim(const struct schema *s, const struct ingest_opts *o)
{
	if (o != NULL && o->delimiter != 0)
		return o->delimiter;
	return s->delimiter;
}

int
ingest_csv_fd(int fd, const char *name, const struct schema *s,
    const struct ingest_opts *o, struct table_builder **bp,
    struct ingest_stats *stats, struct veil_err *err)
{
	struct csv_reader *rd;
	struct veil_err lerr;
	int r;

	*bp = NULL;
	veil_err_clear(&lerr);
	if (err == NULL)
		err = &lerr;
	if ((rd = csv_open_fd(fd, name, pick_delim(s, o),
	    o != NULL ? &o->limits : NULL, err)) == NULL)
		return err->code != 0 ? err->code : VEIL_E_NOMEM;
	r = ingest(rd, s, bp, stats, err);
	csv_close(rd);
	return r;
}

int
ingest_csv_mem(const void *buf, size_t len, const char *name,
    const struct schema *s, const struct ingest_opts *o,
    struct table_builder **bp, struct ingest_stats *stats,
    struct veil_err *err)
{
	struct csv_reader *rd;
	struct veil_err lerr;
	int r;

	*bp = NULL;
	veil_err_clear(&lerr);
	if (err == NULL)
		err = &lerr;
	if ((rd = csv_open_mem(buf, len, name, pick_delim(s, o),
	    o != NULL ? &o->limits : NULL, err)) == NULL)
		return err->code != 0 ? err->code : VEIL_E_NOMEM;
	r = ingest(rd, s, bp, stats, err);
	csv_close(rd);
	return r;
}
