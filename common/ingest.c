/*
 * ingest.c: typed CSV ingestion (see ingest.h). This is the hot path of
 * registration: one pass, no per-field allocation, numbers parsed by hand
 * (Clinger's exact fast path for decimals, strtod only for the rest).
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "datefmt.h"
#include "ingest.h"
#include "table_format.h"
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
	int			 simd;		/* fused_rows' masks, -1: none */
	atomic_int		*stop;		/* a piece: another one failed */
};

#define STOP_EVERY	4096	/* records between looks at ictx.stop */

void
ingest_opts_default(struct ingest_opts *o)
{
	csv_limits_default(&o->limits);
	o->delimiter = 0;
	o->threads = 0;
	o->piece_min = 0;
	o->fused = INGEST_FUSED_BEST;
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

/*
 * The common shape, [-]digits[.digits] with at most 15 digits in all: the
 * digits are an exact integer, the scale an exact power of ten, and their
 * quotient correctly rounded, as below. 0, or -1 to leave it to the rest.
 */
static inline int
parse_decimal(const char *p, size_t len, double *out)
{
	const char *s = p, *e = p + len, *d0;
	uint64_t m = 0;
	size_t ndig;
	int neg = 0, frac = 0;

	if (s < e && *s == '-') {
		neg = 1;
		s++;
	}
	for (d0 = s; s < e && (unsigned char)(*s - '0') <= 9; s++)
		m = m * 10 + (uint64_t)(*s - '0');
	ndig = (size_t)(s - d0);
	if (s < e && *s == '.') {
		for (d0 = ++s; s < e && (unsigned char)(*s - '0') <= 9; s++)
			m = m * 10 + (uint64_t)(*s - '0');
		frac = (int)(s - d0);
		ndig += (size_t)frac;
	}
	if (s != e || ndig == 0 || ndig > 15)
		return -1;
	*out = neg ? -((double)m / pow10tab[frac]) : (double)m /
	    pow10tab[frac];
	return 0;
}

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
	if (parse_decimal(p, len, out) == 0)
		return 0;
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

	/* The usual spellings first, as they are. */
	if (len == 4 && memcmp(p, "true", 4) == 0) {
		*out = 1;
		return 0;
	}
	if (len == 5 && memcmp(p, "false", 5) == 0) {
		*out = 0;
		return 0;
	}

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

/* A builder with the schema's columns and their declared values. */
static int
new_builder(struct ictx *c, struct table_builder **bp)
{
	const struct schema *s = c->s;
	struct table_builder *b;
	size_t i, j;
	int r;

	if ((*bp = b = table_builder_new()) == NULL)
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	for (j = 0; j < s->ncols; j++) {
		const struct schema_column *col = &s->cols[j];

		if ((r = table_builder_add_column(b, col->name, col->type,
		    col->role, ((int)j == s->unit_col ? TABLE_F_UNIT : 0) |
		    (col->nvalues > 0 ? TABLE_F_DECLARED : 0))) < 0)
			return veil_seterr(c->err, r, "%s: cannot add column "
			    "\"%s\"", csv_name(c->rd), col->name);
		for (i = 0; i < col->nvalues; i++)
			if ((r = table_builder_dict_add(b, (int)j,
			    col->values[i], strlen(col->values[i]))) != 0)
				return veil_seterr(c->err, r, "out of memory");
	}
	return 0;
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
	for (j = 0; j < s->ncols; j++)
		c->tabhier[j] = s->cols[j].hier != NULL &&
		    hierarchy_kind(s->cols[j].hier) == HIER_TABLE;
	return new_builder(c, &c->b);
}

/* {====== the fused path */

/*
 * Most records are plain: every field is typed as the schema says, no
 * error, the record whole in the reader's buffer. fused_rows splits and
 * types those in one pass straight from the buffer (csv_view): stops
 * (delimiter, quote, CR, LF) found 64 bytes at a time, each field parsed
 * as soon as its end is known, no csv_field array, the row appended in
 * one call. UTF-8 is checked as the blocks are loaded (with AVX2: only
 * the blocks with non-ASCII bytes, and a record again only if one of its
 * blocks looks bad), or else in the records whose text fields have
 * non-ASCII bytes.
 *
 * Anything else stops it before the record, untouched: an error of any
 * kind, a blank line, a record cut by the end of the buffer (or near the
 * end of a span, where a block load would run past it). read_rows then
 * hands that one record to csv_next and put_field, so that every error
 * and its message is theirs. A record is checked whole before any of it
 * is appended, so the builder never holds part of one of ours; only a
 * failure to append (memory, table limits) stops it midway, and that
 * ends the ingestion with the message put_field gives.
 */
#define FBLOCK		64	/* bytes per block of masks */
#define CCACHE		64	/* category cache entries per column */
#define DCACHE_BITS	11
#define DCACHE		(1 << DCACHE_BITS) /* date cache entries per column */

typedef uint64_t (*masks_fn)(const char *, int, uint64_t *);

struct fscan {
	const char	*p;		/* the view's bytes */
	size_t		 len;		/* input bytes in it */
	size_t		 loadlim;	/* blocks start below this */
	size_t		 blk;		/* the current block's offset */
	uint64_t	 stops;		/* its stops (bit i: p[blk + i]) */
	uint64_t	 rem;		/* those not yet taken (fs_pop) */
	uint64_t	 high;		/* its non-ASCII bytes */
	int		 delim;
	char		 set[4];	/* the stops: delim, \n, \r, " */
	masks_fn	 masks;
	int		 u8;		/* blocks checked as UTF-8 in u */
	struct utf8_scan u;
	size_t		 bad_hi;	/* the end of the last bad block */
};

/*
 * Category codes by value, for values of up to 8 bytes: a code never
 * changes once given, so a hit needs no look at the dictionary.
 */
struct ccache {
	uint64_t	 w;		/* the value's bytes, zero-padded */
	uint32_t	 len;		/* 0: empty entry */
	uint32_t	 code;
};

/*
 * Dates by their "YYYY-MM-": the day number before the month's first,
 * and the month's length. A column's dates mostly fall in few months.
 */
struct dcache {
	uint64_t	 ym;		/* 0: empty entry */
	int32_t		 base;
	int32_t		 mdays;
};

/* What check_field reads of a column, packed: a schema_column is big. */
struct fcol {
	int64_t		 ilo, ihi;	/* int, date: the range, if any */
	double		 flo, fhi;	/* float */
	uint8_t		 type;		/* enum veil_type */
	uint8_t		 required;
	uint8_t		 has_range;
	uint8_t		 tabhier;	/* ictx.tabhier */
	uint8_t		 declared;	/* category values are listed */
	uint8_t		 w;		/* bytes per value (not strings) */
};

/* A category value not in the dictionary yet: added once its row is. */
struct fnew {
	int		 ci;
	const char	*p;
	size_t		 len;
};

struct fused {
	struct fcol	*fc;		/* per column */
	struct table_slot *sl;		/* per column: the run (table.h) */
	uint64_t	 row0;		/* rows before the run */
	uint64_t	 r;		/* the run's row being written */
	int		*nullc;		/* the row's null columns */
	size_t		 nnull;
	struct fnew	*newc;		/* the row's new category values */
	size_t		 nnew;
	struct ccache	*cc;		/* CCACHE per column */
	struct dcache	*dc;		/* DCACHE per column */
	char		*unesc;		/* fields with "" unescaped */
	masks_fn	 masks;
	int		 high;		/* a text field may be non-ASCII */
	int		 u8;		/* fscan.u8 */
};

/*
 * The stops of the 64 bytes at q (returned) and their high bits, which
 * say where non-ASCII bytes are.
 */
#ifdef __SSE2__
static uint64_t
masks_sse2(const char *q, int delim, uint64_t *hip)
{
	const __m128i vd = _mm_set1_epi8((char)delim);
	const __m128i vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
	const __m128i vq = _mm_set1_epi8('"');
	uint64_t m = 0, h = 0;
	unsigned int i;
	__m128i x;

	for (i = 0; i < FBLOCK; i += 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(q + i));
		m |= (uint64_t)(unsigned int)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
		    _mm_or_si128(_mm_cmpeq_epi8(x, vr),
		    _mm_cmpeq_epi8(x, vq)))) << i;
		h |= (uint64_t)(unsigned int)_mm_movemask_epi8(x) << i;
	}
	*hip = h;
	return m;
}
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_AVX2_MASKS	1
__attribute__((target("avx2"))) static uint64_t
masks_avx2(const char *q, int delim, uint64_t *hip)
{
	const __m256i vd = _mm256_set1_epi8((char)delim);
	const __m256i vn = _mm256_set1_epi8('\n');
	const __m256i vr = _mm256_set1_epi8('\r');
	const __m256i vq = _mm256_set1_epi8('"');
	__m256i x, y;
	uint64_t lo, hi;

	x = _mm256_loadu_si256((const __m256i *)(const void *)q);
	y = _mm256_loadu_si256((const __m256i *)(const void *)(q + 32));
	*hip = (uint32_t)_mm256_movemask_epi8(x) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(y) << 32;
	lo = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
	    _mm256_or_si256(_mm256_cmpeq_epi8(x, vd), _mm256_cmpeq_epi8(x, vn)),
	    _mm256_or_si256(_mm256_cmpeq_epi8(x, vr), _mm256_cmpeq_epi8(x, vq))));
	hi = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
	    _mm256_or_si256(_mm256_cmpeq_epi8(y, vd), _mm256_cmpeq_epi8(y, vn)),
	    _mm256_or_si256(_mm256_cmpeq_epi8(y, vr), _mm256_cmpeq_epi8(y, vq))));
	return lo | hi << 32;
}
#endif

