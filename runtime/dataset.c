/*
 * dataset.c: the job API of DESIGN.md ("The job API"): veil.dataset()
 * and the lazy plan methods where, filter, derive, group_by, and the
 * aggregations count, sum, mean, quantile, histogram; rows() and column()
 * where row access is allowed. Building a plan only records it; eval.c
 * runs it after the chunk returns (or when rows()/column() ask).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "datefmt.h"
#include "luastate.h"
#include "rt_int.h"

#define MAX_EDGES	1000
#define MAX_IN		10000

struct rt_ctx *
rt_ctx(lua_State *L)
{
	struct rt_ctx *c;

	lua_getfield(L, LUA_REGISTRYINDEX, RT_CTX);
	c = lua_touserdata(L, -1);
	lua_pop(L, 1);
	return c;
}

static struct rt_ctx *
api_ctx(lua_State *L)
{
	struct rt_ctx *c = rt_ctx(L);

	if (c->in_row)
		luaL_error(L, "the dataset API cannot be used inside a row "
		    "function");
	return c;
}

struct pnode *
rt_checknode(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, RT_NODE);
}

static int
node_gc(lua_State *L)
{
	struct pnode *n = luaL_checkudata(L, 1, RT_NODE);

	if (n->own_sel)
		free(n->sel);
	free(n->dv);
	free(n->mask);
	n->sel = NULL;
	n->dv = NULL;
	n->mask = NULL;
	return 0;
}

/* A new node under the node at index 1 (or a source when parent NULL). */
static struct pnode *
new_node(lua_State *L, enum pkind kind, struct pnode *parent)
{
	struct pnode *n = lua_newuserdatauv(L, sizeof(*n), 1);

	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->parent = parent;
	n->vals_ref = n->fn.fn_ref = LUA_NOREF;
	luaL_setmetatable(L, RT_NODE);
	if (parent != NULL) {
		lua_pushvalue(L, 1);
		lua_setiuservalue(L, -2, 1);	/* keeps the parent alive */
	}
	return n;
}

static void
check_not_grouped(lua_State *L, struct pnode *n, const char *what)
{
	if (n->kind == P_GROUP)
		luaL_error(L, "%s: the plan is already grouped; filter and "
		    "derive before group_by", what);
}

static struct colref
check_col(lua_State *L, struct pnode *n, int idx, const char *what)
{
	struct colref r;
	const char *name = luaL_checkstring(L, idx);

	if (rt_resolve(L, n, name, &r) != 0)
		luaL_error(L, "%s: no column '%s'", what, name);
	return r;
}

static int
is_numeric(struct rt_ctx *c, struct colref r)
{
	enum veil_type t = rt_coltype(c, r);

	return r.derived || t == VEIL_T_INT || t == VEIL_T_FLOAT ||
	    t == VEIL_T_BOOL;
}

/* {====== where */

static const char *const op_names[] = { "=", "~=", "<", "<=", ">", ">=",
	"in", NULL };

static enum wop
check_op(lua_State *L, int idx)
{
	const char *s = luaL_checkstring(L, idx);
	int i;

	if (strcmp(s, "==") == 0)
		return W_EQ;
	if (strcmp(s, "!=") == 0)
		return W_NE;
	for (i = 0; op_names[i] != NULL; i++)
		if (strcmp(s, op_names[i]) == 0)
			return (enum wop)i;
	luaL_error(L, "where: unknown operator '%s' (use = ~= < <= > >= in)",
	    s);
	return W_EQ;
}

/*
 * Checks the comparison values (pushed as a list at the top) against the
 * column's type and precomputes what the kernel compares with.
 */
