/*
 * eval.c: evaluating plans and aggregations with C kernels over the
 * mapped columns, and packing the exact partial aggregates for the
 * release engine.
 *
 * A node's selection is a vector of row numbers in unit order (bound.c),
 * computed once and shared by every aggregation over that node. Sums are
 * fixed point: each value is clamped to [lo, hi], scaled to a 2^-k grid
 * (exactly, by ldexp and rounding to nearest) and summed in 128-bit
 * integers, so that the release engine can add integer noise and render
 * the result on the same grid.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "datefmt.h"
#include "frame.h"
#include "rt_int.h"

#define GRID_BINS	256	/* quantile: counts over [lo, hi] */
#define MAX_GROUPS	100000

typedef __int128 i128;

/* {====== selections */

/* What the row-function callbacks fill in. */
struct fargs {
	uint32_t	*out;
	uint32_t	 k;
	struct dcol	*d;
	int		 vals;	/* group_by fn: Lua array of keys */
};


static int
num_cmp(enum wop op, double x, const double *v, int nv)
{
	int i;

	switch (op) {
	case W_EQ:	return x == v[0];
	case W_NE:	return x != v[0];
	case W_LT:	return x < v[0];
	case W_LE:	return x <= v[0];
	case W_GT:	return x > v[0];
	case W_GE:	return x >= v[0];
	default:
		for (i = 0; i < nv; i++)
			if (x == v[i])
				return 1;
		return 0;
	}
}

/* Tight loops for the common numeric cases; one per op. */
#define NUMLOOP(T, CMP) do {						\
	const T *d_ = v->data;						\
	for (i = 0; i < np; i++) {					\
		r = ps != NULL ? ps[i] : i;				\
		x = (double)d_[r];					\
		if ((CMP) && !table_isnull(v, r))			\
			out[k++] = r;					\
	}								\
} while (0)

static uint32_t
where_numeric(const struct table_colview *v, const struct pnode *n,
    const uint32_t *ps, uint32_t np, uint32_t *out)
{
	uint32_t i, r, k = 0;
	double x, y = n->dv[0];

#define ALLOPS(T) do {							\
	switch (n->op) {						\
	case W_EQ: NUMLOOP(T, x == y); break;				\
	case W_NE: NUMLOOP(T, x != y); break;				\
	case W_LT: NUMLOOP(T, x < y); break;				\
	case W_LE: NUMLOOP(T, x <= y); break;				\
	case W_GT: NUMLOOP(T, x > y); break;				\
	case W_GE: NUMLOOP(T, x >= y); break;				\
	default: NUMLOOP(T, num_cmp(W_IN, x, n->dv, n->nv)); break;	\
	}								\
} while (0)
	switch (v->type) {
	case VEIL_T_INT:	ALLOPS(int64_t); break;
	case VEIL_T_FLOAT:	ALLOPS(double); break;
	case VEIL_T_DATE:	ALLOPS(int32_t); break;
	default:		ALLOPS(uint8_t); break;	/* bool */
	}
#undef ALLOPS
	return k;
}

static int
eval_where(struct rt_ctx *c, struct pnode *n, const uint32_t *ps,
    uint32_t np, uint32_t *out, uint32_t *kp)
{
	lua_State *L = c->L;
	const struct table_colview *v;
	const char *s, *q;
	size_t sl, ql;
	uint32_t i, r, k = 0;
	struct dcol *d;
	int j, m, vals;

	if (!n->col.derived) {
		v = rt_colview(c, n->col.id);
		if (v->type == VEIL_T_CATEGORY) {
			const uint32_t *code = v->data;

			for (i = 0; i < np; i++) {
				r = ps != NULL ? ps[i] : i;
				if (!table_isnull(v, r) && n->mask[code[r]])
					out[k++] = r;
			}
			*kp = k;
			return 0;
		}
		if (v->type != VEIL_T_STRING) {
			*kp = where_numeric(v, n, ps, np, out);
			return 0;
		}
	}
	/* strings and derived columns: compare with the Lua values */
	lua_rawgeti(L, LUA_REGISTRYINDEX, n->vals_ref);
	vals = lua_gettop(L);
	for (i = 0; i < np; i++) {
		r = ps != NULL ? ps[i] : i;
		m = 0;
		if (n->col.derived) {
			d = c->dcols[n->col.id];
			if (d->tag[r] == D_MISSING)
				continue;
			for (j = 1; j <= n->nv && !m; j++) {
				int lt = lua_rawgeti(L, vals, j);

				if (d->tag[r] == D_NUM && lt == LUA_TNUMBER)
					m = num_cmp(n->op == W_IN ? W_EQ : n->op,
					    d->num[r], &n->dv[j - 1], 1);
				else if (d->tag[r] == D_BOOL &&
				    lt == LUA_TBOOLEAN)
					m = rt_holds(n->op, (d->num[r] != 0) -
					    lua_toboolean(L, -1));
				else if (d->tag[r] == D_STR &&
				    lt == LUA_TSTRING) {
					q = lua_tolstring(L, -1, &ql);
					lua_rawgeti(L, LUA_REGISTRYINDEX,
					    d->strs_ref);
					lua_rawgeti(L, -1,
					    (lua_Integer)d->num[r] + 1);
					s = lua_tolstring(L, -1, &sl);
					m = rt_holds(n->op,
					    rt_cmp_bytes(s, sl, q, ql));
					lua_pop(L, 2);
				} else if (n->op == W_NE)
					m = 1;	/* different types differ */
				lua_pop(L, 1);
			}
		} else {
			v = table_column(c->t, (unsigned)n->col.id);
			if (table_isnull(v, r))
				continue;
			s = table_str(v, r, &sl);
			for (j = 1; j <= n->nv && !m; j++) {
				lua_rawgeti(L, vals, j);
				q = lua_tolstring(L, -1, &ql);
				m = rt_holds(n->op, rt_cmp_bytes(s, sl, q, ql));
				lua_pop(L, 1);
			}
		}
		if (m)
			out[k++] = r;
	}
	lua_pop(L, 1);
	*kp = k;
	return 0;
}