/* Without SIMD, and for tests: a byte at a time. */
static uint64_t
masks_bytes(const char *q, int delim, uint64_t *hip)
{
	uint64_t m = 0, h = 0;
	unsigned int i;
	unsigned char u;

	for (i = 0; i < FBLOCK; i++) {
		u = (unsigned char)q[i];
		m |= (uint64_t)(u == delim || u == '\n' || u == '\r' ||
		    u == '"') << i;
		h |= (uint64_t)(u >> 7) << i;
	}
	*hip = h;
	return m;
}

/* The widest masks this CPU has, capped by simd (ictx.simd). */
static masks_fn
pick_masks(int simd)
{
#ifdef HAVE_AVX2_MASKS
	if (simd >= 2 && __builtin_cpu_supports("avx2"))
		return masks_avx2;
#endif
#ifdef __SSE2__
	if (simd >= 1)
		return masks_sse2;
#endif
	(void)simd;
	return masks_bytes;
}

/* Moves to the block at blk. Returns -1 if it is past the view. */
static inline int
fs_load(struct fscan *s, size_t blk)
{
	uint64_t h, keep;

	if (blk >= s->len || blk >= s->loadlim)
		return -1;
	/*
	 * UTF-8: a bad block says look at its records closer (utf8.h). With
	 * AVX2, the stops come from the same load as the check.
	 */
	if (s->u8) {
		if (utf8_scan_find4(&s->u, s->p + blk, s->set, &s->stops, &h))
			s->bad_hi = blk + FBLOCK;
	} else
		s->stops = s->masks(s->p + blk, s->delim, &h);
	if (s->len - blk < FBLOCK) {	/* the bytes after are no input */
		keep = (UINT64_C(1) << (s->len - blk)) - 1;
		s->stops &= keep;
		h &= keep;
	}
	s->blk = blk;
	s->rem = s->stops;
	s->high = h;
	return 0;
}