static void
prepare_where(lua_State *L, struct rt_ctx *c, struct pnode *n)
{
	const struct table_colview *v = NULL;
	enum veil_type t = rt_coltype(c, n->col);
	int list = lua_gettop(L), i, nv = (int)lua_rawlen(L, list);
	const char *s, *d;
	size_t sl, dl;
	uint32_t k;
	int32_t days;

	if (!n->col.derived)
		v = table_column(c->t, (unsigned)n->col.id);
	if ((n->dv = calloc((size_t)nv + 1, sizeof(double))) == NULL)
		luaL_error(L, "not enough memory");
	n->nv = nv;
	for (i = 1; i <= nv; i++) {
		int lt = lua_rawgeti(L, list, i);

		if (n->col.derived) {
			if (lt != LUA_TNUMBER && lt != LUA_TBOOLEAN &&
			    lt != LUA_TSTRING)
				luaL_error(L, "where: compare with numbers, "
				    "strings or booleans");
			if (lt == LUA_TNUMBER)
				n->dv[i - 1] = lua_tonumber(L, -1);
		} else if (t == VEIL_T_INT || t == VEIL_T_FLOAT) {
			if (lt != LUA_TNUMBER)
				luaL_error(L, "where: column '%s' is %s; compare "
				    "it with a number", v->name,
				    veil_type_name(t));
			n->dv[i - 1] = lua_tonumber(L, -1);
		} else if (t == VEIL_T_DATE) {
			s = lt == LUA_TSTRING ? lua_tolstring(L, -1, &sl) : NULL;
			if (s == NULL || datefmt_parse(s, sl, &days) != 0)
				luaL_error(L, "where: column '%s' is a date; "
				    "compare it with \"YYYY-MM-DD\"", v->name);
			n->dv[i - 1] = days;
		} else if (t == VEIL_T_BOOL) {
			if (lt != LUA_TBOOLEAN)
				luaL_error(L, "where: column '%s' is bool; "
				    "compare it with true or false", v->name);
			if (n->op != W_EQ && n->op != W_NE && n->op != W_IN)
				luaL_error(L, "where: bools compare with = ~= "
				    "and in only");
			n->dv[i - 1] = lua_toboolean(L, -1);
		} else if (lt != LUA_TSTRING)
			luaL_error(L, "where: column '%s' is %s; compare it "
			    "with a string", v->name, veil_type_name(t));
		lua_pop(L, 1);
	}
	if (n->col.derived || t != VEIL_T_CATEGORY)
		return;
	/* Categories: decide once per dictionary entry. */
	n->nmask = v->dict_n;
	if ((n->mask = calloc((size_t)v->dict_n + 1, 1)) == NULL)
		luaL_error(L, "not enough memory");
	for (k = 0; k < v->dict_n; k++) {
		d = table_dict(v, k, &dl);
		for (i = 1; i <= nv; i++) {
			lua_rawgeti(L, list, i);
			s = lua_tolstring(L, -1, &sl);
			lua_pop(L, 1);
			if (n->op == W_IN || n->op == W_NE) {
				if (rt_cmp_bytes(d, dl, s, sl) == 0) {
					n->mask[k] = 1;
					break;
				}
			} else if (rt_holds(n->op, rt_cmp_bytes(d, dl, s, sl)))
				n->mask[k] = 1;
		}
		if (n->op == W_NE)
			n->mask[k] = !n->mask[k];
	}
}

static int
l_where(lua_State *L)
{
	struct rt_ctx *c = api_ctx(L);
	struct pnode *p = rt_checknode(L, 1), *n;
	struct colref col;
	enum wop op;
	int i;

	check_not_grouped(L, p, "where");
	lua_settop(L, 4);
	col = check_col(L, p, 2, "where");
	op = check_op(L, 3);
	n = new_node(L, P_WHERE, p);
	n->col = col;
	n->op = op;
	lua_newtable(L);
	if (op == W_IN) {
		luaL_checktype(L, 4, LUA_TTABLE);
		if (lua_rawlen(L, 4) == 0 || lua_rawlen(L, 4) > MAX_IN)
			luaL_error(L, "where: 'in' takes a list of 1 to %d "
			    "values", MAX_IN);
		for (i = 1; i <= (int)lua_rawlen(L, 4); i++) {
			lua_rawgeti(L, 4, i);
			lua_rawseti(L, -2, i);
		}
	} else {
		if (lua_isnoneornil(L, 4))
			luaL_error(L, "where: missing the value to compare "
			    "with (nulls never match)");
		lua_pushvalue(L, 4);
		lua_rawseti(L, -2, 1);
	}
	prepare_where(L, c, n);
	n->vals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	return 1;
}

