/*
 * kanon.c: optimal full-domain generalization (see kanon.h).
 *
 * Each quasi-identifier's values become leaf codes, and every hierarchy
 * level a map from leaf code to level code. The records collapse into
 * base classes (distinct leaf tuples with counts); a node (one level per
 * QI) is evaluated by rolling the classes of the smallest cached node it
 * dominates up to its levels (a mixed-radix key per class, grouped
 * directly or by hashing), so that nodes high in the lattice cost a few
 * hundred steps. Frequencies of every generalized value over the whole
 * input are precomputed, which makes non-uniform entropy separable:
 *
 *   loss(node) = sum_c sum_rows log2 f_c(gen_c(row)) - log2 f_c(row)
 *
 * depends on the levels alone, and so does LM. The search therefore
 * sorts every node by its loss (ties: height, then level vector) and
 * evaluates them in that order until the first feasible one, which is
 * the optimum; nodes that monotonicity already decides are skipped
 * (k-anonymity and l-diversity only grow with generalization, so the
 * predecessors of an infeasible node are infeasible too; t-closeness is
 * not monotone and gets no such pruning), and so are nodes whose rare
 * values or pairs of values alone exceed the suppression limit.
 */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datefmt.h"
#include "hierarchy.h"
#include "kanon.h"

#define MAX_LEVELS	HIER_MAX_LEVELS
#define CACHE		1024	/* nodes whose classes are kept */
#define CACHE_MIN	((size_t)32 << 20)	/* bytes they may always take */

/* {====== interning strings per level */

struct strtab {
	char		**s;
	uint32_t	 n, cap;
	uint32_t	*ht;		/* code + 1 */
	uint32_t	 htcap;
};

static uint64_t
hstr(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h ^ (h >> 31);
}

static int
strtab_add(struct strtab *t, const char *p, size_t n, uint32_t *codep)
{
	uint32_t j, i, *nh;
	char **ns;

	if (t->n * 2 >= t->htcap) {
		uint32_t ncap = t->htcap ? t->htcap * 2 : 64;

		if ((nh = calloc(ncap, sizeof(*nh))) == NULL)
			return -1;
		for (i = 0; i < t->n; i++) {
			for (j = (uint32_t)hstr(t->s[i], strlen(t->s[i])) &
			    (ncap - 1); nh[j] != 0; j = (j + 1) & (ncap - 1))
				;
			nh[j] = i + 1;
		}
		free(t->ht);
		t->ht = nh;
		t->htcap = ncap;
	}
	for (j = (uint32_t)hstr(p, n) & (t->htcap - 1); t->ht[j] != 0;
	    j = (j + 1) & (t->htcap - 1))
		if (strlen(t->s[t->ht[j] - 1]) == n &&
		    memcmp(t->s[t->ht[j] - 1], p, n) == 0) {
			*codep = t->ht[j] - 1;
			return 0;
		}
	if (t->n == t->cap) {
		uint32_t ncap = t->cap ? t->cap * 2 : 16;

		if ((ns = reallocarray(t->s, ncap, sizeof(*ns))) == NULL)
			return -1;
		t->s = ns;
		t->cap = ncap;
	}
	if ((t->s[t->n] = strndup(p, n)) == NULL)
		return -1;
	t->ht[j] = t->n + 1;
	*codep = t->n++;
	return 0;
}

static void
strtab_free(struct strtab *t)
{
	uint32_t i;

	for (i = 0; i < t->n; i++)
		free(t->s[i]);
	free(t->s);
	free(t->ht);
}

/* }====== */

struct kcol {
	int		 tcol;
	int		 nlevels;
	uint32_t	 nleaf;
	uint32_t	*leaf;		/* per row */
	uint64_t	*fleaf;		/* per leaf: rows */
	struct strtab	 lab[MAX_LEVELS];	/* per level: labels = codes */
	uint32_t	*map[MAX_LEVELS];	/* per level: leaf -> code */
	double		*logf[MAX_LEVELS];	/* per level: code -> log2 f */
	double		 lossl[MAX_LEVELS];	/* sum over rows of log2 f */
	double		 lm[MAX_LEVELS];	/* loss metric contribution */
	uint64_t	*f[MAX_LEVELS];		/* per level: code -> rows */
	uint64_t	 rare[MAX_LEVELS];	/* rows in codes rarer than k */
};

struct classes {
	uint32_t	*rep;		/* a base class in the class */
	uint32_t	*count;		/* rows */
	uint32_t	*hist;		/* nsens per class */
	uint32_t	 n, cap;
};

/* grouping tables: hashed, and direct-indexed by the key */
struct slot {
	uint64_t	 key;
	uint32_t	 gen, id;
};

struct fslot {
	uint32_t	 gen, id;
};

struct pair {
	int		 a, b;		/* QIs, a < b */
	uint32_t	*cnt;		/* per level pair: rows per code pair */
	uint64_t	*rare;		/* per level pair: rows in rare pairs */
};

struct cache {
	int		 used;
	uint64_t	 node;
	uint8_t		 lv[KANON_MAX_QI];	/* levels < MAX_LEVELS */
	struct classes	 cl;
	uint64_t	 stamp;
};

struct kanon {
	const struct table	*t;
	uint64_t		 nrows;
	int			 nq;
	struct kcol		 q[KANON_MAX_QI];
	double			 kconst;	/* sum_c sum_rows log2 f(leaf) */
	struct classes		 base;
	uint32_t		*bcode[KANON_MAX_QI];	/* base class -> leaf */
	uint32_t		*rowcls;	/* row -> base class */
	/* sensitive attribute of the current search */
	int			 scol;
	uint32_t		 nsens;
	uint32_t		*sens;		/* per row: code */
	double			*sglob;		/* global distribution */
	int			 sordered;	/* numeric: ordered distance */
	struct cache		 cache[CACHE];
	uint64_t		 stamp;
	size_t			 budget;	/* bytes the cache may hold */
	/* the roll-ups' scratch: per input its key and class, per class
	 * its first input; the grouping tables */
	uint64_t		*keys;
	uint32_t		*ids, *first, scap;
	struct slot		*ht;
	uint32_t		 htcap, htgen;
	struct fslot		*flat;
	size_t			 flatcap;
	uint32_t		 flatgen;
	/* the classes kanon_mark() works on */
	struct classes		 last;
	struct pair		*pairs;
	int			 npairs;
};

/* {====== building the quasi-identifiers */

static int
label_of(const struct table_colview *c, uint64_t r, char *buf, size_t len,
    const char **pp, size_t *np)
{
	switch (c->type) {
	case VEIL_T_STRING:
		*pp = table_str(c, r, np);
		return 0;
	case VEIL_T_CATEGORY:
		*pp = table_dict(c, ((const uint32_t *)c->data)[r], np);
		return 0;
	case VEIL_T_INT:
		*np = (size_t)snprintf(buf, len, "%lld",
		    (long long)((const int64_t *)c->data)[r]);
		break;
	case VEIL_T_FLOAT:
		*np = (size_t)snprintf(buf, len, "%.17g",
		    ((const double *)c->data)[r]);
		break;
	case VEIL_T_DATE:
		datefmt_format(((const int32_t *)c->data)[r], buf);
		*np = DATEFMT_LEN;
		break;
	case VEIL_T_BOOL:
		*np = (size_t)snprintf(buf, len, "%s",
		    ((const uint8_t *)c->data)[r] ? "true" : "false");
		break;
	}
	*pp = buf;
	return 0;
}