/*
 * Takes the next stop: its offset, or SIZE_MAX past the view. A record's
 * stops are taken one after the other, none skipped, so the next one
 * costs a clear of the lowest bit, not a search from an offset (which
 * would make each field wait for the last one's end).
 */
static inline size_t
fs_pop(struct fscan *s)
{
	size_t q;

	while (s->rem == 0)
		if (fs_load(s, s->blk + FBLOCK) != 0)
			return SIZE_MAX;
	q = s->blk + (size_t)__builtin_ctzll(s->rem);
	s->rem &= s->rem - 1;
	return q;
}

/*
 * Whether [a, e) may hold non-ASCII bytes: e is in the current block;
 * if a is before it, the answer is yes without looking.
 */
static inline int
fs_high(const struct fscan *s, size_t a, size_t e)
{
	if (a < s->blk)
		return 1;
	return (s->high & ((UINT64_C(1) << (e - s->blk)) - 1) &
	    (~UINT64_C(0) << (a - s->blk))) != 0;
}

/* The n <= 8 bytes at p as a word, zero-padded, reading only them. */
static inline uint64_t
load_short(const char *p, size_t n)
{
	uint32_t x, y;

	if (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		return w;
	}
	if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		return x | (uint64_t)y << (8 * (n - 4));
	}
	return (unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] <<
	    (8 * (n / 2)) | (uint64_t)(unsigned char)p[n - 1] << (8 * (n - 1));
}

/* A category value's code, or -1 if it is not in the dictionary yet. */
static inline int64_t
cat_code(const struct ictx *c, struct ccache *cc, int ci, const char *p,
    size_t len)
{
	struct ccache *e = NULL;
	int64_t code;
	uint64_t w = 0;

	if (len <= 8) {
		w = load_short(p, len);
		e = &cc[(w * UINT64_C(0x9e3779b97f4a7c15)) >> 58];
		if (e->len == len && e->w == w)
			return e->code;
	}
	if ((code = table_builder_dict_find(c->b, ci, p, len)) >= 0 &&
	    e != NULL) {
		e->w = w;
		e->len = (uint32_t)len;
		e->code = (uint32_t)code;
	}
	return code;
}

/* datefmt_parse, with the months already seen looked up. */
static inline int
parse_date(struct dcache *dc, const char *p, size_t len, int32_t *daysp)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	struct dcache *e;
	unsigned int d8, d9, d;
	uint64_t ym;
	int y, m;

	if (len != DATEFMT_LEN)
		return -1;
	memcpy(&ym, p, 8);
	e = &dc[(ym * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - DCACHE_BITS)];
	if (e->ym == ym) {
		d8 = (unsigned char)p[8] - 48u;
		d9 = (unsigned char)p[9] - 48u;
		d = d8 * 10 + d9;
		if (d8 > 9 || d9 > 9 || d < 1 || d > (unsigned)e->mdays)
			return -1;
		*daysp = e->base + (int32_t)d;
		return 0;
	}
	if (datefmt_parse(p, len, daysp) != 0)
		return -1;
	/* The text is a valid date: its year and month are digits. */
	y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
	    (p[3] - '0');
	m = (p[5] - '0') * 10 + (p[6] - '0');
	e->ym = ym;
	e->base = *daysp - ((p[8] - '0') * 10 + (p[9] - '0'));
	e->mdays = mdays[m - 1] + (m == 2 && (y % 4 == 0 &&
	    (y % 100 != 0 || y % 400 == 0)));
	return 0;
}

/* in_hier, from the packed column. */
static inline int
fin_hier(const struct ictx *c, const struct fcol *col, int ci, const char *p,
    size_t len)
{
	return !col->tabhier || hierarchy_find(c->s->cols[ci].hier, p,
	    len) >= 0;
}

/*
 * A null in column ci's slot: zero bytes (a string: an end where the last
 * row's was), and its bit once the row is taken (fu->nullc).
 */
static inline void
put_null(struct fused *fu, const struct fcol *col, int ci)
{
	struct table_slot *sl = &fu->sl[ci];
	int64_t r = (int64_t)fu->r;

	if (col->type == VEIL_T_STRING)
		table_slot_set_end(sl, r, table_slot_end(sl, r - 1));
	else
		memset(sl->data + fu->r * col->w, 0, col->w);
	fu->nullc[fu->nnull++] = ci;
}

/* A string into column ci's heap, after the last row's; 0 or -1. */
static inline int
put_string(const struct ictx *c, struct fused *fu, int ci, const char *p,
    size_t len)
{
	struct table_slot *sl = &fu->sl[ci];
	int64_t r = (int64_t)fu->r;
	uint64_t start = table_slot_end(sl, r - 1), end = start + len;

	/* Past a narrow column's ends: put_field widens it. */
	if (end > sl->hmax || (end > sl->hcap &&
	    table_builder_run_heap(c->b, fu->sl, ci, start, end) != 0))
		return -1;
	copy_bytes(sl->heap + start, (const unsigned char *)p, len);
	table_slot_set_end(sl, r, end);
	return 0;
}

