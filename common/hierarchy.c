/*
 * hierarchy.c: construction and checking of generalization hierarchies
 * (see hierarchy.h). The anonymizer walks them; the schema loader builds
 * them and refuses any that is not a proper tree ending in one root.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "hierarchy.h"
#include "utf8.h"

struct cell {
	uint64_t	 off;
	uint32_t	 len;
};

struct hierarchy {
	enum hier_kind	 kind;
	int		 nlevels;
	size_t		 n;		/* widths / masks / dates */
	double		*widths;
	int64_t		*masks;
	enum hier_date	*dates;
	/* table */
	char		*arena;
	size_t		 alen, acap;
	struct cell	*cells;		/* nrows * nlevels */
	size_t		 nrows, rcap;
	uint32_t	*ht;		/* row + 1, 0 = empty */
	size_t		 htcap;
};

static const char *const date_names[] = {
	NULL, "month", "quarter", "year", "decade"
};

enum hier_date
hierarchy_date_level(const char *name)
{
	int i;

	for (i = HIER_D_MONTH; i <= HIER_D_DECADE; i++)
		if (strcmp(name, date_names[i]) == 0)
			return (enum hier_date)i;
	return 0;
}

const char *
hierarchy_date_name(enum hier_date d)
{
	return (d >= HIER_D_MONTH && d <= HIER_D_DECADE) ? date_names[d] : "?";
}

static struct hierarchy *
hnew(enum hier_kind kind, size_t n, struct veil_err *err)
{
	struct hierarchy *h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "hierarchy: out of memory");
		return NULL;
	}
	h->kind = kind;
	h->n = n;
	h->nlevels = (int)n + 2;
	return h;
}

static int
levels_ok(size_t n, const char *what, struct veil_err *err)
{
	if (n == 0 || n > HIER_MAX_LEVELS - 2)
		return veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy: expected "
		    "1 to %d levels, got %zu", what, HIER_MAX_LEVELS - 2, n);
	return 0;
}

struct hierarchy *
hierarchy_new_interval(const double *w, size_t n, int integral,
    const char *what, struct veil_err *err)
{
	struct hierarchy *h;
	double q;
	size_t i;

	if (levels_ok(n, what, err) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (!(w[i] > 0) || w[i] > 1e15 ||
		    (integral && w[i] != (double)(int64_t)w[i])) {
			veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy.interval"
			    "[%zu]: expected a positive %s, got %g", what,
			    i + 1, integral ? "integer" : "number", w[i]);
			return NULL;
		}
		q = i > 0 ? w[i] / w[i - 1] : 1;
		if (i > 0 && (w[i] <= w[i - 1] || q != (double)(int64_t)q)) {
			veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy.interval"
			    "[%zu]: width %g must be a larger multiple of the "
			    "width below (%g), so that intervals nest", what,
			    i + 1, w[i], w[i - 1]);
			return NULL;
		}
	}
	if ((h = hnew(HIER_INTERVAL, n, err)) == NULL)
		return NULL;
	if ((h->widths = calloc(n, sizeof(*w))) == NULL) {
		hierarchy_free(h);
		veil_seterr(err, VEIL_E_NOMEM, "hierarchy: out of memory");
		return NULL;
	}
	memcpy(h->widths, w, n * sizeof(*w));
	return h;
}

struct hierarchy *
hierarchy_new_mask(const int64_t *m, size_t n, const char *what,
    struct veil_err *err)
{
	struct hierarchy *h;
	size_t i;

	if (levels_ok(n, what, err) != 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (m[i] < 1 || m[i] > 1024 || (i > 0 && m[i] <= m[i - 1])) {
			veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy.mask[%zu]: "
			    "expected increasing character counts from 1 to "
			    "1024, got %lld", what, i + 1, (long long)m[i]);
			return NULL;
		}
	if ((h = hnew(HIER_MASK, n, err)) == NULL)
		return NULL;
	if ((h->masks = calloc(n, sizeof(*m))) == NULL) {
		hierarchy_free(h);
		veil_seterr(err, VEIL_E_NOMEM, "hierarchy: out of memory");
		return NULL;
	}
	memcpy(h->masks, m, n * sizeof(*m));
	return h;
}

struct hierarchy *
hierarchy_new_date(const enum hier_date *d, size_t n, const char *what,
    struct veil_err *err)
{
	struct hierarchy *h;
	size_t i;

	if (levels_ok(n, what, err) != 0)
		return NULL;
	for (i = 0; i < n; i++)
		if (d[i] < HIER_D_MONTH || d[i] > HIER_D_DECADE ||
		    (i > 0 && d[i] <= d[i - 1])) {
			veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy[%zu]: "
			    "expected date levels in coarsening order among "
			    "month, quarter, year, decade", what, i + 1);
			return NULL;
		}
	if ((h = hnew(HIER_DATE, n, err)) == NULL)
		return NULL;
	if ((h->dates = calloc(n, sizeof(*d))) == NULL) {
		hierarchy_free(h);
		veil_seterr(err, VEIL_E_NOMEM, "hierarchy: out of memory");
		return NULL;
	}
	memcpy(h->dates, d, n * sizeof(*d));
	return h;
}