/* Stores the value at the stack top as row's derived value; pops it. */
static void
store_derived(struct rt_ctx *c, struct dcol *d, uint32_t row)
{
	lua_State *L = c->L;

	switch (lua_type(L, -1)) {
	case LUA_TNUMBER:
		d->tag[row] = D_NUM;
		d->num[row] = lua_tonumber(L, -1);
		if (!isfinite(d->num[row]))
			d->tag[row] = D_MISSING;
		break;
	case LUA_TBOOLEAN:
		d->tag[row] = D_BOOL;
		d->num[row] = lua_toboolean(L, -1);
		break;
	case LUA_TSTRING:
		lua_rawgeti(L, LUA_REGISTRYINDEX, d->codes_ref);
		lua_pushvalue(L, -2);
		if (lua_rawget(L, -2) == LUA_TNUMBER)
			d->num[row] = (double)lua_tointeger(L, -1);
		else {
			lua_rawgeti(L, LUA_REGISTRYINDEX, d->strs_ref);
			lua_pushvalue(L, -4);
			lua_rawseti(L, -2, (lua_Integer)d->nstrs + 1);
			lua_pop(L, 1);
			lua_pushvalue(L, -3);
			lua_pushinteger(L, d->nstrs);
			lua_rawset(L, -4);
			d->num[row] = d->nstrs++;
		}
		lua_pop(L, 2);
		d->tag[row] = D_STR;
		break;
	case LUA_TNIL:
		d->tag[row] = D_MISSING;
		break;
	default:	/* tables, functions, rows: not values */
		d->tag[row] = D_MISSING;
		c->stats->row_errors++;
		break;
	}
	lua_pop(L, 1);
}

/* The same for a compiled row function's result. */
static void
store_derived_val(struct dcol *d, uint32_t row, const struct rowval *v)
{
	switch (v->type) {
	case LUA_TNUMBER:
		d->num[row] = v->isint ? (double)v->i : v->n;
		d->tag[row] = isfinite(d->num[row]) ? D_NUM : D_MISSING;
		break;
	case LUA_TBOOLEAN:
		d->tag[row] = D_BOOL;
		d->num[row] = v->i != 0;
		break;
	default:
		d->tag[row] = D_MISSING;
	}
}

static void
filter_cb(struct rt_ctx *c, uint32_t i, uint32_t row, int ok,
    const struct rowval *v, void *arg)
{
	struct fargs *fa = arg;

	(void)i;
	if (!ok)
		return;		/* failed: false */
	if (v != NULL) {
		if (v->type != LUA_TNIL &&
		    (v->type != LUA_TBOOLEAN || v->i != 0))
			fa->out[fa->k++] = row;
		return;
	}
	if (lua_toboolean(c->L, -1))
		fa->out[fa->k++] = row;
	lua_pop(c->L, 1);
}

/* A derive keeps every row: its selection is its parent's. */
static void
derive_cb(struct rt_ctx *c, uint32_t i, uint32_t row, int ok,
    const struct rowval *v, void *arg)
{
	struct fargs *fa = arg;

	(void)i;
	if (!ok)
		return;		/* failed: missing */
	if (v != NULL)
		store_derived_val(fa->d, row, v);
	else
		store_derived(c, fa->d, row);
}

int
rt_eval_node(struct rt_ctx *c, struct pnode *n)
{
	struct fargs fa;
	uint32_t *out, k = 0;
	int rv;

	if (n->done)
		return 0;
	if (n->kind == P_SOURCE) {	/* shared, not copied */
		n->sel = c->base;
		n->nsel = c->nbase;
		n->done = 1;
		return 0;
	}
	if (rt_eval_node(c, n->parent) != 0)
		return -1;
	if (n->kind == P_GROUP) {
		n->sel = n->parent->sel;
		n->nsel = n->parent->nsel;
		n->done = 1;
		return 0;
	}
	if (n->kind == P_DERIVE) {
		fa.d = n->dcol;
		if (rowfn_each(c, &n->fn, n->parent->sel, n->parent->nsel,
		    derive_cb, &fa) != 0)
			return -1;
		n->sel = n->parent->sel;	/* kept alive by n */
		n->nsel = n->parent->nsel;
		n->done = 1;
		return 0;
	}
	if ((out = malloc(((size_t)n->parent->nsel + 1) * sizeof(*out))) ==
	    NULL)
		return -1;
	switch (n->kind) {
	case P_WHERE:
		eval_where(c, n, n->parent->sel, n->parent->nsel, out, &k);
		break;
	case P_FILTER:
		fa.out = out;
		fa.k = 0;
		rv = rowfn_each(c, &n->fn, n->parent->sel, n->parent->nsel,
		    filter_cb, &fa);
		if (rv != 0) {
			free(out);
			return -1;
		}
		k = fa.k;
		break;
	default:
		break;
	}
	n->sel = out;
	n->own_sel = 1;
	n->nsel = k;
	n->done = 1;
	return 0;
}

/* }====== */

/* {====== groups */

static void groupfn_cb(struct rt_ctx *, uint32_t, uint32_t, int,
    const struct rowval *, void *);

struct gstate {
	uint32_t	 ngroups;
	uint32_t	*gid;		/* per selection position; UINT32_MAX: out */
	int		 keys_ref;	/* Lua: gid + 1 -> key (nil: null) */
	int		 has_null;
	uint32_t	 null_gid;
	int		 borrowed;	/* gid points into a column */
};