/* }====== */

/* {====== filter, derive, group_by */

static int
l_filter(lua_State *L)
{
	struct pnode *p = rt_checknode(L, 1), *n;

	(void)api_ctx(L);
	check_not_grouped(L, p, "filter");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_settop(L, 2);
	n = new_node(L, P_FILTER, p);
	rowfn_prepare(L, 2, p, &n->fn);
	n->has_fn = 1;
	return 1;
}

static int
l_derive(lua_State *L)
{
	struct rt_ctx *c = api_ctx(L);
	struct pnode *p = rt_checknode(L, 1), *n;
	struct colref r;
	struct dcol *d, **nd;
	const char *name = luaL_checkstring(L, 2);
	size_t len = strlen(name);

	check_not_grouped(L, p, "derive");
	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_settop(L, 3);
	if (len == 0 || len > TABLE_MAX_NAME)
		luaL_error(L, "derive: a column name of 1 to %d bytes",
		    TABLE_MAX_NAME);
	if (rt_resolve(L, p, name, &r) == 0)
		luaL_error(L, "derive: column '%s' exists already", name);
	n = new_node(L, P_DERIVE, p);
	if ((nd = realloc(c->dcols, ((size_t)c->ndcols + 1) *
	    sizeof(*nd))) == NULL)
		luaL_error(L, "not enough memory");
	c->dcols = nd;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->name = strdup(name)) == NULL ||
	    (d->tag = calloc((size_t)c->nrows + 1, 1)) == NULL ||
	    (d->num = calloc((size_t)c->nrows + 1, sizeof(double))) == NULL) {
		if (d != NULL) {
			free(d->name);
			free(d->tag);
		}
		free(d);
		luaL_error(L, "not enough memory");
	}
	lua_newtable(L);
	d->strs_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_newtable(L);
	d->codes_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	c->dcols[c->ndcols++] = d;
	n->dcol = d;
	rowfn_prepare(L, 3, p, &n->fn);
	n->has_fn = 1;
	return 1;
}

static int
l_group_by(lua_State *L)
{
	struct pnode *p = rt_checknode(L, 1), *n;

	(void)api_ctx(L);
	check_not_grouped(L, p, "group_by");
	lua_settop(L, 2);
	if (lua_type(L, 2) == LUA_TFUNCTION) {
		n = new_node(L, P_GROUP, p);
		rowfn_prepare(L, 2, p, &n->fn);
		n->has_fn = 1;
		return 1;
	}
	if (lua_type(L, 2) != LUA_TSTRING)
		luaL_error(L, "group_by: expected a column name or a function");
	n = new_node(L, P_GROUP, p);
	n->col = check_col(L, p, 2, "group_by");
	return 1;
}

/* }====== */

/* {====== aggregations */

static void
check_opts(lua_State *L, int idx, struct agg *a, const char *what)
{
	const char *k;

	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		if (strcmp(k, "epsilon") != 0)
			luaL_error(L, "%s: unknown option '%s' (known: epsilon)",
			    what, k);
		if (lua_type(L, -1) != LUA_TNUMBER ||
		    !(lua_tonumber(L, -1) > 0) ||
		    !isfinite(lua_tonumber(L, -1)))
			luaL_error(L, "%s: epsilon must be a positive number",
			    what);
		a->epsilon = lua_tonumber(L, -1);
		lua_pop(L, 1);
	}
}

static struct agg *
new_agg(lua_State *L, enum aop op)
{
	struct agg *a = lua_newuserdatauv(L, sizeof(*a), 1);

	memset(a, 0, sizeof(*a));
	a->op = op;
	a->node = rt_checknode(L, 1);
	luaL_setmetatable(L, RT_AGG);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	return a;
}

static void
check_bounds(lua_State *L, int idx, struct agg *a, const char *what)
{
	a->lo = luaL_checknumber(L, idx);
	a->hi = luaL_checknumber(L, idx + 1);
	if (!isfinite(a->lo) || !isfinite(a->hi) || !(a->lo < a->hi) ||
	    fabs(a->lo) > 1e15 || fabs(a->hi) > 1e15)
		luaL_error(L, "%s: bounds must be finite numbers with lo < hi "
		    "(and |bound| <= 1e15)", what);
}