/*
 * put_field's checks, and the value into the run's row fu->r, which is
 * taken only if the whole record is fine: 0 if the field is, else -1
 * (put_field will say what is wrong). high says whether the field may
 * have non-ASCII bytes: a text field's are left for fused_rows to check
 * (fu->high), with the record's.
 */
static inline int
check_field(const struct ictx *c, struct fused *fu, int ci, const char *p,
    size_t len, int quoted, int high)
{
	const struct fcol *col = &fu->fc[ci];
	unsigned char *d = fu->sl[ci].data;
	uint64_t r = fu->r;
	int64_t code, i;
	int32_t days;
	uint32_t u;
	double x;
	char buf[32];
	int n, b;

	if (len == 0) {
		if (col->required)
			return -1;
		if (!quoted || col->type != VEIL_T_STRING) {
			put_null(fu, col, ci);
			return 0;
		}
	}
	switch (col->type) {
	case VEIL_T_INT:
		if (ingest_parse_int(p, len, &i) != 0 ||
		    (col->has_range && (i < col->ilo || i > col->ihi)))
			return -1;
		if (col->tabhier) {
			n = snprintf(buf, sizeof(buf), "%lld", (long long)i);
			if (!fin_hier(c, col, ci, buf, (size_t)n))
				return -1;
		}
		memcpy(d + r * 8, &i, 8);
		return 0;
	case VEIL_T_FLOAT:
		if (ingest_parse_float(p, len, &x) != 0 ||
		    (col->has_range && (x < col->flo || x > col->fhi)))
			return -1;
		memcpy(d + r * 8, &x, 8);
		return 0;
	case VEIL_T_BOOL:
		if (ingest_parse_bool(p, len, &b) != 0)
			return -1;
		d[r] = (unsigned char)(b != 0);
		return 0;
	case VEIL_T_DATE:
		if (parse_date(fu->dc + (size_t)ci * DCACHE, p, len,
		    &days) != 0 || (col->has_range && (days < col->ilo ||
		    days > col->ihi)) || !fin_hier(c, col, ci, p, len))
			return -1;
		memcpy(d + r * 4, &days, 4);
		return 0;
	case VEIL_T_STRING:
		fu->high |= high;
		if (!fin_hier(c, col, ci, p, len))
			return -1;
		return put_string(c, fu, ci, p, len);
	case VEIL_T_CATEGORY:
		fu->high |= high;
		code = cat_code(c, fu->cc + (size_t)ci * CCACHE, ci, p, len);
		if (code >= 0) {
			u = (uint32_t)code;
			memcpy(d + r * 4, &u, 4);
			return 0;
		}
		if (col->declared || !fin_hier(c, col, ci, p, len))
			return -1;
		fu->newc[fu->nnew].ci = ci;
		fu->newc[fu->nnew].p = p;
		fu->newc[fu->nnew++].len = len;
		return 0;
	default:
		return -1;
	}
}

/*
 * "" -> " for the quoted field of len bytes at *pp, into fu->unesc at
 * *usedp (which has room: it is as long as max_record, and the record so
 * far is no longer). Points *pp and *lenp at the result.
 */
static void
unescape_into(struct fused *fu, size_t *usedp, const char **pp,
    size_t *lenp)
{
	const char *s = *pp, *e = *pp + *lenp;
	char *d = fu->unesc + *usedp, *d0 = d;

	for (; s < e; s++) {
		*d++ = *s;
		if (*s == '"')
			s++;
	}
	*pp = d0;
	*lenp = (size_t)(d - d0);
	*usedp += *lenp;
}

/*
 * Finds the end of the record at rs and checks its fields into the run's
 * row fu->r.
 * Returns the offset past its line end and sets *nlp to the line feeds
 * inside quotes, or 0 if it is not a plain record (see above).
 */
static size_t
fused_record(const struct ictx *c, struct fused *fu, struct fscan *s,
    const struct csv_view *v, size_t rs, uint64_t *nlp)
{
	const char *p = s->p, *fp;
	const int *map = c->map;
	size_t len = s->len, pos = rs, q, fi, flen, used = 0;
	size_t last = c->nfields - 1;
	uint64_t nl = 0;
	int quoted, esc, high, delim = v->delim;

	if (p[rs] == '\n' || p[rs] == '\r')
		return 0;	/* a blank line: csv_next skips it */
	for (fi = 0;; fi++) {
		if (pos < len && p[pos] == '"') {
			quoted = 1;
			esc = 0;
			(void)fs_pop(s);	/* the opening quote, at pos */
			for (;;) {
				if ((q = fs_pop(s)) >= len)
					return 0;
				if (p[q] == '\n')
					nl++;
				if (p[q] != '"')
					continue;
				if (q + 1 >= len)
					return 0;
				if (p[q + 1] != '"')
					break;
				esc = 1;
				(void)fs_pop(s);	/* the second ", at q + 1 */
			}
			fp = p + pos + 1;
			flen = q - pos - 1;
			high = fs_high(s, pos + 1, q);
			/* The closing quote's follower (< len) must be a stop. */
			if (fs_pop(s) != ++q)
				return 0;
			if (esc) {
				if (q - rs > v->max_record)
					return 0;
				if (fu->unesc == NULL && (fu->unesc =
				    malloc(v->max_record)) == NULL)
					return 0;
				unescape_into(fu, &used, &fp, &flen);
				high = 1;
			}
		} else {
			quoted = 0;
			if ((q = fs_pop(s)) >= len || p[q] == '"')
				return 0;
			fp = p + pos;
			flen = q - pos;
			high = fs_high(s, pos, q);
		}
		if (fi < last) {
			if (p[q] != delim)
				return 0;
		} else if (p[q] == '\r') {
			if (++q >= len || p[q] != '\n' || fs_pop(s) != q)
				return 0;
		} else if (p[q] != '\n')
			return 0;
		if (map[fi] >= 0 && check_field(c, fu, map[fi], fp, flen,
		    quoted, high) != 0)
			return 0;
		pos = q + 1;
		if (fi == last)
			break;
	}
	*nlp = nl;
	return pos;
}