static double
num_of(const struct table_colview *c, uint64_t r)
{
	switch (c->type) {
	case VEIL_T_INT:	return (double)((const int64_t *)c->data)[r];
	case VEIL_T_FLOAT:	return ((const double *)c->data)[r];
	case VEIL_T_DATE:	return ((const int32_t *)c->data)[r];
	case VEIL_T_BOOL:	return ((const uint8_t *)c->data)[r];
	default:		return 0;
	}
}

/* The label of a leaf at a level, for the generated hierarchy kinds. */
static int
gen_label(const struct schema_column *sc, const struct table_colview *c,
    uint64_t r, int lv, int nlev, char *buf, size_t len,
    const char **pp, size_t *np)
{
	const struct hierarchy *h = sc->hier;
	char tmp[64];
	const char *v;
	size_t vn, i, k, cps;
	double x, w, a, anchor;
	int y, m, d;

	if (lv == nlev - 1) {
		*pp = "*";
		*np = 1;
		return 0;
	}
	if (table_isnull(c, r)) {
		*pp = "";
		*np = 0;
		return 0;
	}
	if (lv == 0 || h == NULL)
		return label_of(c, r, buf, len, pp, np);
	switch (hierarchy_kind(h)) {
	case HIER_TABLE: {
		long row;

		label_of(c, r, tmp, sizeof(tmp), &v, &vn);
		if ((row = hierarchy_find(h, v, vn)) < 0)
			return -1;
		*pp = hierarchy_cell(h, (size_t)row, lv, np);
		return 0;
	}
	case HIER_INTERVAL: {
		const double *ws = hierarchy_widths(h, &k);

		w = ws[lv - 1];
		x = num_of(c, r);
		anchor = sc->has_range ? sc->flo : 0;
		a = anchor + floor((x - anchor) / w) * w;
		*np = (size_t)snprintf(buf, len, "[%.10g, %.10g)", a, a + w);
		*pp = buf;
		return 0;
	}
	case HIER_MASK: {
		const int64_t *ms = hierarchy_masks(h, &k);

		label_of(c, r, tmp, sizeof(tmp), &v, &vn);
		for (cps = 0, i = 0; i < vn; i++)
			cps += ((unsigned char)v[i] & 0xc0) != 0x80;
		m = (int)ms[lv - 1];
		/* keep the first cps - m code points, then m stars */
		for (k = 0, i = 0; i < vn && len > 8; i++) {
			if (((unsigned char)v[i] & 0xc0) != 0x80)
				k++;
			if ((int64_t)k <= (int64_t)cps - m) {
				if (i + 1 >= len - 8)
					break;
				buf[i] = v[i];
			} else
				break;
		}
		vn = i;
		for (k = 0; k < (size_t)(m < (int)cps ? m : (int)cps) &&
		    vn + 1 < len; k++)
			buf[vn++] = '*';
		buf[vn] = '\0';
		*pp = buf;
		*np = vn;
		return 0;
	}
	case HIER_DATE: {
		const enum hier_date *ds = hierarchy_dates(h, &k);

		datefmt_civil(((const int32_t *)c->data)[r], &y, &m, &d);
		switch (ds[lv - 1]) {
		case HIER_D_MONTH:
			*np = (size_t)snprintf(buf, len, "%04d-%02d", y, m);
			break;
		case HIER_D_QUARTER:
			*np = (size_t)snprintf(buf, len, "%04d-Q%d", y,
			    (m - 1) / 3 + 1);
			break;
		case HIER_D_YEAR:
			*np = (size_t)snprintf(buf, len, "%04d", y);
			break;
		default:
			*np = (size_t)snprintf(buf, len, "%04ds", y - y % 10);
			break;
		}
		*pp = buf;
		return 0;
	}
	}
	return -1;
}

static int
bits_for(uint32_t n)
{
	int b = 1;

	while (b < 32 && ((uint32_t)1 << b) < n)
		b++;
	return b;
}

static int
build_col(struct kanon *k, const struct schema *s, int col, struct kcol *q,
    struct veil_err *err)
{
	const struct schema_column *sc = &s->cols[col];
	const struct table_colview *c = table_column(k->t, (unsigned)col);
	struct strtab leaves;
	uint32_t *first = NULL, code, lf;
	uint64_t r;
	char buf[256];
	const char *p;
	size_t n;
	int lv, rv = -1;

	memset(&leaves, 0, sizeof(leaves));
	q->tcol = col;
	q->nlevels = sc->hier != NULL ? hierarchy_nlevels(sc->hier) : 2;
	if (q->nlevels > MAX_LEVELS)
		return veil_seterr(err, VEIL_E_SCHEMA, "column %s: too many "
		    "levels", sc->name);
	if ((q->leaf = calloc(k->nrows + 1, sizeof(uint32_t))) == NULL)
		goto nomem;
	/* leaves: distinct values (null is the empty label) */
	for (r = 0; r < k->nrows; r++) {
		if (table_isnull(c, r)) {
			p = "\\1null";
			n = 5;
		} else
			label_of(c, r, buf, sizeof(buf), &p, &n);
		if (strtab_add(&leaves, p, n, &q->leaf[r]) != 0)
			goto nomem;
	}
	q->nleaf = leaves.n;
	if ((q->fleaf = calloc(q->nleaf + 1, sizeof(uint64_t))) == NULL ||
	    (first = calloc(q->nleaf + 1, sizeof(uint32_t))) == NULL)
		goto nomem;
	for (r = 0; r < k->nrows; r++) {
		if (q->fleaf[q->leaf[r]]++ == 0)
			first[q->leaf[r]] = (uint32_t)r;
	}
	for (lv = 0; lv < q->nlevels; lv++) {
		double *f;

		if ((q->map[lv] = calloc(q->nleaf + 1, sizeof(uint32_t))) ==
		    NULL)
			goto nomem;
		for (lf = 0; lf < q->nleaf; lf++) {
			if (gen_label(sc, c, first[lf], lv, q->nlevels, buf,
			    sizeof(buf), &p, &n) != 0) {
				rv = veil_seterr(err, VEIL_E_SCHEMA, "column %s: "
				    "a value has no place in its hierarchy",
				    sc->name);
				goto out;
			}
			if (strtab_add(&q->lab[lv], p, n, &code) != 0)
				goto nomem;
			q->map[lv][lf] = code;
		}
		if ((f = calloc(q->lab[lv].n + 1, sizeof(double))) == NULL)
			goto nomem;
		for (lf = 0; lf < q->nleaf; lf++)
			f[q->map[lv][lf]] += (double)q->fleaf[lf];
		if ((q->f[lv] = calloc(q->lab[lv].n + 1, sizeof(uint64_t))) ==
		    NULL) {
			free(f);
			goto nomem;
		}
		for (code = 0; code < q->lab[lv].n; code++)
			q->f[lv][code] = (uint64_t)f[code];
		q->lossl[lv] = 0;
		for (lf = 0; lf < q->nleaf; lf++)
			q->lossl[lv] += (double)q->fleaf[lf] *
			    log2(f[q->map[lv][lf]]);
		/* LM: (|leaves under the value| - 1) / (|leaves| - 1) */
		q->lm[lv] = 0;
		for (lf = 0; lf < q->nleaf && q->nleaf > 1; lf++) {
			double under = 0;
			uint32_t o;

			for (o = 0; o < q->nleaf; o++)
				under += q->map[lv][o] == q->map[lv][lf];
			q->lm[lv] += (double)q->fleaf[lf] * (under - 1) /
			    (double)(q->nleaf - 1);
		}
		for (code = 0; code < q->lab[lv].n; code++)
			f[code] = log2(f[code]);
		q->logf[lv] = f;
	}
	rv = 0;
	goto out;
 nomem:
	rv = veil_seterr(err, VEIL_E_NOMEM, "anonymize: out of memory");
 out:
	strtab_free(&leaves);
	free(first);
	return rv;
}