/* Dynamic keys through a Lua table key -> gid. */
static uint32_t
key_gid(struct rt_ctx *c, struct gstate *g, int map, int keys)
{
	lua_State *L = c->L;
	uint32_t id;

	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		if (!g->has_null) {
			g->has_null = 1;
			g->null_gid = g->ngroups++;
		}
		return g->null_gid;
	}
	lua_pushvalue(L, -1);
	if (lua_rawget(L, map) == LUA_TNUMBER) {
		id = (uint32_t)lua_tointeger(L, -1);
		lua_pop(L, 2);
		return id;
	}
	lua_pop(L, 1);
	if (g->ngroups >= MAX_GROUPS) {
		lua_pop(L, 1);
		return UINT32_MAX - 1;
	}
	id = g->ngroups++;
	lua_pushvalue(L, -1);
	lua_rawseti(L, keys, (lua_Integer)id + 1);
	lua_pushinteger(L, id);
	lua_rawset(L, map);
	return id;
}

/* group_by(fn): keep each row's key (by position) or mark the row out. */
static void
groupfn_cb(struct rt_ctx *c, uint32_t i, uint32_t row, int ok,
    const struct rowval *v, void *arg)
{
	struct fargs *fa = arg;
	lua_State *L = c->L;
	int t;

	(void)row;
	if (!ok) {
		fa->out[i] = UINT32_MAX;
		return;
	}
	if (v != NULL)
		rowval_push(L, v);
	t = lua_type(L, -1);
	if (t != LUA_TNIL && t != LUA_TNUMBER && t != LUA_TSTRING &&
	    t != LUA_TBOOLEAN) {
		lua_pop(L, 1);		/* not a key */
		c->stats->row_errors++;
		fa->out[i] = UINT32_MAX;
		return;
	}
	if (t == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)) {
		lua_pop(L, 1);		/* NaN is no key: null */
		return;
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, fa->vals);
	lua_insert(L, -2);
	lua_rawseti(L, -2, (lua_Integer)i + 1);
	lua_pop(L, 1);
}

/*
 * Assigns a group to each selected row of node n (a P_GROUP node, or
 * none: one group). Fixed domains (categories, bools) get every key, so
 * that empty groups are reported too.
 *
 * Where every row is selected and none is null, a category column's
 * codes are the group ids themselves, borrowed, not copied. With guarded
 * set (the caller's kernel compares each id with the number of groups
 * before using it: fast_values()) they may still owe their check
 * (table_open_lazy()), which the kernel then makes as it reads them; in
 * any other case the column is checked here first.
 */
static int
make_groups(struct rt_ctx *c, struct pnode *n, struct gstate *g, int guarded,
    int *declp)
{
	lua_State *L = c->L;
	const struct table_colview *v = NULL;
	uint32_t i, r, k;
	int map, keys, rv;

	memset(g, 0, sizeof(*g));
	*declp = 0;
	lua_newtable(L);
	g->keys_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (n->kind != P_GROUP) {	/* one group; gid NULL means 0 */
		g->ngroups = 1;
		return 0;
	}
	if ((g->gid = malloc(((size_t)n->nsel + 1) * sizeof(uint32_t))) ==
	    NULL)
		return -1;
	lua_rawgeti(L, LUA_REGISTRYINDEX, g->keys_ref);
	keys = lua_gettop(L);
	if (!n->has_fn && !n->col.derived)
		v = table_column(c->t, (unsigned)n->col.id);
	if (v != NULL && (v->type == VEIL_T_CATEGORY ||
	    v->type == VEIL_T_BOOL)) {
		k = v->type == VEIL_T_BOOL ? 2 : v->dict_n;
		for (i = 0; i < k; i++) {
			if (v->type == VEIL_T_BOOL)
				lua_pushboolean(L, (int)i);
			else {
				size_t len;
				const char *p = table_dict(v, i, &len);

				lua_pushlstring(L, p, len);
			}
			lua_rawseti(L, keys, (lua_Integer)i + 1);
		}
		g->ngroups = k;
		*declp = v->type == VEIL_T_BOOL ||
		    (v->flags & TABLE_F_DECLARED) != 0;
		if (v->type == VEIL_T_CATEGORY && (!guarded ||
		    v->nulls != NULL || n->sel != NULL))
			v = rt_colview(c, n->col.id);
		if (v->type == VEIL_T_CATEGORY && v->nulls == NULL &&
		    n->sel == NULL) {	/* the codes are the group ids */
			free(g->gid);
			g->gid = (uint32_t *)(uintptr_t)v->data;
			g->borrowed = 1;
			lua_pop(L, 1);
			return 0;
		}
		for (i = 0; i < n->nsel; i++) {
			r = SEL(n, i);
			if (table_isnull(v, r)) {
				if (!g->has_null) {
					g->has_null = 1;
					g->null_gid = g->ngroups++;
				}
				g->gid[i] = g->null_gid;
			} else
				g->gid[i] = v->type == VEIL_T_BOOL ?
				    ((const uint8_t *)v->data)[r] :
				    ((const uint32_t *)v->data)[r];
		}
		lua_pop(L, 1);
		return 0;
	}
	lua_newtable(L);
	map = lua_gettop(L);
	if (n->has_fn) {
		/* First the keys, one call per row; failures marked. */
		struct fargs fa;

		lua_newtable(L);
		fa.vals = luaL_ref(L, LUA_REGISTRYINDEX);
		fa.out = g->gid;
		for (i = 0; i < n->nsel; i++)
			g->gid[i] = 0;
		rv = rowfn_each(c, &n->fn, n->sel, n->nsel, groupfn_cb, &fa);
		lua_rawgeti(L, LUA_REGISTRYINDEX, fa.vals);
		luaL_unref(L, LUA_REGISTRYINDEX, fa.vals);
		fa.vals = lua_gettop(L);
		if (rv != 0) {
			lua_pop(L, 3);
			return -1;
		}
		for (i = 0; i < n->nsel; i++) {
			if (g->gid[i] == UINT32_MAX)
				continue;	/* failed: left out */
			lua_rawgeti(L, fa.vals, (lua_Integer)i + 1);
			if ((g->gid[i] = key_gid(c, g, map, keys)) ==
			    UINT32_MAX - 1) {
				lua_pop(L, 3);
				return -2;
			}
		}
		lua_pop(L, 3);
		return 0;
	}
	for (i = 0; i < n->nsel; i++) {
		r = SEL(n, i);
		rowfn_push_value(c, n->col, r);
		g->gid[i] = key_gid(c, g, map, keys);
		if (g->gid[i] == UINT32_MAX - 1) {
			lua_pop(L, 2);
			return -2;
		}
	}
	lua_pop(L, 2);
	return 0;
}