/*
 * Takes the run's row fu->r: its nulls' bits and its new category values.
 * Returns 0 or a code.
 */
static inline int
take_row(struct ictx *c, struct fused *fu)
{
	uint64_t row = fu->row0 + fu->r;
	struct table_slot *sl;
	int64_t code;
	uint32_t u;
	size_t k;

	for (k = 0; k < fu->nnew; k++) {
		if ((code = table_builder_dict_code(c->b, fu->newc[k].ci,
		    fu->newc[k].p, fu->newc[k].len)) < 0)
			return (int)code;
		u = (uint32_t)code;
		memcpy(fu->sl[fu->newc[k].ci].data + fu->r * 4, &u, 4);
	}
	for (k = 0; k < fu->nnull; k++) {
		sl = &fu->sl[fu->nullc[k]];
		sl->nulls[row >> 3] |= (unsigned char)(1u << (row & 7));
		sl->nnull++;
	}
	fu->r++;
	return 0;
}

/*
 * Appends the plain records at the reader's position, as many as there
 * are, in runs (table.h). Returns 0 when the next record (if any) is for
 * csv_next, or a negative code.
 */
static int
fused_rows(struct ictx *c, struct fused *fu, uint64_t *np)
{
	struct csv_view v;
	struct fscan s;
	size_t rs, re;
	uint64_t nl, room = 0;
	int r = 0;

	csv_view(c->rd, &v);
	memset(&s, 0, sizeof(s));
	s.p = v.p;
	s.len = v.len;
	s.loadlim = v.len + v.slack >= FBLOCK ? v.len + v.slack - FBLOCK + 1 :
	    0;
	s.delim = v.delim;
	s.set[0] = (char)v.delim;
	s.set[1] = '\n';
	s.set[2] = '\r';
	s.set[3] = '"';
	s.masks = fu->masks;
	s.u8 = fu->u8;
	utf8_scan_init(&s.u);
	if (fs_load(&s, 0) != 0)
		return 0;
	fu->r = 0;
	for (rs = 0; rs < v.len && v.rows_left > 0; v.rows_left--, rs = re) {
		if (fu->r == room) {
			if (room > 0)
				table_builder_run_end(c->b, fu->sl, fu->r);
			fu->r = 0;
			if ((r = table_builder_run(c->b, fu->sl, &fu->row0,
			    &room)) != 0)
				return nomem(c, r);
			if (room == 0)	/* the table is full: put_field says */
				return 0;
		}
		fu->high = 0;
		fu->nnull = fu->nnew = 0;
		if ((re = fused_record(c, fu, &s, &v, rs, &nl)) == 0 ||
		    re - rs > v.max_record)
			break;
		/*
		 * With AVX2 the blocks were checked as they were loaded: only
		 * a record a bad block may touch is looked at closer (a bad
		 * block ends after its start: a sequence never spans a line
		 * end). Otherwise, one check of the record is cheaper than
		 * one per text field (and the other fields are ASCII or fail
		 * their parsers). If it fails, maybe only an ignored field is
		 * at fault: the record goes to put_field, which knows.
		 */
		if ((s.u8 ? s.bad_hi > rs : fu->high) &&
		    utf8_check(v.p + rs, re - rs) != re - rs)
			break;
		if ((r = take_row(c, fu)) != 0) {
			r = nomem(c, r);
			break;
		}
		csv_take(c->rd, re - rs, nl);
		/* The input will be parsed again in one pass: give up. */
		if (c->stop != NULL && ++*np % STOP_EVERY == 0 &&
		    atomic_load(c->stop)) {
			r = VEIL_E_INTERNAL;
			break;
		}
	}
	if (room > 0)
		table_builder_run_end(c->b, fu->sl, fu->r);
	return r;
}

static int
fused_init(struct fused *fu, const struct ictx *c)
{
	size_t n = c->s->ncols, i;

	memset(fu, 0, sizeof(*fu));
	if (c->simd < 0)
		return 0;
	if ((fu->fc = calloc(n, sizeof(*fu->fc))) == NULL ||
	    (fu->sl = calloc(n, sizeof(*fu->sl))) == NULL ||
	    (fu->nullc = calloc(n, sizeof(*fu->nullc))) == NULL ||
	    (fu->newc = calloc(n, sizeof(*fu->newc))) == NULL ||
	    (fu->cc = calloc(n * CCACHE, sizeof(*fu->cc))) == NULL ||
	    (fu->dc = calloc(n * DCACHE, sizeof(*fu->dc))) == NULL)
		return VEIL_E_NOMEM;
	for (i = 0; i < n; i++) {
		const struct schema_column *col = &c->s->cols[i];
		struct fcol *f = &fu->fc[i];

		f->type = (uint8_t)col->type;
		f->w = (uint8_t)tf_data_len(col->type, 1);
		f->required = col->required != 0;
		f->has_range = col->has_range != 0;
		f->tabhier = c->tabhier[i] != 0;
		f->declared = col->nvalues > 0;
		f->ilo = col->ilo;
		f->ihi = col->ihi;
		f->flo = col->flo;
		f->fhi = col->fhi;
	}
	fu->masks = pick_masks(c->simd);
	fu->u8 = fu->masks != masks_bytes && c->simd >= 2 &&
	    utf8_have_block();
	return 0;
}