static void
numeric_col(lua_State *L, struct agg *a, const char *what)
{
	struct rt_ctx *c = rt_ctx(L);

	a->col = check_col(L, a->node, 2, what);
	a->has_col = 1;
	if (!is_numeric(c, a->col))
		luaL_error(L, "%s: column '%s' is %s; aggregate a numeric "
		    "column", what, rt_colname(c, a->col),
		    veil_type_name(rt_coltype(c, a->col)));
}

static int
l_count(lua_State *L)
{
	struct agg *a;

	(void)api_ctx(L);
	rt_checknode(L, 1);
	lua_settop(L, 2);	/* node, opts */
	a = new_agg(L, A_COUNT);
	check_opts(L, 2, a, "count");
	return 1;
}

static int
sum_or_mean(lua_State *L, enum aop op, const char *what)
{
	struct agg *a;

	(void)api_ctx(L);
	rt_checknode(L, 1);
	lua_settop(L, 5);	/* node, col, lo, hi, opts */
	a = new_agg(L, op);
	numeric_col(L, a, what);
	check_bounds(L, 3, a, what);
	check_opts(L, 5, a, what);
	return 1;
}

static int
l_sum(lua_State *L)
{
	return sum_or_mean(L, A_SUM, "sum");
}

static int
l_mean(lua_State *L)
{
	return sum_or_mean(L, A_MEAN, "mean");
}

static int
l_quantile(lua_State *L)
{
	struct agg *a;

	(void)api_ctx(L);
	rt_checknode(L, 1);
	lua_settop(L, 6);	/* node, col, q, lo, hi, opts */
	a = new_agg(L, A_QUANTILE);
	numeric_col(L, a, "quantile");
	a->q = luaL_checknumber(L, 3);
	if (!(a->q >= 0 && a->q <= 1))
		luaL_error(L, "quantile: q must be between 0 and 1");
	check_bounds(L, 4, a, "quantile");
	check_opts(L, 6, a, "quantile");
	return 1;
}

static int
l_histogram(lua_State *L)
{
	struct agg *a;
	int i, n;

	(void)api_ctx(L);
	rt_checknode(L, 1);
	lua_settop(L, 4);	/* node, col, edges, opts */
	a = new_agg(L, A_HISTOGRAM);
	numeric_col(L, a, "histogram");
	luaL_checktype(L, 3, LUA_TTABLE);
	n = (int)lua_rawlen(L, 3);
	if (n < 2 || n > MAX_EDGES)
		luaL_error(L, "histogram: edges must list 2 to %d numbers",
		    MAX_EDGES);
	if ((a->edges = calloc((size_t)n, sizeof(double))) == NULL)
		luaL_error(L, "not enough memory");
	a->nedges = n;
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, 3, i + 1);
		if (lua_type(L, -1) != LUA_TNUMBER ||
		    !isfinite(lua_tonumber(L, -1)))
			luaL_error(L, "histogram: edge %d is not a finite "
			    "number", i + 1);
		a->edges[i] = lua_tonumber(L, -1);
		lua_pop(L, 1);
		if (i > 0 && !(a->edges[i] > a->edges[i - 1]))
			luaL_error(L, "histogram: edges must increase");
	}
	a->lo = a->edges[0];
	a->hi = a->edges[n - 1];
	check_opts(L, 4, a, "histogram");
	return 1;
}

static int
agg_gc(lua_State *L)
{
	struct agg *a = luaL_checkudata(L, 1, RT_AGG);

	free(a->edges);
	a->edges = NULL;
	return 0;
}

static int
agg_tostring(lua_State *L)
{
	static const char *const names[] = { "count", "sum", "mean",
	    "quantile", "histogram" };
	struct agg *a = luaL_checkudata(L, 1, RT_AGG);

	lua_pushfstring(L, "veil aggregation (%s)", names[a->op]);
	return 1;
}

/* }====== */

/* {====== row access: mode none and mock data only */

static void
check_row_access(lua_State *L, struct rt_ctx *c, const char *what)
{
	if (!c->row_access)
		luaL_error(L, "%s: row access is only for mode \"none\" or "
		    "mock data; return aggregations instead", what);
}