/* }====== */

/* {====== kernels */

struct gacc {
	uint64_t	 rows, units, n;
	i128		 sum;
	uint32_t	 last_unit;
	double		*vals;		/* quantile */
	uint64_t	 nvals, capvals;
	uint64_t	*bins;
	uint64_t	*bin_units;	/* histogram: distinct units per bin */
	uint32_t	*bin_last;
};

static double
col_value(struct rt_ctx *c, struct colref r, uint32_t row, int *nullp)
{
	const struct table_colview *v;
	struct dcol *d;

	*nullp = 0;
	if (r.derived) {
		d = c->dcols[r.id];
		if (d->tag[row] != D_NUM && d->tag[row] != D_BOOL) {
			*nullp = 1;
			return 0;
		}
		return d->num[row];
	}
	v = rt_colview(c, r.id);
	if (table_isnull(v, row)) {
		*nullp = 1;
		return 0;
	}
	switch (v->type) {
	case VEIL_T_INT:	return (double)((const int64_t *)v->data)[row];
	case VEIL_T_FLOAT:	return ((const double *)v->data)[row];
	case VEIL_T_BOOL:	return ((const uint8_t *)v->data)[row];
	case VEIL_T_DATE:	return ((const int32_t *)v->data)[row];
	default:		*nullp = 1; return 0;
	}
}

/* Bits of the fixed-point grid for [lo, hi]. */
static int
grid_bits(struct rt_ctx *c, const struct agg *a)
{
	double m = fmax(fabs(a->lo), fabs(a->hi));
	int e, k;

	if (!a->col.derived && a->lo == floor(a->lo) && a->hi == floor(a->hi)) {
		enum veil_type t = rt_coltype(c, a->col);

		if (t == VEIL_T_INT || t == VEIL_T_BOOL)
			return 0;
	}
	(void)frexp(m < 1 ? 1 : m, &e);	/* m < 2^e */
	k = 62 - e;
	return k > 20 ? 20 : k;	/* 2^-20: a millionth, ample */
}

/*
 * The k-th smallest of v[0..n) (0-based), moving it to v[k]: Hoare's
 * selection with a median-of-three pivot. Not libc's qsort: glibc's asks
 * the kernel for the machine's memory (sysinfo), which the sandbox kills.
 */
static double
select_kth(double *v, uint64_t n, uint64_t k)
{
	uint64_t lo = 0, hi = n - 1, i, j;
	double p, t;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (v[mid] < v[lo]) { t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
		if (v[hi] < v[lo]) { t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
		if (v[hi] < v[mid]) { t = v[hi]; v[hi] = v[mid]; v[mid] = t; }
		p = v[mid];
		i = lo;
		j = hi;
		while (i <= j) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i <= j) {
				t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* Type-7 quantile (linear between order statistics), as R's default. */
static double
exact_quantile(double *v, uint64_t n, double q)
{
	double h, lo, hi;
	uint64_t i, j;

	if (n == 0)
		return NAN;
	h = (double)(n - 1) * q;
	i = (uint64_t)floor(h);
	lo = select_kth(v, n, i);
	if (i + 1 >= n || h == (double)i)
		return lo;
	/* v[i+1..n) all >= lo now: the next order statistic is their min */
	hi = v[i + 1];
	for (j = i + 2; j < n; j++)
		if (v[j] < hi)
			hi = v[j];
	return lo + (h - (double)i) * (hi - lo);
}

static void
pack_i128(msgpack_packer *pk, i128 x)
{
	char buf[48], *p = buf + sizeof(buf);
	unsigned __int128 u = x < 0 ? (unsigned __int128)0 - (unsigned __int128)x :
	    (unsigned __int128)x;

	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (x < 0)
		*--p = '-';
	frame_pack_cstr(pk, p);
}

static void
pack_key(struct rt_ctx *c, struct pnode *n, int keys, uint32_t gid,
    msgpack_packer *pk)
{
	lua_State *L = c->L;
	const char *s;
	size_t len;
	double d;
	int t = lua_rawgeti(L, keys, (lua_Integer)gid + 1);

	switch (t) {
	case LUA_TSTRING:
		s = lua_tolstring(L, -1, &len);
		msgpack_pack_str(pk, len);
		msgpack_pack_str_body(pk, s, len);
		break;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, -1))
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1))
			msgpack_pack_int64(pk, lua_tointeger(L, -1));
		else {
			d = lua_tonumber(L, -1);
			msgpack_pack_double(pk, d);
		}
		break;
	default:
		msgpack_pack_nil(pk);
	}
	lua_pop(L, 1);
	(void)n;
}

static const char *const aop_names[] = { "count", "sum", "mean", "quantile",
	"histogram" };

/*
 * Distinct units per group, and the contribution bounds actually seen
 * (rows per unit, groups per unit). Rows come grouped by unit, so one
 * pass with a "last unit" mark per group does it. With "@row" every row
 * is its own unit and nothing needs counting.
 */