static void
fused_free(struct fused *fu)
{
	free(fu->fc);
	free(fu->sl);
	free(fu->nullc);
	free(fu->newc);
	free(fu->cc);
	free(fu->dc);
	free(fu->unesc);
}

/* }====== */

/* Reads the records after the header into c->b. Returns 0 or a code. */
static int
read_rows(struct ictx *c)
{
	struct csv_field *f;
	struct fused fu;
	const char *rec;
	size_t nf, i, len;
	uint64_t n = 0;
	int r;

	if (fused_init(&fu, c) != 0) {
		fused_free(&fu);
		return veil_seterr(c->err, VEIL_E_NOMEM, "out of memory");
	}
	for (;;) {
		if (c->simd >= 0 && (r = fused_rows(c, &fu, &n)) != 0)
			break;
		if ((r = csv_next(c->rd, &f, &nf, c->err)) != 1)
			break;
		/* The input will be parsed again in one pass: give up. */
		if (c->stop != NULL && ++n % STOP_EVERY == 0 &&
		    atomic_load(c->stop)) {
			r = VEIL_E_INTERNAL;
			break;
		}
		if (nf != c->nfields) {
			r = veil_seterr(c->err, VEIL_E_PARSE, "%s:%llu: %zu "
			    "fields, the header has %zu", csv_name(c->rd),
			    (unsigned long long)csv_line(c->rd), nf,
			    c->nfields);
			break;
		}
		/*
		 * One pass over the record instead of one per text field:
		 * the fields of a valid record are valid (csv.h). Otherwise
		 * each field is checked, to name the column at fault.
		 */
		rec = csv_record(c->rd, &len);
		c->utf8ok = utf8_check(rec, len) == len;
		for (i = 0, r = 0; i < nf && r == 0; i++)
			if (c->map[i] >= 0)
				r = put_field(c, i, &f[i]);
		if (r != 0)
			break;
	}
	fused_free(&fu);
	return r;
}

/* ictx.simd for the options. */
static int
simd_level(const struct ingest_opts *o)
{
	switch (o != NULL ? o->fused : INGEST_FUSED_BEST) {
	case INGEST_FUSED_OFF:
		return -1;
	case INGEST_FUSED_BYTES:
		return 0;
	case INGEST_FUSED_SSE2:
		return 1;
	default:
		return 2;
	}
}

static int
ingest(struct csv_reader *rd, const struct schema *s,
    const struct ingest_opts *o, struct table_builder **bp,
    struct ingest_stats *stats, struct veil_err *err)
{
	struct ictx c;
	int r;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.rd = rd;
	c.err = err;
	c.simd = simd_level(o);
	if ((r = read_header(&c)) != 0 || (r = read_rows(&c)) != 0)
		goto out;
	if (stats != NULL) {
		stats->rows = table_builder_nrows(c.b);
		stats->bytes = csv_bytes(rd);
		stats->delimiter = csv_delimiter(rd);
		stats->threads = 1;
		stats->split = INGEST_SPLIT_NONE;
	}
	*bp = c.b;
	c.b = NULL;
 out:
	table_builder_free(c.b);
	free(c.tabhier);
	free(c.map);
	return r;
}

/* {====== parallel ingestion */

/*
 * An input held in memory (ingest_csv_mem, or a regular file mapped) is
 * parsed by several threads: its records after the header are split into
 * pieces at record boundaries found by quote parity (csv_boundary), each
 * piece is parsed into a builder of its own, and the builders are
 * appended in order (table_builder_append), which lays them out as one at
 * finish: the table is byte for byte the one a single pass makes.
 *
 * Only success is taken from the pieces. If any piece fails, or a limit
 * that spans pieces (max_rows, a dictionary's size) is crossed, the input
 * is parsed again in one pass from its start, and that pass's error is
 * the one reported: so an error is always the first in file order, with
 * its own line, column and text, exactly as without threads. (A piece's
 * error could not be trusted anyway: after invalid input the boundaries
 * found by quote parity may be wrong; but then an earlier piece fails.)
 * Bad input costs at most one more pass, up to its first error.
 */
#define PAR_MIN		(1u << 20)	/* input bytes per thread, at least */
/*
 * Pieces per thread. More would even out threads that get unequal shares
 * of the CPUs, but each piece's columns are smaller, so more of their
 * pages are small ones: 4 pieces per thread cost 15% more CPU than 1.
 */
#define PAR_PIECES	1
#define PAR_MAX_THREADS	32
#define PAR_SERIAL	1		/* ingest_par: parse in one pass */

struct piece {
	size_t			 off, len;
	struct table_builder	*b;
	int			 r;
};

struct par {
	const struct ictx	*c;		/* the header's context */
	const char		*data;		/* the records after it */
	size_t			 len;
	int			 delim;
	const struct csv_limits	*lim;
	struct piece		*pieces;
	size_t			 npieces;
	uint64_t		*quotes;	/* per even slice of data */
	int			 phase;		/* 0: count quotes, 1: parse */
	int			 mapped;	/* data is ours to unmap */
	atomic_size_t		 next;
	atomic_int		 failed;
};