/* }====== */

/* {====== classes */

/*
 * A node's classes are numbered by a key: the mixed-radix number of
 * their level codes, which is dense enough at most nodes to index a flat
 * table directly, and fits 64 bits; where the product of the radices
 * would not, the key so far is first renumbered densely (see node_keys).
 * Keys are computed for all inputs first and grouped after: two simple
 * loops rather than one that waits on the hash table at every step.
 */

static void
classes_free(struct classes *cl)
{
	free(cl->rep);
	free(cl->count);
	free(cl->hist);
	memset(cl, 0, sizeof(*cl));
}

static size_t
class_bytes(const struct kanon *k)
{
	return 2 * sizeof(uint32_t) + (size_t)k->nsens * sizeof(uint32_t);
}

/* Room for n classes; the contents are not kept. */
static int
classes_reserve(struct kanon *k, struct classes *cl, uint32_t n)
{
	if (n <= cl->cap)
		return 0;
	classes_free(cl);
	if ((cl->rep = reallocarray(NULL, n, sizeof(uint32_t))) == NULL ||
	    (cl->count = reallocarray(NULL, n, sizeof(uint32_t))) == NULL ||
	    (k->nsens > 0 && (cl->hist = reallocarray(NULL, n,
	    (size_t)k->nsens * sizeof(uint32_t))) == NULL))
		return -1;
	cl->cap = n;
	return 0;
}

/* Scratch space for n inputs; 0 or -1. */
static int
scratch_reserve(struct kanon *k, uint32_t n)
{
	uint32_t cap;

	if (n <= k->scap)
		return 0;
	free(k->keys);
	free(k->ids);
	free(k->first);
	k->scap = 0;
	if ((k->keys = reallocarray(NULL, n, sizeof(uint64_t))) == NULL ||
	    (k->ids = reallocarray(NULL, n, sizeof(uint32_t))) == NULL ||
	    (k->first = reallocarray(NULL, n, sizeof(uint32_t))) == NULL)
		return -1;
	k->scap = n;
	for (cap = 64; cap < 2 * n; cap *= 2)
		;
	if (cap > k->htcap) {
		free(k->ht);
		k->htcap = 0;
		if ((k->ht = calloc(cap, sizeof(*k->ht))) == NULL)
			return -1;
		k->htcap = cap;
		k->htgen = 0;
	}
	return 0;
}