static void
count_units(struct rt_ctx *c, struct pnode *n, struct gstate *g,
    struct gacc *acc, uint64_t *totalp, uint64_t *maxrowsp,
    uint64_t *maxgroupsp)
{
	uint32_t i, r, u, gi, run_unit = UINT32_MAX;
	uint64_t run_rows = 0, run_groups = 0, max_rows = 0, max_groups = 0;
	uint64_t total = 0;

	if (c->unit == NULL) {
		for (gi = 0; gi < g->ngroups; gi++)
			acc[gi].units = acc[gi].rows;
		*totalp = n->nsel;
		*maxrowsp = *maxgroupsp = n->nsel > 0;
		return;
	}
	for (i = 0; i < n->nsel; i++) {
		r = SEL(n, i);
		u = c->unit[r];
		if (u != run_unit) {
			run_unit = u;
			run_rows = run_groups = 0;
			total++;
		}
		if (++run_rows > max_rows)
			max_rows = run_rows;
		if ((gi = GID(g, i)) == UINT32_MAX)
			continue;
		if (acc[gi].last_unit != u) {
			acc[gi].last_unit = u;
			acc[gi].units++;
			if (++run_groups > max_groups)
				max_groups = run_groups;
		}
	}
	*totalp = total;
	*maxrowsp = max_rows;
	*maxgroupsp = max_groups;
}

/* Rounds to the nearest grid point; x * 2^k is exact. */
static inline int64_t
to_grid(double x, double scale)
{
	return (int64_t)__builtin_llrint(x * scale);
}

/*
 * x clamped to [lo, hi] (lo < hi), a NaN to lo (the fused check below
 * may read one before the job ends on it); compiles to maxsd, minsd.
 * Where x equals a bound this picks the bound: the same value but for
 * the sign of a zero, which the grid does not keep.
 */
static inline double
clamp(double x, double lo, double hi)
{
	x = x > lo ? x : lo;
	return x < hi ? x : hi;
}

static inline uint64_t
f64bits(double x)
{
	uint64_t b;

	memcpy(&b, &x, sizeof(b));
	return b;
}

/*
 * A group id at or above the number of groups: UINT32_MAX marks a row
 * left out (make_groups()); in codes borrowed from a category column
 * (g->borrowed) any such id is a code outside the dictionary, which the
 * kernels check as they read each one (table_open_lazy()).
 */
static void
bad_code(struct rt_ctx *c, const struct pnode *n, uint32_t row, uint32_t code,
    uint32_t ng) __attribute__((noreturn, noinline, cold));

static void
bad_code(struct rt_ctx *c, const struct pnode *n, uint32_t row, uint32_t code,
    uint32_t ng)
{
	char msg[128];

	(void)snprintf(msg, sizeof(msg), "table: column %d: row %u has code "
	    "%u, dictionary has %u", n->col.id, row, code, ng);
	rt_corrupt(c, msg);
}

/*
 * count, sum and mean over a table column: one tight loop per column
 * type. Grid values are summed in int64 blocks short enough never to
 * overflow, then carried into the 128-bit sums.
 *
 * A float column of a lazily opened table that still owes its check
 * (table_open_lazy()) is checked in the same loop when the loop reads
 * every value of it (all rows, no nulls), else before: one pass over
 * the column, not two.
 *
 * Every group id is compared with the number of groups before it
 * indexes anything (one compare, which also skips the rows left out):
 * the ids may be a category column's codes, borrowed unchecked.
 */
static void
fast_values(struct rt_ctx *c, struct agg *a, struct pnode *n,
    struct gstate *g, struct gacc *acc, int k)
{
	const struct table_colview *v = a->has_col ?
	    table_column(c->t, (unsigned)a->col.id) : NULL;
	const uint32_t *sel = n->sel, *gid = g->gid;
	double scale = ldexp(1.0, k), lo = a->lo, hi = a->hi, x;
	double m = fmax(fabs(lo), fabs(hi)) * scale + 1;
	uint64_t block = m < 1 ? UINT64_MAX : (uint64_t)(9.2e18 / m), left;
	uint64_t bad = 0;
	int64_t *part = NULL, *part2;
	uint64_t *cnt = NULL, *cnt2;
	uint32_t i, r, gi, ng = g->ngroups;
	int fuse = 0;
	char msg[128];

	/* Passes over every row: the whole columns they read. */
	if (g->borrowed)
		rt_prefault(c, n->col.id, gid, sizeof(*gid), n->nsel);
	if (v != NULL && sel == NULL)
		rt_prefault(c, a->col.id, v->data, v->type == VEIL_T_BOOL ? 1 :
		    v->type == VEIL_T_DATE ? 4 : 8, n->nsel);
	if (v != NULL && table_values_pending(c->t, (unsigned)a->col.id)) {
		if (sel == NULL && v->nulls == NULL && n->nsel == c->nrows)
			fuse = 1;
		else
			v = rt_colview(c, a->col.id);
	}
	if (v == NULL) {
		if (gid == NULL)
			acc[0].rows = n->nsel;
		else
			for (i = 0; i < n->nsel; i++)
				if ((gi = gid[i]) < ng)
					acc[gi].rows++;
				else if (g->borrowed)
					bad_code(c, n, SEL(n, i), gi, ng);
		return;
	}
	/* Two tables of partial sums and counts, for the grouped loop. */
	if ((part = calloc(2 * ((size_t)ng + 1), sizeof(*part))) == NULL)
		abort();	/* a few words per group */
	part2 = part + ng + 1;
	if (block == 0)
		block = 1;
	left = block;
#define FLUSH() do {							\
	for (gi = 0; gi < ng; gi++) {					\
		acc[gi].sum += part[gi];				\
		acc[gi].sum += part2[gi];				\
		part[gi] = part2[gi] = 0;				\
	}								\
	left = block;							\
} while (0)
#define LOOP(T) do {							\
	const T *d_ = v->data;						\
	for (i = 0; i < n->nsel; i++) {					\
		r = sel != NULL ? sel[i] : i;				\
		if ((gi = gid != NULL ? gid[i] : 0) >= ng) {		\
			if (g->borrowed)				\
				bad_code(c, n, r, gi, ng);		\
			continue;					\
		}							\
		acc[gi].rows++;						\
		if (v->nulls != NULL && table_isnull(v, r))		\
			continue;					\
		x = (double)d_[r];					\
		x = clamp(x, lo, hi);					\
		part[gi] += to_grid(x, scale);				\
		acc[gi].n++;						\
		if (--left == 0)					\
			FLUSH();					\
	}								\
} while (0)
/*
 * One row of the grouped loop; out (a group id >= ng) is for the caller
 * to act on.
 */