/*
 * Drops the pages wholly inside [p, p + len) of a mapping. They stay
 * reserved (unmapping them would let other threads' mappings land in the
 * hole, which the caller's munmap of the whole would then take away).
 */
static void
drop_pages(const char *p, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1);
	uintptr_t e = ((uintptr_t)p + len) & ~(pg - 1);

	if (e > a)
		(void)madvise((void *)a, e - a, MADV_DONTNEED);
}

static void
parse_piece(struct par *pa, struct piece *pc)
{
	struct ictx c = *pa->c;
	struct veil_err err;

	veil_err_clear(&err);
	c.err = &err;
	c.b = NULL;
	c.stop = &pa->failed;
	pc->r = VEIL_E_NOMEM;
	if ((c.rd = csv_open_span(pa->data + pc->off, pc->len,
	    csv_name(pa->c->rd), pa->delim, pa->lim, &err)) == NULL)
		return;
	if ((pc->r = new_builder(&c, &c.b)) == 0 &&
	    (pc->r = read_rows(&c)) == 0) {
		pc->b = c.b;
		c.b = NULL;
	}
	table_builder_free(c.b);
	csv_close(c.rd);
	/*
	 * A mapped file is not read again (a retry streams it from the
	 * descriptor): the piece's pages go now, in parallel, rather than
	 * all at once when the caller unmaps the file.
	 */
	if (pa->mapped)
		drop_pages(pa->data + pc->off, pc->len);
}

static void *
par_worker(void *arg)
{
	struct par *pa = arg;
	size_t k;

	while (!atomic_load(&pa->failed) &&
	    (k = atomic_fetch_add(&pa->next, 1)) < pa->npieces) {
		if (pa->phase == 0) {
			pa->quotes[k] = csv_count_quotes(pa->data +
			    k * (pa->len / pa->npieces), k + 1 < pa->npieces ?
			    pa->len / pa->npieces : pa->len - k *
			    (pa->len / pa->npieces));
			continue;
		}
		parse_piece(pa, &pa->pieces[k]);
		if (pa->pieces[k].r != 0)
			atomic_store(&pa->failed, 1);
	}
	return NULL;
}

/* Runs par_worker on up to n threads, this one included; says how many. */
static int
par_run(struct par *pa, int n)
{
	pthread_t tid[PAR_MAX_THREADS];
	int i, started = 0;

	atomic_store(&pa->next, 0);
	for (i = 1; i < n; i++) {
		if (pthread_create(&tid[started], NULL, par_worker, pa) != 0)
			break;	/* fewer threads do the same work */
		started++;
	}
	par_worker(pa);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return started + 1;
}

/* The threads to use: the option, or the CPUs this thread may run on. */
static int
par_threads(const struct ingest_opts *o, size_t len)
{
	cpu_set_t set;
	size_t min = o != NULL && o->piece_min > 0 ? o->piece_min : PAR_MIN;
	long n = o != NULL ? o->threads : 0;

	if (n <= 0) {
		n = 1;
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			n = CPU_COUNT(&set);
	}
	if ((size_t)n > len / min)
		n = (long)(len / min);
	return n > PAR_MAX_THREADS ? PAR_MAX_THREADS : (int)n;
}

/* The pieces' lengths, from their offsets. */
static void
par_bounds(struct par *pa)
{
	size_t k;

	for (k = 0; k < pa->npieces; k++)
		pa->pieces[k].len = (k + 1 < pa->npieces ?
		    pa->pieces[k + 1].off : pa->len) - pa->pieces[k].off;
}

/*
 * Parses the len bytes at buf with threads; mapped says that buf is a
 * private mapping of a file, whose pages the threads may drop as they
 * finish with them. Returns 0 with
 * *bp and stats set, or PAR_SERIAL when the input must be parsed in one
 * pass instead (it is too small, or something failed: see above).
 */
static int
ingest_par(const char *buf, size_t len, int mapped, const char *name,
    const struct schema *s, const struct ingest_opts *o, int delim,
    struct table_builder **bp, struct ingest_stats *stats)
{
	struct csv_limits lim;
	struct veil_err err;
	struct ictx c;
	struct par pa;
	uint64_t q = 0;
	size_t k, t, prev, slice, off;
	int nthreads, g, spec, same, split = 0, r = PAR_SERIAL;

	memset(&c, 0, sizeof(c));
	memset(&pa, 0, sizeof(pa));
	if (o != NULL)
		lim = o->limits;
	else
		csv_limits_default(&lim);
	veil_err_clear(&err);
	c.s = s;
	c.err = &err;
	c.simd = simd_level(o);
	if ((c.rd = csv_open_mem(buf, len, name, delim, &lim, &err)) == NULL ||
	    read_header(&c) != 0)
		goto out;
	pa.c = &c;
	pa.mapped = mapped;
	pa.data = buf + csv_bytes(c.rd);
	pa.len = len - csv_bytes(c.rd);
	pa.delim = csv_delimiter(c.rd);
	pa.lim = &lim;
	if ((nthreads = par_threads(o, pa.len)) < 2)
		goto out;
	pa.npieces = (size_t)nthreads * PAR_PIECES;
	if ((pa.pieces = calloc(pa.npieces, sizeof(*pa.pieces))) == NULL ||
	    (pa.quotes = calloc(pa.npieces, sizeof(*pa.quotes))) == NULL)
		goto out;