static inline uint64_t
mix(uint64_t h)
{
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/*
 * The generation of the grouping tables: a slot is live if it carries
 * the current one, so nothing is cleared between groupings.
 */
static uint32_t
next_gen(uint32_t *gen, void *t, size_t size)
{
	if (++*gen == 0) {	/* wrapped: start clean */
		memset(t, 0, size);
		*gen = 1;
	}
	return *gen;
}

/* Direct-indexed grouping, for keys below radix (small). */
static uint32_t
group_flat(struct kanon *k, uint32_t n, uint64_t radix)
{
	const uint64_t *keys = k->keys;
	uint32_t i, g, ng = 0, *ids = k->ids, *first = k->first;
	struct fslot *t;

	if (radix > k->flatcap) {
		free(k->flat);
		k->flatcap = 0;
		if ((k->flat = calloc(radix, sizeof(*k->flat))) == NULL)
			return UINT32_MAX;
		k->flatcap = radix;
		k->flatgen = 0;
	}
	t = k->flat;
	g = next_gen(&k->flatgen, t, k->flatcap * sizeof(*t));
	for (i = 0; i < n; i++) {
		struct fslot *s = &t[keys[i]];

		if (s->gen != g) {
			s->gen = g;
			s->id = ng;
			first[ng++] = i;
		}
		ids[i] = s->id;
	}
	return ng;
}

/* Open addressing in the first cap slots, for keys too sparse to index. */
static uint32_t
group_hash(struct kanon *k, uint32_t n, uint32_t cap)
{
	const uint64_t *keys = k->keys;
	uint32_t i, j, g, ng = 0, mask = cap - 1;
	uint32_t *ids = k->ids, *first = k->first;
	struct slot *t = k->ht;

	g = next_gen(&k->htgen, t, k->htcap * sizeof(*t));
	for (i = 0; i < n; i++) {
		for (j = (uint32_t)mix(keys[i]) & mask; t[j].gen == g;
		    j = (j + 1) & mask)
			if (t[j].key == keys[i])
				break;
		if (t[j].gen != g) {
			t[j].gen = g;
			t[j].key = keys[i];
			t[j].id = ng;
			first[ng++] = i;
		}
		ids[i] = t[j].id;
	}
	return ng;
}

/*
 * Numbers the distinct values of k->keys[0..n), all below radix, in the
 * order they first appear: k->ids[i] is input i's number, k->first[id]
 * the first input with it. Returns how many, or UINT32_MAX (out of
 * memory).
 */
static uint32_t
group(struct kanon *k, uint32_t n, uint64_t radix)
{
	uint32_t cap;

	/*
	 * Only as much of the tables as n needs, so that small groupings
	 * stay in the cache; a flat table no larger than the hash table.
	 */
	for (cap = 64; cap < 2 * n; cap *= 2)
		;
	if (radix <= (uint64_t)cap * 2)
		return group_flat(k, n, radix);
	return group_hash(k, n, cap);
}

/*
 * k->keys[0..n) for the items whose leaf codes are codes[c][idx[i]]
 * (codes[c][i] if idx is NULL) at levels lv. *radixp: the bound on the
 * keys. Returns 0 or -1 (out of memory).
 */
static int
node_keys(struct kanon *k, const uint32_t *const *codes,
    const uint32_t *idx, uint32_t n, const int *lv, uint64_t *radixp)
{
	uint64_t *keys = k->keys, radix = 1, card;
	const uint32_t *m, *col;
	uint32_t i, ng;
	int c;

	for (c = 0; c < k->nq; c++) {
		if ((card = k->q[c].lab[lv[c]].n) <= 1)
			continue;	/* one value: no information */
		if (radix == 1) {	/* no key yet, or all 0: the code */
			m = k->q[c].map[lv[c]];
			col = codes[c];
			for (i = 0; i < n; i++)
				keys[i] = m[col[idx != NULL ? idx[i] : i]];
			radix = card;
			continue;
		}
		if (radix > UINT64_MAX / card) {
			/* renumber densely so that the key fits again */
			if ((ng = group(k, n, radix)) == UINT32_MAX)
				return -1;
			for (i = 0; i < n; i++)
				keys[i] = k->ids[i];
			radix = ng;
		}
		m = k->q[c].map[lv[c]];
		col = codes[c];
		if (idx != NULL)
			for (i = 0; i < n; i++)
				keys[i] = keys[i] * card + m[col[idx[i]]];
		else
			for (i = 0; i < n; i++)
				keys[i] = keys[i] * card + m[col[i]];
		radix *= card;
	}
	if (radix == 1)		/* every QI at its top */
		memset(keys, 0, (size_t)n * sizeof(*keys));
	*radixp = radix;
	return 0;
}

/*
 * Groups the classes from (finer than lv) by their codes at lv: k->ids,
 * k->first. Returns how many classes lv has, or UINT32_MAX.
 */
static uint32_t
roll_keys(struct kanon *k, const struct classes *from, const int *lv)
{
	uint64_t radix;

	if (scratch_reserve(k, from->n) != 0 ||
	    node_keys(k, (const uint32_t *const *)k->bcode, from->rep,
	    from->n, lv, &radix) != 0)
		return UINT32_MAX;
	return group(k, from->n, radix);
}

/* Sums the classes from into out, as roll_keys() grouped them. */
static void
roll_sum(const struct kanon *k, const struct classes *from,
    struct classes *out, uint32_t nout)
{
	const uint32_t *ids = k->ids;
	size_t ns = k->nsens;
	uint32_t i, s, *dst;
	const uint32_t *src;

	out->n = nout;
	for (i = 0; i < nout; i++) {
		out->rep[i] = from->rep[k->first[i]];
		out->count[i] = 0;
	}
	for (i = 0; i < from->n; i++)
		out->count[ids[i]] += from->count[i];
	if (ns == 0)
		return;
	memset(out->hist, 0, nout * ns * sizeof(uint32_t));
	for (i = 0; i < from->n; i++) {
		dst = out->hist + ids[i] * ns;
		src = from->hist + i * ns;
		for (s = 0; s < ns; s++)
			dst[s] += src[s];
	}
}

/*
 * The base classes: the distinct leaf tuples of the rows, with their
 * codes (k->bcode) and, per row, its class (k->rowcls).
 */
static int
build_base(struct kanon *k)
{
	const uint32_t *leaf[KANON_MAX_QI];
	struct classes *b = &k->base;
	uint32_t n = (uint32_t)k->nrows, nb, i;
	uint64_t radix;
	int zero[KANON_MAX_QI], c;

	memset(zero, 0, sizeof(zero));
	for (c = 0; c < k->nq; c++)
		leaf[c] = k->q[c].leaf;
	if (scratch_reserve(k, n + 1) != 0 ||
	    node_keys(k, leaf, NULL, n, zero, &radix) != 0 ||
	    (nb = group(k, n, radix)) == UINT32_MAX ||
	    classes_reserve(k, b, nb + 1) != 0)
		return -1;
	free(k->rowcls);
	if ((k->rowcls = reallocarray(NULL, n + 1, sizeof(uint32_t))) ==
	    NULL)
		return -1;
	memcpy(k->rowcls, k->ids, (size_t)n * sizeof(uint32_t));
	for (c = 0; c < k->nq; c++) {
		free(k->bcode[c]);
		if ((k->bcode[c] = reallocarray(NULL, nb + 1,
		    sizeof(uint32_t))) == NULL)
			return -1;
		for (i = 0; i < nb; i++)
			k->bcode[c][i] = leaf[c][k->first[i]];
	}
	b->n = nb;
	for (i = 0; i < nb; i++) {
		b->rep[i] = i;
		b->count[i] = 0;
	}
	for (i = 0; i < n; i++)
		b->count[k->rowcls[i]]++;
	if (k->nsens > 0) {
		memset(b->hist, 0, (size_t)nb * k->nsens * sizeof(uint32_t));
		for (i = 0; i < n; i++)
			if (k->sens[i] != UINT32_MAX)
				b->hist[(size_t)k->rowcls[i] * k->nsens +
				    k->sens[i]]++;
	}
	return 0;
}

/* }====== */

/* {====== pair bounds */

/*
 * Two QIs' values together: the rows of every pair of codes, at every
 * pair of levels. A pair rarer than k puts its rows in classes smaller
 * than k at every node that has those two levels, whatever the others:
 * the rows in rare pairs are a lower bound on what such a node must
 * suppress, as the rows in rare values of one QI are, and a much closer
 * one (on Adult with k = 5 it decides most of the lattice before any
 * node is evaluated). Pairs whose tables would be large are left out:
 * the bound only gets weaker.
 */
#define PAIR_CELLS	16384		/* per pair: leaf pairs, level pairs */
#define PAIR_TOTAL	(1 << 20)	/* level pairs of all pairs */

static void
pairs_free(struct kanon *k)
{
	int i;

	for (i = 0; i < k->npairs; i++) {
		free(k->pairs[i].cnt);
		free(k->pairs[i].rare);
	}
	free(k->pairs);
	k->pairs = NULL;
	k->npairs = 0;
}

/* Cells of QI c's codes at all levels. */
static size_t
cells_of(const struct kcol *q)
{
	size_t n = 0;
	int l;

	for (l = 0; l < q->nlevels; l++)
		n += q->lab[l].n;
	return n;
}

/*
 * The level tables of pair pr from leaf, rows per leaf pair (a's leaf
 * times b's leaves plus b's leaf).
 */
static void
pair_fill(const struct kanon *k, struct pair *pr, const uint32_t *leaf)
{
	const struct kcol *qa = &k->q[pr->a], *qb = &k->q[pr->b];
	uint32_t ia, ib, v, nb, *cell;
	int la, lb;

	cell = pr->cnt;
	for (la = 0; la < qa->nlevels; la++)
		for (lb = 0; lb < qb->nlevels; lb++) {
			nb = qb->lab[lb].n;
			for (ia = 0; ia < qa->nleaf; ia++)
				for (ib = 0; ib < qb->nleaf; ib++)
					if ((v = leaf[ia * qb->nleaf + ib]) > 0)
						cell[qa->map[la][ia] * nb +
						    qb->map[lb][ib]] += v;
			cell += (size_t)qa->lab[la].n * nb;
		}
}

/* Builds the pair tables from the base classes. Returns 0 or -1. */
static int
pairs_build(struct kanon *k)
{
	const struct classes *base = &k->base;
	uint32_t *leaf = NULL, i;
	size_t ncell, nleaf;
	size_t total = 0;
	struct pair *pr;
	int a, b, rv = -1;

	if ((k->pairs = calloc((size_t)k->nq * (size_t)k->nq / 2 + 1,
	    sizeof(*k->pairs))) == NULL ||
	    (leaf = calloc(PAIR_CELLS, sizeof(*leaf))) == NULL)
		goto out;
	for (a = 0; a < k->nq; a++)
		for (b = a + 1; b < k->nq; b++) {
			nleaf = (size_t)k->q[a].nleaf * k->q[b].nleaf;
			ncell = cells_of(&k->q[a]) * cells_of(&k->q[b]);
			if (nleaf > PAIR_CELLS || ncell > PAIR_CELLS ||
			    total + ncell > PAIR_TOTAL)
				continue;
			total += ncell;
			pr = &k->pairs[k->npairs];
			pr->a = a;
			pr->b = b;
			if ((pr->cnt = calloc(ncell, sizeof(*pr->cnt))) == NULL ||
			    (pr->rare = calloc((size_t)k->q[a].nlevels *
			    k->q[b].nlevels, sizeof(*pr->rare))) == NULL) {
				free(pr->cnt);
				goto out;
			}
			k->npairs++;
			memset(leaf, 0, nleaf * sizeof(*leaf));
			for (i = 0; i < base->n; i++)
				leaf[k->bcode[a][i] * k->q[b].nleaf +
				    k->bcode[b][i]] += base->count[i];
			pair_fill(k, pr, leaf);
		}
	rv = 0;
 out:
	if (rv != 0)
		pairs_free(k);
	free(leaf);
	return rv;
}

/* The rows in values and pairs rarer than minc, per level (pair). */
static void
rare_count(struct kanon *k, uint32_t minc)
{
	const struct kcol *qa, *qb;
	const uint32_t *cell;
	struct pair *pr;
	uint32_t code, n, j;
	int c, l, la, lb, i;

	for (c = 0; c < k->nq; c++)
		for (l = 0; l < k->q[c].nlevels; l++) {
			k->q[c].rare[l] = 0;
			for (code = 0; code < k->q[c].lab[l].n; code++)
				if (k->q[c].f[l][code] < minc)
					k->q[c].rare[l] += k->q[c].f[l][code];
		}
	for (i = 0; i < k->npairs; i++) {
		pr = &k->pairs[i];
		qa = &k->q[pr->a];
		qb = &k->q[pr->b];
		cell = pr->cnt;
		for (la = 0; la < qa->nlevels; la++)
			for (lb = 0; lb < qb->nlevels; lb++) {
				n = qa->lab[la].n * qb->lab[lb].n;
				pr->rare[la * qb->nlevels + lb] = 0;
				for (j = 0; j < n; j++)
					if (cell[j] < minc)
						pr->rare[la * qb->nlevels + lb] +=
						    cell[j];
				cell += n;
			}
	}
}

/*
 * Whether the rare values (and pairs, if pairs) at lv alone exceed
 * maxsupp. If so, box: the levels below which every node is as
 * infeasible (lv at the QIs that decided, the top elsewhere).
 */
static int
rare_exceeds(const struct kanon *k, const int *lv, double maxsupp,
    int pairs, int *box)
{
	const struct pair *pr = NULL;
	int c, d, i;

	for (d = 0; d < k->nq; d++)
		if ((double)k->q[d].rare[lv[d]] > maxsupp)
			break;
	if (d == k->nq) {
		if (!pairs)
			return 0;
		for (i = 0; i < k->npairs; i++) {
			pr = &k->pairs[i];
			if ((double)pr->rare[lv[pr->a] * k->q[pr->b].nlevels +
			    lv[pr->b]] > maxsupp)
				break;
		}
		if (i == k->npairs)
			return 0;
	}
	for (c = 0; c < k->nq; c++)
		box[c] = k->q[c].nlevels - 1;
	if (d < k->nq)
		box[d] = lv[d];
	else {
		box[pr->a] = lv[pr->a];
		box[pr->b] = lv[pr->b];
	}
	return 1;
}

/* }====== */

/* {====== privacy models per class */

static int
cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y) - (x > y);
}