#define GROW(P, C, j, gj) do {						\
	double y_ = clamp((double)d_[j], lo, hi);			\
	P[gj] += to_grid(y_, scale);					\
	C[gj]++;							\
} while (0)
/*
 * Grouped over all rows (group_by a column, no selection): rows go in
 * pairs, the first into one table of sums and counts, the second into
 * another, so that two rows of the same group in a row do not wait on
 * each other's store; a pair of floats is checked as one vector.
 */
#define GROUPED(T, F) do {						\
	uint32_t j_, a_, b_;						\
	for (j_ = (uint32_t)s_; j_ + 2 <= e_; j_ += 2) {		\
		if (F) {						\
			u64x2 w_;					\
			memcpy(&w_, d_ + j_, sizeof(w_));		\
			vbad |= (w_ & vexp) + vone;			\
		}							\
		a_ = gid[j_];						\
		b_ = gid[j_ + 1];					\
		if (__builtin_expect(a_ >= ng || b_ >= ng, 0)) {	\
			if (a_ < ng)					\
				GROW(part, cnt, j_, a_);		\
			else if (g->borrowed)				\
				bad_code(c, n, j_, a_, ng);		\
			if (b_ < ng)					\
				GROW(part2, cnt2, j_ + 1, b_);	\
			else if (g->borrowed)				\
				bad_code(c, n, j_ + 1, b_, ng);		\
			continue;					\
		}							\
		GROW(part, cnt, j_, a_);				\
		GROW(part2, cnt2, j_ + 1, b_);			\
	}								\
	for (; j_ < e_; j_++) {						\
		if (F)							\
			bad |= TABLE_NONFINITE(f64bits((double)d_[j_])); \
		if ((a_ = gid[j_]) < ng)				\
			GROW(part, cnt, j_, a_);			\
		else if (g->borrowed)					\
			bad_code(c, n, j_, a_, ng);			\
	}								\
} while (0)
/*
 * Ungrouped over all rows: also two rows at a time, into two sums, so
 * that the loop's own overhead and its placement in the code weigh half
 * as much per row (one row a turn ran 4.3 or 5.5 ms over 1e7 floats as
 * the code around it moved).
 */
#define UNGROUPED(T, F) do {						\
	uint32_t j_;							\
	int64_t p_ = 0, q_ = 0;						\
	for (j_ = (uint32_t)s_; j_ + 2 <= e_; j_ += 2) {		\
		if (F) {						\
			u64x2 w_;					\
			memcpy(&w_, d_ + j_, sizeof(w_));		\
			vbad |= (w_ & vexp) + vone;			\
		}							\
		p_ += to_grid(clamp((double)d_[j_], lo, hi), scale);	\
		q_ += to_grid(clamp((double)d_[j_ + 1], lo, hi), scale); \
	}								\
	for (; j_ < e_; j_++) {						\
		if (F)							\
			bad |= TABLE_NONFINITE(f64bits((double)d_[j_])); \
		p_ += to_grid(clamp((double)d_[j_], lo, hi), scale);	\
	}								\
	part[0] += p_;							\
	part2[0] += q_;							\
} while (0)
/*
 * No nulls: every selected row counts, so rows and n come from the group
 * sizes, and the loop is only load, clamp, scale, add, in blocks.
 */
#define DENSE(T, F) do {						\
	const T *d_ = v->data;						\
	uint64_t s_, e_;						\
	for (s_ = 0; s_ < n->nsel; s_ = e_) {				\
		e_ = n->nsel - s_ > block ? s_ + block : n->nsel;	\
		if (gid == NULL && sel == NULL)				\
			UNGROUPED(T, F);				\
		else if (sel == NULL)					\
			GROUPED(T, F);					\
		else							\
			for (i = (uint32_t)s_; i < e_; i++) {		\
				r = sel[i];				\
				if (F)					\
					bad |= TABLE_NONFINITE(		\
					    f64bits((double)d_[r]));	\
				gi = gid != NULL ? gid[i] : 0;		\
				if (gi >= ng) {				\
					if (g->borrowed)		\
						bad_code(c, n, r, gi, ng); \
					continue;			\
				}					\
				GROW(part, cnt, r, gi);		\
			}						\
		FLUSH();						\
	}								\
} while (0)
	if (v->nulls == NULL && (cnt = calloc(2 * ((size_t)ng + 1),
	    sizeof(*cnt))) != NULL) {
		typedef uint64_t u64x2 __attribute__((vector_size(16)));
		const u64x2 vexp = { UINT64_C(0x7ff0000000000000),
		    UINT64_C(0x7ff0000000000000) };
		const u64x2 vone = { UINT64_C(0x0010000000000000),
		    UINT64_C(0x0010000000000000) };
		u64x2 vbad = { 0, 0 };

		cnt2 = cnt + ng + 1;
		switch (v->type) {
		case VEIL_T_INT:	DENSE(int64_t, 0); break;
		case VEIL_T_FLOAT:
			if (fuse)
				DENSE(double, 1);
			else
				DENSE(double, 0);
			break;
		case VEIL_T_BOOL:	DENSE(uint8_t, 0); break;
		case VEIL_T_DATE:	DENSE(int32_t, 0); break;
		default:		break;
		}
		bad |= vbad[0] | vbad[1];
		if (fuse && bad >> 63) {
			(void)snprintf(msg, sizeof(msg), "table: column %d "
			    "holds a non-finite float", a->col.id);
			rt_corrupt(c, msg);
		}
		if (fuse)
			table_values_checked(c->t, (unsigned)a->col.id);
		if (gid == NULL)
			cnt[0] = n->nsel;
		for (gi = 0; gi < ng; gi++)
			acc[gi].rows = acc[gi].n = cnt[gi] + cnt2[gi];
		free(cnt);
		free(part);
		return;
	}
	if (fuse)			/* not all rows read: check first */
		v = rt_colview(c, a->col.id);
	switch (v->type) {
	case VEIL_T_INT:	LOOP(int64_t); break;
	case VEIL_T_FLOAT:	LOOP(double); break;
	case VEIL_T_BOOL:	LOOP(uint8_t); break;
	case VEIL_T_DATE:	LOOP(int32_t); break;
	default:		break;
	}
	FLUSH();