static void
push_visible_row(struct rt_ctx *c, struct pnode *n, uint32_t row)
{
	lua_State *L = c->L;
	struct colref r;
	unsigned int i;
	struct pnode *p;
	int k;

	lua_newtable(L);
	for (i = 0; i < table_ncols(c->t); i++) {
		r.derived = 0;
		r.id = (int)i;
		rowfn_push_value(c, r, row);
		lua_setfield(L, -2, table_column(c->t, i)->name);
	}
	for (p = n; p != NULL; p = p->parent)
		if (p->kind == P_DERIVE) {
			for (k = 0; k < c->ndcols; k++)
				if (c->dcols[k] == p->dcol)
					break;
			r.derived = 1;
			r.id = k;
			rowfn_push_value(c, r, row);
			lua_setfield(L, -2, p->dcol->name);
		}
}

static int
rows_iter(lua_State *L)
{
	struct rt_ctx *c = rt_ctx(L);
	struct pnode *n = rt_checknode(L, lua_upvalueindex(1));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));

	if (i >= (lua_Integer)n->nsel)
		return 0;
	lua_pushinteger(L, i + 1);
	lua_replace(L, lua_upvalueindex(2));
	push_visible_row(c, n, SEL(n, i));
	return 1;
}

static int
l_rows(lua_State *L)
{
	struct rt_ctx *c = api_ctx(L);
	struct pnode *n = rt_checknode(L, 1);

	check_row_access(L, c, "rows");
	check_not_grouped(L, n, "rows");
	if (rt_eval_node(c, n) != 0)
		luaL_error(L, "rows: the plan could not be evaluated");
	lua_pushvalue(L, 1);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, rows_iter, 2);
	return 1;
}

static int
l_column(lua_State *L)
{
	struct rt_ctx *c = api_ctx(L);
	struct pnode *n = rt_checknode(L, 1);
	struct colref r;
	uint32_t i;

	check_row_access(L, c, "column");
	check_not_grouped(L, n, "column");
	r = check_col(L, n, 2, "column");
	if (rt_eval_node(c, n) != 0)
		luaL_error(L, "column: the plan could not be evaluated");
	lua_createtable(L, (int)(n->nsel < 1000000 ? n->nsel : 1000000), 0);
	for (i = 0; i < n->nsel; i++) {
		rowfn_push_value(c, r, SEL(n, i));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* }====== */

static int
l_dataset(lua_State *L)
{
	(void)api_ctx(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "veil.source");
	return 1;
}

static int
node_tostring(lua_State *L)
{
	struct pnode *n = rt_checknode(L, 1);
	static const char *const kinds[] = { "dataset", "where", "filter",
	    "derive", "group_by" };

	lua_pushfstring(L, "veil plan (%s)", kinds[n->kind]);
	return 1;
}

void
rt_open_api(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "where", l_where }, { "filter", l_filter },
		{ "derive", l_derive }, { "group_by", l_group_by },
		{ "count", l_count }, { "sum", l_sum }, { "mean", l_mean },
		{ "quantile", l_quantile }, { "histogram", l_histogram },
		{ "rows", l_rows }, { "column", l_column },
		{ NULL, NULL }
	};

	luaL_newmetatable(L, RT_NODE);
	luaL_newlib(L, methods);
	luastate_freeze(L, -1);
	lua_setfield(L, -3, "__index");
	lua_pop(L, 1);
	lua_pushcfunction(L, node_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, node_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	luaL_newmetatable(L, RT_AGG);
	lua_pushcfunction(L, agg_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, agg_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);

	/* the source node */
	new_node(L, P_SOURCE, NULL);
	lua_setfield(L, LUA_REGISTRYINDEX, "veil.source");
	/* veil = { dataset = ... }, read-only, in the job's globals */
	luastate_push_env(L);
	lua_newtable(L);
	lua_pushcfunction(L, l_dataset);
	lua_setfield(L, -2, "dataset");
	luastate_freeze(L, -1);
	lua_remove(L, -2);
	lua_setfield(L, -2, "veil");
	lua_pop(L, 1);
}