static int
class_ok(const struct kanon *k, const struct kanon_params *p,
    const struct classes *cl, uint32_t i)
{
	const uint32_t *h;
	uint32_t s, distinct = 0, tmp[256];
	double tot = 0, ent = 0, pr, d, cum;

	if (cl->count[i] < p->k)
		return 0;
	if (k->nsens == 0)
		return 1;
	h = cl->hist + (size_t)i * k->nsens;
	for (s = 0; s < k->nsens; s++) {
		distinct += h[s] > 0;
		tot += h[s];
	}
	if (p->ldiv == KANON_L_DISTINCT && distinct < p->l)
		return 0;
	if (p->ldiv == KANON_L_ENTROPY) {
		for (s = 0; s < k->nsens; s++)
			if (h[s] > 0) {
				pr = h[s] / tot;
				ent -= pr * log(pr);
			}
		if (ent < log(p->l) - 1e-12)
			return 0;
	}
	if (p->ldiv == KANON_L_RECURSIVE) {
		double rest = 0;
		uint32_t li = (uint32_t)p->l;

		if (k->nsens > 256 || distinct < li)
			return 0;
		memcpy(tmp, h, k->nsens * sizeof(uint32_t));
		qsort(tmp, k->nsens, sizeof(uint32_t), cmp_u32_desc);
		for (s = li - 1; s < k->nsens; s++)
			rest += tmp[s];
		if (!((double)tmp[0] < p->c * rest))
			return 0;
	}
	if (p->t > 0) {
		/* earth mover's distance to the global distribution */
		d = cum = 0;
		for (s = 0; s < k->nsens; s++) {
			pr = tot > 0 ? h[s] / tot : 0;
			if (k->sordered) {
				cum += pr - k->sglob[s];
				d += fabs(cum);
			} else
				d += fabs(pr - k->sglob[s]) / 2;
		}
		if (k->sordered && k->nsens > 1)
			d /= (double)(k->nsens - 1);
		if (d > p->t + 1e-12)
			return 0;
	}
	return 1;
}

/* }====== */

/* Feasibility and loss of the classes of node lv. */
static void
judge(const struct kanon *k, const struct kanon_params *p, const int *lv,
    const struct classes *cl, struct kanon_result *r)
{
	uint64_t supp = 0, kept = 0, minc = UINT64_MAX, uniq = 0;
	double ent, lm = 0, risk = 0;
	uint32_t i;
	int c, b;

	memset(r->hist, 0, sizeof(r->hist));
	for (i = 0; i < cl->n; i++) {
		if (!class_ok(k, p, cl, i)) {
			supp += cl->count[i];
			continue;
		}
		kept += cl->count[i];
		if (cl->count[i] < minc)
			minc = cl->count[i];
		uniq += cl->count[i] == 1;
		risk += 1;	/* sum over records of 1/size */
		b = cl->count[i] >= 100 ? 7 : cl->count[i] >= 50 ? 6 :
		    cl->count[i] >= 20 ? 5 : cl->count[i] >= 10 ? 4 :
		    cl->count[i] >= 5 ? 3 : cl->count[i] >= 3 ? 2 :
		    cl->count[i] >= 2 ? 1 : 0;
		r->hist[b] += cl->count[i];
	}
	/* the loss is separable (see the top of the file) */
	for (ent = -k->kconst, c = 0; c < k->nq; c++) {
		ent += k->q[c].lossl[lv[c]];
		lm += k->q[c].lm[lv[c]];
	}
	/* suppressed records count as fully generalized in LM too */
	r->suppressed = supp;
	r->records = k->nrows;
	r->classes = cl->n;
	r->entropy_loss = ent;
	r->lm_loss = lm / ((double)k->nrows * k->nq);
	r->loss = p->metric == KANON_M_LOSS ? r->lm_loss : ent;
	r->found = (double)supp <= floor(p->limit * (double)k->nrows + 1e-9);
	r->min_class = minc == UINT64_MAX ? 0 : minc;
	r->uniques_after = uniq;
	r->risk_max = minc == UINT64_MAX ? 0 : 1.0 / (double)minc;
	r->risk_avg = kept > 0 ? risk / (double)kept : 0;
	r->risk_share = kept > 0 ? (double)(r->hist[0] + r->hist[1] +
	    r->hist[2]) / (double)kept : 0;	/* risk > 0.2: classes < 5 */
}

struct kanon *
kanon_new(const struct table *t, const struct schema *s,
    struct veil_err *err)
{
	struct kanon *k;
	size_t i;
	int c, bits = 0;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "anonymize: out of memory");
		return NULL;
	}
	k->t = t;
	k->nrows = table_nrows(t);
	k->scol = -1;
	if (k->nrows >= UINT32_MAX) {
		veil_seterr(err, VEIL_E_LIMIT, "anonymize: too many rows");
		goto fail;
	}
	for (i = 0; i < s->ncols; i++) {
		if (s->cols[i].role != VEIL_R_QUASI)
			continue;
		if (k->nq == KANON_MAX_QI) {
			veil_seterr(err, VEIL_E_LIMIT, "anonymize: more than %d "
			    "quasi-identifiers", KANON_MAX_QI);
			goto fail;
		}
		if (build_col(k, s, (int)i, &k->q[k->nq], err) != 0)
			goto fail;
		k->nq++;
	}
	if (k->nq == 0) {
		veil_seterr(err, VEIL_E_SCHEMA, "anonymize: the schema has no "
		    "quasi-identifiers");
		goto fail;
	}
	for (c = 0; c < k->nq; c++) {
		bits += bits_for(k->q[c].lab[0].n);
		k->kconst += k->q[c].lossl[0];
	}
	if (bits > 128) {
		veil_seterr(err, VEIL_E_LIMIT, "anonymize: the quasi-identifiers "
		    "have too many distinct values together (%d bits)", bits);
		goto fail;
	}
	return k;
 fail:
	kanon_free(k);
	return NULL;
}