	/*
	 * Boundaries near even slices: first where the bytes near each
	 * guess that records start (csv_guess_quoted), which is right but
	 * for a quoted field holding ,"x; then, if a piece failed, from the
	 * quotes counted before each slice, a pass over the input. A wrong
	 * boundary fails the piece before it, which starts right (csv.h).
	 */
	slice = pa.len / pa.npieces;
	for (k = 1, prev = 0, spec = 1; k < pa.npieces && spec; k++) {
		t = k * slice;
		if ((g = csv_guess_quoted(pa.data, pa.len, &t, pa.delim)) < 0)
			spec = 0;
		else
			prev = pa.pieces[k].off = prev >= t ? prev :
			    csv_boundary(pa.data, pa.len, t, g);
	}
	if (spec) {
		par_bounds(&pa);
		pa.phase = 1;
		nthreads = par_run(&pa, nthreads);
		split = INGEST_SPLIT_GUESSED;
		if (!atomic_load(&pa.failed))
			goto parsed;
		for (k = 0; k < pa.npieces; k++) {
			table_builder_free(pa.pieces[k].b);
			pa.pieces[k].b = NULL;
		}
		atomic_store(&pa.failed, 0);
	}
	pa.phase = 0;
	par_run(&pa, nthreads);
	for (k = 1, prev = 0, same = spec; k < pa.npieces; k++) {
		q += pa.quotes[k - 1];	/* the quotes before t */
		t = k * slice;
		off = prev >= t ? prev : csv_boundary(pa.data, pa.len, t,
		    (int)(q & 1));
		same &= off == pa.pieces[k].off;
		prev = pa.pieces[k].off = off;
	}
	if (same)	/* the same pieces failed: the input is at fault */
		goto out;
	par_bounds(&pa);
	pa.phase = 1;
	nthreads = par_run(&pa, nthreads);
	split = spec ? INGEST_SPLIT_RECOUNTED : INGEST_SPLIT_COUNTED;
	if (atomic_load(&pa.failed))
		goto out;
 parsed:
	for (k = 0; k < pa.npieces; k++) {
		if (table_builder_append(c.b, pa.pieces[k].b) != 0)
			goto out;
		pa.pieces[k].b = NULL;
	}
	/* The header is a record too. */
	if (table_builder_nrows(c.b) >= lim.max_rows)
		goto out;
	if (stats != NULL) {
		stats->rows = table_builder_nrows(c.b);
		stats->bytes = len;
		stats->delimiter = pa.delim;
		stats->threads = nthreads;
		stats->split = split;
	}
	*bp = c.b;
	c.b = NULL;
	r = 0;
 out:
	for (k = 0; pa.pieces != NULL && k < pa.npieces; k++)
		table_builder_free(pa.pieces[k].b);
	free(pa.pieces);
	free(pa.quotes);
	table_builder_free(c.b);
	free(c.tabhier);
	free(c.map);
	csv_close(c.rd);
	return r;
}

/* }====== */

static int
pick_delim(const struct schema *s, const struct ingest_opts *o)
{
	if (o != NULL && o->delimiter != 0)
		return o->delimiter;
	return s->delimiter;
}

/*
 * A regular file big enough to share out is mapped and parsed in pieces
 * (ingest_par); otherwise, or if that fails, it is read in one streaming
 * pass from where the descriptor stood. (Like any mapping, a file cut
 * short by another process while mapped would raise SIGBUS.)
 */
int
ingest_csv_fd(int fd, const char *name, const struct schema *s,
    const struct ingest_opts *o, struct table_builder **bp,
    struct ingest_stats *stats, struct veil_err *err)
{
	struct csv_reader *rd;
	struct veil_err lerr;
	struct stat sb;
	off_t at;
	void *map;
	int r;

	*bp = NULL;
	veil_err_clear(&lerr);
	if (err == NULL)
		err = &lerr;
	if ((o == NULL || o->threads != 1) && fstat(fd, &sb) == 0 &&
	    S_ISREG(sb.st_mode) && (at = lseek(fd, 0, SEEK_CUR)) >= 0 &&
	    sb.st_size > at && (uint64_t)sb.st_size <= SIZE_MAX &&
	    par_threads(o, (size_t)(sb.st_size - at)) >= 2 && (map = mmap(NULL,
	    (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) !=
	    MAP_FAILED) {
		r = ingest_par((const char *)map + at, (size_t)(sb.st_size - at),
		    1, name, s, o, pick_delim(s, o), bp, stats);
		munmap(map, (size_t)sb.st_size);
		if (r == 0) {
			(void)lseek(fd, sb.st_size, SEEK_SET);
			return 0;
		}
		if (lseek(fd, at, SEEK_SET) != at)
			return veil_seterr(err, VEIL_E_IO, "%s: lseek: %s",
			    name, strerror(errno));
	}
	if ((rd = csv_open_fd(fd, name, pick_delim(s, o),
	    o != NULL ? &o->limits : NULL, err)) == NULL)
		return err->code != 0 ? err->code : VEIL_E_NOMEM;
	r = ingest(rd, s, o, bp, stats, err);
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
	if ((o == NULL || o->threads != 1) && buf != NULL &&
	    par_threads(o, len) >= 2 && ingest_par(buf, len, 0, name, s, o,
	    pick_delim(s, o), bp, stats) == 0)
		return 0;
	if ((rd = csv_open_mem(buf, len, name, pick_delim(s, o),
	    o != NULL ? &o->limits : NULL, err)) == NULL)
		return err->code != 0 ? err->code : VEIL_E_NOMEM;
	r = ingest(rd, s, o, bp, stats, err);
	csv_close(rd);
	return r;
}