#undef DENSE
#undef UNGROUPED
#undef GROUPED
#undef GROW
#undef LOOP
#undef FLUSH
	free(part);
}

int
rt_pack_agg(struct rt_ctx *c, struct agg *a, msgpack_packer *pk)
{
	struct pnode *n = a->node;
	struct gstate g;
	struct gacc *acc = NULL;
	uint32_t i, r, u, gi, run_unit = UINT32_MAX;
	uint64_t run_rows = 0, run_groups = 0, max_rows = 0, max_groups = 0;
	uint64_t units_total = 0;
	int k = 0, declared = 0, isnull, rv = -1, nfields, keys, e, fast;
	double x, gscale;

	memset(&g, 0, sizeof(g));
	g.keys_ref = LUA_NOREF;
	fast = (a->op == A_COUNT || a->op == A_SUM || a->op == A_MEAN) &&
	    (!a->has_col || !a->col.derived);
	if (rt_eval_node(c, n) != 0 || (rv = make_groups(c, n, &g, fast,
	    &declared)) != 0) {
		rv = rv == -2 ? -2 : -1;
		goto out;
	}
	rv = -1;
	if ((acc = calloc((size_t)g.ngroups + 1, sizeof(*acc))) == NULL)
		goto out;
	for (gi = 0; gi < g.ngroups; gi++) {
		acc[gi].last_unit = UINT32_MAX;
		if (a->op == A_HISTOGRAM && ((acc[gi].bins = calloc(
		    (size_t)a->nedges + 2, sizeof(uint64_t))) == NULL ||
		    (acc[gi].bin_units = calloc((size_t)a->nedges + 2,
		    sizeof(uint64_t))) == NULL ||
		    (acc[gi].bin_last = malloc(((size_t)a->nedges + 2) *
		    sizeof(uint32_t))) == NULL))
			goto out;
		if (a->op == A_HISTOGRAM)
			memset(acc[gi].bin_last, 0xff, ((size_t)a->nedges + 2) *
			    sizeof(uint32_t));
		if (a->op == A_QUANTILE && (acc[gi].bins = calloc(GRID_BINS,
		    sizeof(uint64_t))) == NULL)
			goto out;
	}
	if (a->op == A_SUM || a->op == A_MEAN)
		k = grid_bits(c, a);
	gscale = ldexp(1.0, k);
	if (fast) {
		fast_values(c, a, n, &g, acc, k);
		/* it compared every code with the dictionary's size */
		if (g.borrowed)
			table_values_checked(c->t, (unsigned)n->col.id);
		count_units(c, n, &g, acc, &units_total, &max_rows,
		    &max_groups);
		goto pack;
	}
	for (i = 0; i < n->nsel; i++) {
		r = SEL(n, i);
		u = c->unit != NULL ? c->unit[r] : r;
		if (u != run_unit) {	/* rows come grouped by unit */
			run_unit = u;
			run_rows = run_groups = 0;
			units_total++;
		}
		if (++run_rows > max_rows)
			max_rows = run_rows;
		if ((gi = GID(&g, i)) == UINT32_MAX)
			continue;
		if (acc[gi].last_unit != u) {
			acc[gi].last_unit = u;
			acc[gi].units++;
			if (++run_groups > max_groups)
				max_groups = run_groups;
		}
		acc[gi].rows++;
		if (a->op == A_COUNT)
			continue;
		x = col_value(c, a->col, r, &isnull);
		if (isnull)
			continue;
		acc[gi].n++;
		switch (a->op) {
		case A_SUM:
		case A_MEAN:
			x = x < a->lo ? a->lo : x > a->hi ? a->hi : x;
			acc[gi].sum += (i128)to_grid(x, gscale);
			break;
		case A_QUANTILE:
			x = x < a->lo ? a->lo : x > a->hi ? a->hi : x;
			if (acc[gi].nvals == acc[gi].capvals) {
				uint64_t nc = acc[gi].capvals ?
				    acc[gi].capvals * 2 : 256;
				double *nv = realloc(acc[gi].vals,
				    (size_t)nc * sizeof(double));

				if (nv == NULL)
					goto out;
				acc[gi].vals = nv;
				acc[gi].capvals = nc;
			}
			acc[gi].vals[acc[gi].nvals++] = x;
			e = (int)((x - a->lo) / (a->hi - a->lo) * GRID_BINS);
			acc[gi].bins[e < 0 ? 0 : e >= GRID_BINS ?
			    GRID_BINS - 1 : e]++;
			break;
		case A_HISTOGRAM: {
			/* bins 0..n-2; n-1 below, n above. The last bin is
			 * closed: [e[n-2], e[n-1]]. */
			int lo = 0, hi = a->nedges - 2, mid;

			if (x < a->edges[0])
				lo = a->nedges - 1;
			else if (x > a->edges[a->nedges - 1])
				lo = a->nedges;
			else
				while (lo < hi) {
					mid = (lo + hi + 1) / 2;
					if (a->edges[mid] <= x)
						lo = mid;
					else
						hi = mid - 1;
				}
			acc[gi].bins[lo]++;
			if (acc[gi].bin_last[lo] != u) {
				acc[gi].bin_last[lo] = u;
				acc[gi].bin_units[lo]++;
			}
			break;
		}
		default:
			break;
		}
	}

	/* pack */
 pack:
	nfields = 7 + (a->has_col ? 1 : 0) +
	    (a->op == A_SUM || a->op == A_MEAN || a->op == A_QUANTILE ? 2 : 0) +
	    (a->op == A_SUM || a->op == A_MEAN ? 1 : 0) +
	    (a->op == A_QUANTILE ? 2 : 0) + (a->op == A_HISTOGRAM ? 1 : 0) +
	    (a->epsilon > 0 ? 1 : 0);
	msgpack_pack_map(pk, (size_t)nfields);
	frame_pack_cstr(pk, "op");
	frame_pack_cstr(pk, aop_names[a->op]);
	if (a->has_col) {
		frame_pack_cstr(pk, "col");
		frame_pack_cstr(pk, rt_colname(c, a->col));
	}
	if (a->op == A_SUM || a->op == A_MEAN || a->op == A_QUANTILE) {
		frame_pack_cstr(pk, "lo");
		msgpack_pack_double(pk, a->lo);
		frame_pack_cstr(pk, "hi");
		msgpack_pack_double(pk, a->hi);
	}
	if (a->op == A_SUM || a->op == A_MEAN) {
		frame_pack_cstr(pk, "scale");
		msgpack_pack_int(pk, k);
	}
	if (a->op == A_QUANTILE) {
		frame_pack_cstr(pk, "q");
		msgpack_pack_double(pk, a->q);
		frame_pack_cstr(pk, "grid");
		msgpack_pack_int(pk, GRID_BINS);
	}
	if (a->op == A_HISTOGRAM) {
		frame_pack_cstr(pk, "edges");
		msgpack_pack_array(pk, (size_t)a->nedges);
		for (e = 0; e < a->nedges; e++)
			msgpack_pack_double(pk, a->edges[e]);
	}
	if (a->epsilon > 0) {
		frame_pack_cstr(pk, "epsilon");
		msgpack_pack_double(pk, a->epsilon);
	}
	frame_pack_cstr(pk, "by");
	if (n->kind != P_GROUP)
		msgpack_pack_nil(pk);
	else if (n->has_fn)
		frame_pack_cstr(pk, "function");
	else
		frame_pack_cstr(pk, rt_colname(c, n->col));
	frame_pack_cstr(pk, "declared");
	if (declared || n->kind != P_GROUP)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	frame_pack_cstr(pk, "max_rows_per_unit");
	msgpack_pack_uint64(pk, c->job->max_rows_per_unit > 0 ?
	    c->job->max_rows_per_unit : max_rows);
	frame_pack_cstr(pk, "max_groups_per_unit");
	msgpack_pack_uint64(pk, max_groups);
	frame_pack_cstr(pk, "units");
	msgpack_pack_uint64(pk, units_total);
	frame_pack_cstr(pk, "groups");
	msgpack_pack_array(pk, g.ngroups);
	lua_rawgeti(c->L, LUA_REGISTRYINDEX, g.keys_ref);
	keys = lua_gettop(c->L);
	for (gi = 0; gi < g.ngroups; gi++) {
		struct gacc *ga = &acc[gi];

		nfields = 3 + (a->op != A_COUNT ? 1 : 0) +
		    (a->op == A_SUM || a->op == A_MEAN ? 1 : 0) +
		    (a->op == A_QUANTILE ? 2 : 0) +
		    (a->op == A_HISTOGRAM ? 6 : 0);
		msgpack_pack_map(pk, (size_t)nfields);
		frame_pack_cstr(pk, "key");
		if (n->kind == P_GROUP)
			pack_key(c, n, keys, gi, pk);
		else
			msgpack_pack_nil(pk);
		frame_pack_cstr(pk, "rows");
		msgpack_pack_uint64(pk, ga->rows);
		frame_pack_cstr(pk, "units");
		msgpack_pack_uint64(pk, ga->units);
		if (a->op != A_COUNT) {
			frame_pack_cstr(pk, "n");
			msgpack_pack_uint64(pk, ga->n);
		}
		if (a->op == A_SUM || a->op == A_MEAN) {
			frame_pack_cstr(pk, "sum");
			pack_i128(pk, ga->sum);
		}
		if (a->op == A_QUANTILE) {
			frame_pack_cstr(pk, "exact");
			if (ga->nvals > 0)
				msgpack_pack_double(pk, exact_quantile(ga->vals,
				    ga->nvals, a->q));
			else
				msgpack_pack_nil(pk);
			frame_pack_cstr(pk, "bins");
			msgpack_pack_array(pk, GRID_BINS);
			for (e = 0; e < GRID_BINS; e++)
				msgpack_pack_uint64(pk, ga->bins[e]);
		}
		if (a->op == A_HISTOGRAM) {
			frame_pack_cstr(pk, "bins");
			msgpack_pack_array(pk, (size_t)a->nedges - 1);
			for (e = 0; e < a->nedges - 1; e++)
				msgpack_pack_uint64(pk, ga->bins[e]);
			frame_pack_cstr(pk, "bin_units");
			msgpack_pack_array(pk, (size_t)a->nedges - 1);
			for (e = 0; e < a->nedges - 1; e++)
				msgpack_pack_uint64(pk, ga->bin_units[e]);
			frame_pack_cstr(pk, "below");
			msgpack_pack_uint64(pk, ga->bins[a->nedges - 1]);
			frame_pack_cstr(pk, "above");
			msgpack_pack_uint64(pk, ga->bins[a->nedges]);
			frame_pack_cstr(pk, "below_units");
			msgpack_pack_uint64(pk, ga->bin_units[a->nedges - 1]);
			frame_pack_cstr(pk, "above_units");
			msgpack_pack_uint64(pk, ga->bin_units[a->nedges]);
		}
	}
	lua_pop(c->L, 1);
	rv = 0;
 out:
	if (acc != NULL)
		for (gi = 0; gi < g.ngroups; gi++) {
			free(acc[gi].vals);
			free(acc[gi].bins);
			free(acc[gi].bin_units);
			free(acc[gi].bin_last);
		}
	free(acc);
	if (!g.borrowed)
		free(g.gid);
	if (g.keys_ref != LUA_NOREF)
		luaL_unref(c->L, LUA_REGISTRYINDEX, g.keys_ref);
	return rv;
}

/* }====== */