void
kanon_free(struct kanon *k)
{
	int c, l, i;

	if (k == NULL)
		return;
	for (c = 0; c < k->nq; c++) {
		free(k->q[c].leaf);
		free(k->q[c].fleaf);
		for (l = 0; l < k->q[c].nlevels; l++) {
			strtab_free(&k->q[c].lab[l]);
			free(k->q[c].map[l]);
			free(k->q[c].logf[l]);
			free(k->q[c].f[l]);
		}
	}
	for (i = 0; i < CACHE; i++)
		classes_free(&k->cache[i].cl);
	classes_free(&k->base);
	classes_free(&k->last);
	for (c = 0; c < k->nq; c++)
		free(k->bcode[c]);
	free(k->rowcls);
	free(k->keys);
	free(k->ids);
	free(k->first);
	free(k->ht);
	free(k->flat);
	pairs_free(k);
	free(k->sens);
	free(k->sglob);
	free(k);
}

/* The sensitive attribute of p (for l-diversity or t-closeness). */
static int
prepare_sensitive(struct kanon *k, const struct kanon_params *p,
    struct veil_err *err)
{
	const struct table_colview *c;
	struct strtab vals;
	int col = p->ldiv != KANON_L_NONE ? p->ldiv_col : p->t > 0 ?
	    p->t_col : -1;
	uint64_t r;
	uint32_t i, code, *order = NULL;
	char buf[64];
	const char *s;
	size_t n;
	double *num = NULL;