struct hierarchy *
hierarchy_table_new(void)
{
	struct hierarchy *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->kind = HIER_TABLE;
	return h;
}

static uint64_t
hstr(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static const char *
cellp(const struct hierarchy *h, size_t row, int lvl, size_t *lenp)
{
	const struct cell *c = &h->cells[row * (size_t)h->nlevels + lvl];

	*lenp = c->len;
	return h->arena + c->off;
}

int
hierarchy_table_add(struct hierarchy *h, const char *const *cells,
    const size_t *lens, size_t n, const char *what, uint64_t line,
    struct veil_err *err)
{
	struct cell *nc;
	char *na;
	size_t i, need = 0, ncap;

	char where[VEIL_ERR_MSGLEN];

	if (line > 0)
		snprintf(where, sizeof(where), "%s:%llu", what,
		    (unsigned long long)line);
	else
		snprintf(where, sizeof(where), "%s", what);
	if (h->nrows == 0) {
		if (n < 2 || n > HIER_MAX_LEVELS)
			return veil_seterr(err, VEIL_E_SCHEMA, "%s: a "
			    "hierarchy line needs 2 to %d values (the original, "
			    "then each level up to the root), got %zu", where,
			    HIER_MAX_LEVELS, n);
		h->nlevels = (int)n;
	} else if (n != (size_t)h->nlevels)
		return veil_seterr(err, VEIL_E_SCHEMA, "%s: %zu levels, "
		    "the first line has %d", where, n, h->nlevels);
	if (h->nrows >= HIER_MAX_LEAVES)
		return veil_seterr(err, VEIL_E_LIMIT, "%s: more than %d "
		    "values", where, HIER_MAX_LEAVES);
	for (i = 0; i < n; i++) {
		if (lens[i] == 0 || lens[i] > 4096 ||
		    !utf8_valid(cells[i], lens[i]))
			return veil_seterr(err, VEIL_E_SCHEMA, "%s: value %zu "
			    "is empty, too long or not UTF-8", where, i + 1);
		need += lens[i];
	}
	if (h->acap - h->alen < need) {
		ncap = h->acap ? h->acap : 4096;
		while (ncap - h->alen < need)
			ncap *= 2;
		if ((na = realloc(h->arena, ncap)) == NULL)
			return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		h->arena = na;
		h->acap = ncap;
	}
	if (h->nrows == h->rcap) {
		ncap = h->rcap ? h->rcap * 2 : 64;
		if ((nc = reallocarray(h->cells, ncap * n, sizeof(*nc))) == NULL)
			return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		h->cells = nc;
		h->rcap = ncap;
	}
	for (i = 0; i < n; i++) {
		nc = &h->cells[h->nrows * n + i];
		nc->off = h->alen;
		nc->len = (uint32_t)lens[i];
		memcpy(h->arena + h->alen, cells[i], lens[i]);
		h->alen += lens[i];
	}
	h->nrows++;
	return 0;
}

struct sortctx {
	const struct hierarchy	*h;
	int			 lvl;
};

static int
cmp_level(const void *a, const void *b, void *vctx)
{
	const struct sortctx *ctx = vctx;
	size_t la, lb;
	const char *pa = cellp(ctx->h, *(const size_t *)a, ctx->lvl, &la);
	const char *pb = cellp(ctx->h, *(const size_t *)b, ctx->lvl, &lb);
	int c = memcmp(pa, pb, la < lb ? la : lb);

	return c != 0 ? c : (la > lb) - (la < lb);
}

static int
same(const struct hierarchy *h, size_t a, size_t b, int lvl)
{
	size_t la, lb;
	const char *pa = cellp(h, a, lvl, &la), *pb = cellp(h, b, lvl, &lb);

	return la == lb && memcmp(pa, pb, la) == 0;
}

int
hierarchy_table_finish(struct hierarchy *h, const char *what,
    struct veil_err *err)
{
	struct sortctx ctx = { h, 0 };
	size_t *idx = NULL, i, j, la;
	const char *pa;
	uint64_t hv;
	int r = VEIL_E_SCHEMA, lvl;

	if (h->nrows == 0)
		return veil_seterr(err, VEIL_E_SCHEMA, "%s: hierarchy is empty",
		    what);
	if ((idx = calloc(h->nrows, sizeof(*idx))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	for (lvl = 0; lvl < h->nlevels - 1; lvl++) {
		for (i = 0; i < h->nrows; i++)
			idx[i] = i;
		ctx.lvl = lvl;
		qsort_r(idx, h->nrows, sizeof(*idx), cmp_level, &ctx);
		for (i = 1; i < h->nrows; i++) {
			if (!same(h, idx[i - 1], idx[i], lvl))
				continue;
			pa = cellp(h, idx[i], lvl, &la);
			if (lvl == 0) {
				r = veil_seterr(err, VEIL_E_SCHEMA, "%s: value "
				    "\"%.*s\" appears on rows %zu and %zu",
				    what, (int)(la > 64 ? 64 : la), pa,
				    idx[i - 1] + 1, idx[i] + 1);
				goto out;
			}
			if (!same(h, idx[i - 1], idx[i], lvl + 1)) {
				r = veil_seterr(err, VEIL_E_SCHEMA, "%s: level %d "
				    "value \"%.*s\" generalizes to two different "
				    "values at level %d (rows %zu and %zu): not "
				    "a tree", what, lvl, (int)(la > 64 ? 64 : la),
				    pa, lvl + 1, idx[i - 1] + 1, idx[i] + 1);
				goto out;
			}
		}
	}
	for (i = 1; i < h->nrows; i++)
		if (!same(h, 0, i, h->nlevels - 1)) {
			r = veil_seterr(err, VEIL_E_SCHEMA, "%s: rows 1 and %zu "
			    "end in different roots; the last level must be a "
			    "single value such as \"*\"", what, i + 1);
			goto out;
		}
	for (h->htcap = 64; h->htcap < 2 * h->nrows; h->htcap *= 2)
		;
	if ((h->ht = calloc(h->htcap, sizeof(*h->ht))) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < h->nrows; i++) {
		pa = cellp(h, i, 0, &la);
		hv = hstr(pa, la);
		for (j = hv & (h->htcap - 1); h->ht[j] != 0;
		    j = (j + 1) & (h->htcap - 1))
			;
		h->ht[j] = (uint32_t)i + 1;
	}
	h->n = (size_t)h->nlevels - 2;
	r = 0;
 out:
	free(idx);
	return r;
}

struct hierarchy *
hierarchy_load_csv(const char *path, struct veil_err *err)
{
	struct csv_limits lim;
	struct csv_reader *rd = NULL;
	struct csv_field *f;
	struct hierarchy *h = NULL;
	const char *cells[HIER_MAX_LEVELS];
	size_t lens[HIER_MAX_LEVELS], nf, i;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		veil_seterr(err, VEIL_E_IO, "%s: cannot open hierarchy file",
		    path);
		return NULL;
	}
	csv_limits_default(&lim);
	lim.max_record = 64 * 1024;
	lim.max_fields = HIER_MAX_LEVELS;
	lim.max_rows = HIER_MAX_LEAVES;
	if ((rd = csv_open_fd(fd, path, 0, &lim, err)) == NULL ||
	    (h = hierarchy_table_new()) == NULL)
		goto fail;
	while ((r = csv_next(rd, &f, &nf, err)) == 1) {
		for (i = 0; i < nf; i++) {
			cells[i] = f[i].p;
			lens[i] = f[i].len;
		}
		if (hierarchy_table_add(h, cells, lens, nf, path,
		    csv_line(rd), err) != 0)
			goto fail;
	}
	if (r < 0 || hierarchy_table_finish(h, path, err) != 0)
		goto fail;
	csv_close(rd);
	close(fd);
	return h;
 fail:
	if (err != NULL && err->code == 0)
		veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", path);
	hierarchy_free(h);
	csv_close(rd);
	close(fd);
	return NULL;
}

void
hierarchy_free(struct hierarchy *h)
{
	if (h == NULL)
		return;
	free(h->widths);
	free(h->masks);
	free(h->dates);
	free(h->arena);
	free(h->cells);
	free(h->ht);
	free(h);
}

enum hier_kind
hierarchy_kind(const struct hierarchy *h)
{
	return h->kind;
}

int
hierarchy_nlevels(const struct hierarchy *h)
{
	return h->nlevels;
}

const double *
hierarchy_widths(const struct hierarchy *h, size_t *np)
{
	*np = h->kind == HIER_INTERVAL ? h->n : 0;
	return h->widths;
}

const int64_t *
hierarchy_masks(const struct hierarchy *h, size_t *np)
{
	*np = h->kind == HIER_MASK ? h->n : 0;
	return h->masks;
}

const enum hier_date *
hierarchy_dates(const struct hierarchy *h, size_t *np)
{
	*np = h->kind == HIER_DATE ? h->n : 0;
	return h->dates;
}

size_t
hierarchy_nleaves(const struct hierarchy *h)
{
	return h->kind == HIER_TABLE ? h->nrows : 0;
}

long
hierarchy_find(const struct hierarchy *h, const char *p, size_t len)
{
	size_t j, l;
	const char *c;

	if (h->kind != HIER_TABLE || h->ht == NULL)
		return -1;
	for (j = hstr(p, len) & (h->htcap - 1); h->ht[j] != 0;
	    j = (j + 1) & (h->htcap - 1)) {
		c = cellp(h, h->ht[j] - 1, 0, &l);
		if (l == len && memcmp(c, p, len) == 0)
			return (long)h->ht[j] - 1;
	}
	return -1;
}

const char *
hierarchy_cell(const struct hierarchy *h, size_t row, int level,
    size_t *lenp)
{
	if (h->kind != HIER_TABLE || row >= h->nrows || level < 0 ||
	    level >= h->nlevels) {
		*lenp = 0;
		return NULL;
	}
	return cellp(h, row, level, lenp);
}