	if (col == k->scol && (col < 0 || k->sens != NULL))
		return 0;
	free(k->sens);
	free(k->sglob);
	k->sens = NULL;
	k->sglob = NULL;
	k->nsens = 0;
	k->scol = col;
	classes_free(&k->base);
	classes_free(&k->last);	/* its histograms are per value */
	for (i = 0; i < CACHE; i++) {
		classes_free(&k->cache[i].cl);
		k->cache[i].used = 0;
	}
	if (col < 0)
		return 0;
	c = table_column(k->t, (unsigned)col);
	memset(&vals, 0, sizeof(vals));
	if ((k->sens = calloc(k->nrows + 1, sizeof(uint32_t))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	for (r = 0; r < k->nrows; r++) {
		if (table_isnull(c, r)) {
			k->sens[r] = UINT32_MAX;
			continue;
		}
		label_of(c, r, buf, sizeof(buf), &s, &n);
		if (strtab_add(&vals, s, n, &k->sens[r]) != 0) {
			strtab_free(&vals);
			return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		}
	}
	k->nsens = vals.n;
	k->sordered = c->type == VEIL_T_INT || c->type == VEIL_T_FLOAT ||
	    c->type == VEIL_T_DATE;
	if (k->nsens > 4096) {
		strtab_free(&vals);
		return veil_seterr(err, VEIL_E_LIMIT, "anonymize: the sensitive "
		    "column %s has more than 4096 values", c->name);
	}
	/* numbers: codes in value order, for the ordered distance */
	if (k->sordered && k->nsens > 0) {
		if ((num = calloc(k->nsens, sizeof(double))) == NULL ||
		    (order = calloc(k->nsens, sizeof(uint32_t))) == NULL)
			goto nomem;
		for (i = 0; i < k->nsens; i++)
			num[i] = strtod(vals.s[i], NULL);
		for (i = 0; i < k->nsens; i++) {	/* rank */
			uint32_t j, rank = 0;

			for (j = 0; j < k->nsens; j++)
				rank += num[j] < num[i] || (num[j] == num[i] &&
				    j < i);
			order[i] = rank;
		}
		for (r = 0; r < k->nrows; r++)
			if (k->sens[r] != UINT32_MAX)
				k->sens[r] = order[k->sens[r]];
	}
	if ((k->sglob = calloc(k->nsens + 1, sizeof(double))) == NULL)
		goto nomem;
	for (r = 0, n = 0; r < k->nrows; r++)
		if ((code = k->sens[r]) != UINT32_MAX) {
			k->sglob[code]++;
			n++;
		}
	for (i = 0; i < k->nsens && n > 0; i++)
		k->sglob[i] /= (double)n;
	free(num);
	free(order);
	strtab_free(&vals);
	return 0;
 nomem:
	free(num);
	free(order);
	strtab_free(&vals);
	return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
}

/*
 * A cache entry for nout classes: a free one, else the least recently
 * used but keep (the parent being read); older entries are dropped while
 * the cache would hold more than its budget.
 */
static struct cache *
cache_slot(struct kanon *k, struct cache *slot, const struct cache *keep,
    uint32_t nout)
{
	size_t cb = class_bytes(k), held;
	struct cache *e, *old;
	int i;

	for (;;) {
		held = (size_t)nout * cb;
		old = NULL;
		for (i = 0; i < CACHE; i++) {
			e = &k->cache[i];
			if (e == slot || !e->used)
				continue;
			held += (size_t)e->cl.cap * cb;
			if (e != keep && (old == NULL || e->stamp < old->stamp))
				old = e;
		}
		if (slot == NULL)
			slot = old;
		else if (held > k->budget && old != NULL) {
			classes_free(&old->cl);
			old->used = 0;
		} else
			break;
	}
	assert(slot != NULL);	/* CACHE > 1: one entry is not keep */
	slot->used = 0;
	if (classes_reserve(k, &slot->cl, nout + 1) != 0)
		return NULL;
	return slot;
}

/*
 * Classes of node lv: rolled up from the cached node it dominates that
 * has the fewest classes. Being a parent counts as a use: the nodes low
 * in the lattice that everything rolls up from stay.
 */
static struct classes *
classes_of(struct kanon *k, const int *lv, uint64_t node, uint64_t *evals)
{
	struct cache *best = NULL, *slot = NULL, *e;
	const struct classes *from = &k->base;
	uint32_t nout;
	int i, c;

	for (i = 0; i < CACHE; i++) {
		e = &k->cache[i];
		if (!e->used) {
			if (slot == NULL)
				slot = e;
			continue;
		}
		if (e->node == node) {
			e->stamp = ++k->stamp;
			return &e->cl;
		}
		for (c = 0; c < k->nq && e->lv[c] <= lv[c]; c++)
			;
		if (c == k->nq && (best == NULL || e->cl.n < best->cl.n))
			best = e;
	}
	if (best != NULL) {
		best->stamp = ++k->stamp;
		from = &best->cl;
	}
	if ((nout = roll_keys(k, from, lv)) == UINT32_MAX ||
	    (slot = cache_slot(k, slot, best, nout)) == NULL)
		return NULL;
	roll_sum(k, from, &slot->cl, nout);
	slot->used = 1;
	slot->node = node;
	for (c = 0; c < k->nq; c++)
		slot->lv[c] = (uint8_t)lv[c];
	slot->stamp = ++k->stamp;
	(*evals)++;
	return &slot->cl;
}

static int
ensure_base(struct kanon *k, const struct kanon_params *p,
    struct veil_err *err)
{
	if (prepare_sensitive(k, p, err) != 0)
		return -1;
	if (k->base.n > 0)
		return 0;
	if (build_base(k) != 0)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	/* as much as 32 copies of the base, or CACHE_MIN */
	k->budget = 32 * ((size_t)k->base.n + 1) * class_bytes(k);
	if (k->budget < CACHE_MIN)
		k->budget = CACHE_MIN;
	return 0;
}

static void
levels_of(const struct kanon *k, uint64_t node, int *lv)
{
	int c;

	for (c = k->nq - 1; c >= 0; c--) {
		lv[c] = (int)(node % (uint64_t)k->q[c].nlevels);
		node /= (uint64_t)k->q[c].nlevels;
	}
}

/* Sorts as the loss: non-negative doubles sort as their bits. */
static uint64_t
loss_bits(double x)
{
	uint64_t u;

	if (x == 0)
		x = 0;		/* -0 ties with 0 */
	memcpy(&u, &x, sizeof(u));
	return u >> 63 ? ~u : u | (uint64_t)1 << 63;
}

/*
 * Every node, least loss first, ties by height, then by number (the
 * level vector in column order): a counting sort by height, then a
 * stable radix sort by the loss. order: nodes entries. Returns 0 or -1.
 */
static int
loss_order(const struct kanon *k, const struct kanon_params *p,
    uint64_t nodes, uint32_t *order)
{
	uint64_t *key = NULL, n;
	uint32_t hcnt[KANON_MAX_QI * MAX_LEVELS + 1], cnt[256];
	uint32_t *tmp = NULL, *src, *dst, *sw, sum, i, d;
	uint16_t *height = NULL;
	int lv[KANON_MAX_QI], c, h, pass, rv = -1;
	double lb;

	if ((key = reallocarray(NULL, nodes, sizeof(*key))) == NULL ||
	    (tmp = reallocarray(NULL, nodes, sizeof(*tmp))) == NULL ||
	    (height = reallocarray(NULL, nodes, sizeof(*height))) == NULL)
		goto out;
	memset(lv, 0, sizeof(lv));
	memset(hcnt, 0, sizeof(hcnt));
	for (n = 0; n < nodes; n++) {
		for (h = 0, lb = 0, c = 0; c < k->nq; c++) {
			h += lv[c];
			lb += p->metric == KANON_M_LOSS ? k->q[c].lm[lv[c]] :
			    k->q[c].lossl[lv[c]];
		}
		key[n] = loss_bits(lb);
		height[n] = (uint16_t)h;
		hcnt[h]++;
		for (c = k->nq - 1; c >= 0 && ++lv[c] == k->q[c].nlevels;
		    c--)
			lv[c] = 0;	/* the next node number */
	}
	/* by height, stable in node number */
	for (sum = 0, h = 0; h < (int)(sizeof(hcnt) / sizeof(hcnt[0])); h++) {
		i = hcnt[h];
		hcnt[h] = sum;
		sum += i;
	}
	for (n = 0; n < nodes; n++)
		tmp[hcnt[height[n]]++] = (uint32_t)n;
	src = tmp;
	dst = order;
	for (pass = 0; pass < 8; pass++) {
		memset(cnt, 0, sizeof(cnt));
		for (i = 0; i < nodes; i++)
			cnt[(key[src[i]] >> (8 * pass)) & 0xff]++;
		if (cnt[(key[src[0]] >> (8 * pass)) & 0xff] == nodes)
			continue;	/* one digit: nothing to move */
		for (sum = 0, d = 0; d < 256; d++) {
			i = cnt[d];
			cnt[d] = sum;
			sum += i;
		}
		for (i = 0; i < nodes; i++)
			dst[cnt[(key[src[i]] >> (8 * pass)) & 0xff]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != order)
		memcpy(order, src, nodes * sizeof(*order));
	rv = 0;
 out:
	free(key);
	free(tmp);
	free(height);
	return rv;
}

static void
fill_result(const struct kanon *k, const int *lv, struct kanon_result *r,
    uint64_t nodes, uint64_t evals)
{
	int c;

	r->nqi = k->nq;
	for (c = 0; c < k->nq; c++) {
		r->qi[c] = k->q[c].tcol;
		r->levels[c] = lv[c];
		r->top[c] = k->q[c].nlevels - 1;
	}
	r->nodes = nodes;
	r->evaluated = evals;
	r->uniques_before = 0;
	{
		uint32_t i;

		for (i = 0; i < k->base.n; i++)
			r->uniques_before += k->base.count[i] == 1;
	}
}

/*
 * What monotonicity has decided, per node: 0 unknown, 1 feasible (it
 * dominates a feasible node), 2 infeasible (dominated by an infeasible
 * one). Marking a node marks its whole box of successors or predecessors.
 */
struct tags {
	uint8_t		*t;
};

/*
 * Marks every node in the box [lo, hi] (levels) with v, unless set: an
 * odometer over the levels that moves the node number by each QI's
 * stride, with the QI of the longest side as its fastest wheel.
 */
static void
mark_box(const struct kanon *k, uint8_t *t, const int *lo, const int *hi,
    uint8_t v)
{
	uint64_t stride[KANON_MAX_QI], s = 1, node = 0, in, end;
	int cur[KANON_MAX_QI], c, fast = k->nq - 1;

	for (c = k->nq - 1; c >= 0; c--) {
		stride[c] = s;
		node += (uint64_t)lo[c] * s;
		s *= (uint64_t)k->q[c].nlevels;
		if (hi[c] - lo[c] > hi[fast] - lo[fast])
			fast = c;
	}
	in = stride[fast];
	end = (uint64_t)(hi[fast] - lo[fast]) * in;
	memcpy(cur, lo, sizeof(int) * (size_t)k->nq);
	for (;;) {
		for (s = node; s <= node + end; s += in)
			if (t[s] == 0)
				t[s] = v;
		for (c = k->nq - 1; c >= 0; c--) {
			if (c == fast)
				continue;
			if (cur[c] < hi[c]) {
				cur[c]++;
				node += stride[c];
				break;
			}
			node -= (uint64_t)(cur[c] - lo[c]) * stride[c];
			cur[c] = lo[c];
		}
		if (c < 0)
			return;
	}
}

static int
tags_add(const struct kanon *k, struct tags *t, int feasible, const int *lv)
{
	int zero[KANON_MAX_QI], top[KANON_MAX_QI], c;

	for (c = 0; c < k->nq; c++) {
		zero[c] = 0;
		top[c] = k->q[c].nlevels - 1;
	}
	if (feasible)
		mark_box(k, t->t, lv, top, 1);
	else
		mark_box(k, t->t, zero, lv, 2);
	return 0;
}

static uint64_t
node_of(const struct kanon *k, const int *lv)
{
	uint64_t node = 0;
	int c;

	for (c = 0; c < k->nq; c++)
		node = node * (uint64_t)k->q[c].nlevels + (uint64_t)lv[c];
	return node;
}

static int
tags_know(const struct kanon *k, const struct tags *t, const int *lv)
{
	return t->t[node_of(k, lv)];
}

/*
 * Evaluates lv; returns 1 feasible, 0 not, -1 out of memory. Only the
 * verdict: it stops at the class that exceeds the suppression limit
 * (judge() says the rest, for the node chosen).
 */
static int
feasible(struct kanon *k, const struct kanon_params *p, const int *lv,
    uint64_t *evals)
{
	struct classes *cl;
	double maxsupp = floor(p->limit * (double)k->nrows + 1e-9);
	uint64_t supp = 0;
	uint32_t i;

	if ((cl = classes_of(k, lv, node_of(k, lv), evals)) == NULL)
		return -1;
	for (i = 0; i < cl->n; i++)
		if (!class_ok(k, p, cl, i) &&
		    (double)(supp += cl->count[i]) > maxsupp)
			return 0;
	return 1;
}

/*
 * From an infeasible node, climbs a chain to the top (each step raising
 * the level whose loss grows least) and binary-searches the boundary on
 * it: the last infeasible node tags everything below it, the first
 * feasible one everything above. Predictive tagging after Flash
 * (Kohlmayer et al. 2012), without its path heuristics.
 */
static int
chain_search(struct kanon *k, const struct kanon_params *p, const int *from,
    struct tags *t, uint64_t *evals)
{
	int chain[256][KANON_MAX_QI], n = 0, c, bc, lo, hi, mid, f;
	double d, bd;

	memcpy(chain[n++], from, sizeof(int) * (size_t)k->nq);
	for (;;) {
		bc = -1;
		bd = INFINITY;
		for (c = 0; c < k->nq; c++) {
			if (chain[n - 1][c] + 1 >= k->q[c].nlevels)
				continue;
			d = p->metric == KANON_M_LOSS ?
			    k->q[c].lm[chain[n - 1][c] + 1] -
			    k->q[c].lm[chain[n - 1][c]] :
			    k->q[c].lossl[chain[n - 1][c] + 1] -
			    k->q[c].lossl[chain[n - 1][c]];
			if (d < bd) {
				bd = d;
				bc = c;
			}
		}
		if (bc < 0 || n == 256)
			break;
		memcpy(chain[n], chain[n - 1], sizeof(int) * (size_t)k->nq);
		chain[n++][bc]++;
	}
	/* chain[0] is infeasible; find the first feasible index */
	lo = 0;
	hi = n;		/* n: none feasible on the chain */
	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if ((f = tags_know(k, t, chain[mid])) == 0) {
			if ((f = feasible(k, p, chain[mid], evals)) < 0)
				return -1;
			f = f ? 1 : 2;
			if (tags_add(k, t, f == 1, chain[mid]) != 0)
				return -1;
		}
		if (f == 1)
			hi = mid;
		else
			lo = mid;
	}
	return 0;
}

int
kanon_search(struct kanon *k, const struct kanon_params *p,
    struct kanon_result *r, struct veil_err *err)
{
	uint32_t *order = NULL;
	struct tags tags;
	struct classes *cl;
	uint64_t nodes = 1, evals = 0, i;
	int lv[KANON_MAX_QI], zero[KANON_MAX_QI], box[KANON_MAX_QI];
	int c, found = 0, monotone, heuristic, know, f, rv = 0;
	double maxsupp;

	memset(r, 0, sizeof(*r));
	memset(&tags, 0, sizeof(tags));
	memset(zero, 0, sizeof(zero));
	if (ensure_base(k, p, err) != 0)
		return err != NULL ? err->code : VEIL_E_NOMEM;
	for (c = 0; c < k->nq; c++)
		nodes *= (uint64_t)k->q[c].nlevels;
	if (nodes > 50000000)
		return veil_seterr(err, VEIL_E_LIMIT, "anonymize: %llu "
		    "transformations are too many to search",
		    (unsigned long long)nodes);
	if ((order = reallocarray(NULL, nodes, sizeof(*order))) == NULL ||
	    (tags.t = calloc(nodes, 1)) == NULL ||
	    loss_order(k, p, nodes, order) != 0)
		goto nomem;
	maxsupp = floor(p->limit * (double)k->nrows + 1e-9);
	/* k, l-diversity: monotone; t-closeness is not */
	monotone = p->t <= 0 && !p->brute_force;
	/*
	 * With suppression, entropy and recursive l-diversity are not quite
	 * monotone (a failing class merged into a passing one can make it
	 * fail), so their tags are a heuristic whose outcome depends on the
	 * order of evaluation: they keep the order they always had, without
	 * the pair bounds and their tags.
	 */
	heuristic = monotone && (p->ldiv == KANON_L_ENTROPY ||
	    p->ldiv == KANON_L_RECURSIVE);
	/*
	 * A value (or a pair of two QIs' values) rarer than k at some levels
	 * puts every record that has it in a class smaller than k: a lower
	 * bound on what a node must suppress, known without evaluating it.
	 */
	if (!heuristic && !p->brute_force && k->pairs == NULL &&
	    pairs_build(k) != 0)
		goto nomem;
	rare_count(k, p->k);
	for (i = 0; i < nodes; i++) {
		know = monotone ? tags.t[order[i]] : 0;
		if (know == 2)
			continue;
		levels_of(k, order[i], lv);
		if (know == 0 && !p->brute_force &&
		    rare_exceeds(k, lv, maxsupp, !heuristic, box)) {
			/* infeasible by its values, and so are those below */
			if (monotone && !heuristic)
				mark_box(k, tags.t, zero, box, 2);
			continue;
		}
		if (know == 0) {
			if ((f = feasible(k, p, lv, &evals)) < 0)
				goto nomem;
			if (!f) {
				if (monotone && (tags_add(k, &tags, 0, lv) !=
				    0 || chain_search(k, p, lv, &tags,
				    &evals) != 0))
					goto nomem;
				continue;
			}
		}
		/* the first feasible node in loss order is the optimum */
		if (!found) {
			found = 1;
			if ((cl = classes_of(k, lv, order[i], &evals)) == NULL)
				goto nomem;
			judge(k, p, lv, cl, r);
			fill_result(k, lv, r, nodes, evals);
			r->found = 1;
			if (!p->brute_force)
				break;
		}
	}
	if (!found) {
		r->nodes = nodes;
		r->evaluated = evals;
	}
	r->evaluated = evals;
	goto out;
 nomem:
	rv = veil_seterr(err, VEIL_E_NOMEM, "out of memory");
 out:
	free(order);
	free(tags.t);
	return rv;
}

int
kanon_eval(struct kanon *k, const struct kanon_params *p, const int *levels,
    struct kanon_result *r, struct veil_err *err)
{
	uint64_t node = 0, evals = 0;
	struct classes *cl;
	int c;

	memset(r, 0, sizeof(*r));
	for (c = 0; c < k->nq; c++) {
		if (levels[c] < 0 || levels[c] >= k->q[c].nlevels)
			return veil_seterr(err, VEIL_E_INVALID, "level %d of "
			    "quasi-identifier %d is out of range", levels[c],
			    c + 1);
		node = node * (uint64_t)k->q[c].nlevels + (uint64_t)levels[c];
	}
	if (ensure_base(k, p, err) != 0)
		return err != NULL ? err->code : VEIL_E_NOMEM;
	if ((cl = classes_of(k, levels, node, &evals)) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	judge(k, p, levels, cl, r);
	fill_result(k, levels, r, 1, evals);
	return 0;
}

int
kanon_mark(struct kanon *k, const struct kanon_params *p, const int *levels,
    uint8_t *supp, struct veil_err *err)
{
	uint8_t *bad;
	uint32_t i, n;
	uint64_t r;

	if (ensure_base(k, p, err) != 0)
		return err != NULL ? err->code : VEIL_E_NOMEM;
	if ((n = roll_keys(k, &k->base, levels)) == UINT32_MAX ||
	    classes_reserve(k, &k->last, n + 1) != 0 ||
	    (bad = calloc(n + 1, 1)) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "out of memory");
	roll_sum(k, &k->base, &k->last, n);
	for (i = 0; i < n; i++)
		bad[i] = (uint8_t)!class_ok(k, p, &k->last, i);
	/* k->ids still maps base classes to the node's classes */
	for (r = 0; r < k->nrows; r++)
		supp[r] = bad[k->ids[k->rowcls[r]]];
	free(bad);
	return 0;
}

int
kanon_nqi(const struct kanon *k)
{
	return k->nq;
}

int
kanon_qi_column(const struct kanon *k, int i)
{
	return k->q[i].tcol;
}

int
kanon_qi_levels(const struct kanon *k, int i)
{
	return k->q[i].nlevels;
}

const char *
kanon_label(struct kanon *k, int i, int lv, uint64_t row, size_t *lenp)
{
	const struct kcol *q = &k->q[i];
	const char *s = q->lab[lv].s[q->map[lv][q->leaf[row]]];

	*lenp = strlen(s);
	return s;
}

