/*
 * rowfn.c: pure row functions (filter, derive, group_by keys).
 *
 * When a plan takes a function, the function is re-bound: every upvalue
 * (its _ENV included) gets a private cell, so nothing it assigns reaches
 * the chunk that made it; _ENV becomes a frozen environment without
 * stateful functions; every other upvalue is snapshotted (tables as
 * frozen deep copies, functions re-bound the same way) and restored
 * before each row, so no state crosses rows. Each call runs under a
 * per-row instruction cap; an error or an overrun yields the default and
 * is counted. Rows are a proxy over the mapped columns: nothing is copied
 * until the function reads a field.
 *
 * Two shortcuts keep those semantics (rowprog.c reads the bytecode):
 * the per-row restore is skipped when no function reachable from the row
 * function has OP_SETUPVAL (then its cells cannot change), and a row
 * function made only of arithmetic and comparisons over fields, numbers
 * and booleans runs compiled, in C, without a Lua call; every row the
 * compiled form cannot answer exactly goes to the interpreter as before.
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "datefmt.h"
#include "luastate.h"
#include "rt_int.h"

struct rowud {
	struct rt_ctx	*c;
	uint32_t	 row;
};

static const char cell_src[] = "local u return function() return u end";

/* {====== column values */

enum veil_type
rt_coltype(struct rt_ctx *c, struct colref r)
{
	if (r.derived)
		return VEIL_T_FLOAT;	/* dynamic; numbers mostly */
	return table_column(c->t, (unsigned)r.id)->type;
}

const char *
rt_colname(struct rt_ctx *c, struct colref r)
{
	if (r.derived)
		return c->dcols[r.id]->name;
	return table_column(c->t, (unsigned)r.id)->name;
}

const struct table_colview *
rt_colview(struct rt_ctx *c, int col)
{
	const struct table_colview *v;
	struct veil_err err;

	if (c->views[col] != NULL)
		return c->views[col];
	v = table_column(c->t, (unsigned)col);
	if (table_values_pending(c->t, (unsigned)col)) {
		/* the check reads every value: floats, codes */
		rt_prefault(c, col, v->data, v->type == VEIL_T_FLOAT ?
		    sizeof(double) : sizeof(uint32_t), c->nrows);
		if (table_check_values(c->t, (unsigned)col, &err) != 0)
			rt_corrupt(c, err.msg);
	}
	return c->views[col] = v;
}

void
rt_prefault(struct rt_ctx *c, int col, const void *p, size_t size,
    uint64_t n)
{
	uintptr_t a = (uintptr_t)p, pg = 4096;

	if (!c->job->prefault || c->prefaulted[col] || n == 0)
		return;
	c->prefaulted[col] = 1;
	/* Failure (a kernel before 5.14: EINVAL) leaves it to faults. */
	(void)madvise((void *)(a & ~(pg - 1)), (a & (pg - 1)) + size * n,
	    MADV_POPULATE_READ);
}

void
rt_corrupt(struct rt_ctx *c, const char *msg)
{
	if (c->job->corrupt != NULL)
		c->job->corrupt(msg);
	abort();
}

/* Pushes the dictionary string of code in column col, cached in Lua. */
static void
push_cat(struct rt_ctx *c, int col, const struct table_colview *v,
    uint32_t code)
{
	lua_State *L = c->L;
	const char *p;
	size_t len;

	lua_rawgeti(L, LUA_REGISTRYINDEX, c->cat_ref);
	if (lua_rawgeti(L, -1, col + 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawseti(L, -3, col + 1);
	}
	if (lua_rawgeti(L, -1, (lua_Integer)code + 1) != LUA_TSTRING) {
		lua_pop(L, 1);
		p = table_dict(v, code, &len);
		lua_pushlstring(L, p, len);
		lua_pushvalue(L, -1);
		lua_rawseti(L, -3, (lua_Integer)code + 1);
	}
	lua_replace(L, -3);
	lua_pop(L, 1);
}

void
rowfn_push_value(struct rt_ctx *c, struct colref r, uint32_t row)
{
	lua_State *L = c->L;
	const struct table_colview *v;
	struct dcol *d;
	char date[DATEFMT_LEN + 1];
	const char *p;
	size_t len;

	if (r.derived) {
		d = c->dcols[r.id];
		switch (d->tag[row]) {
		case D_NUM:
			if (d->num[row] == (double)(lua_Integer)d->num[row] &&
			    d->num[row] > -9.0e15 && d->num[row] < 9.0e15)
				lua_pushinteger(L, (lua_Integer)d->num[row]);
			else
				lua_pushnumber(L, d->num[row]);
			break;
		case D_BOOL:
			lua_pushboolean(L, d->num[row] != 0);
			break;
		case D_STR:
			lua_rawgeti(L, LUA_REGISTRYINDEX, d->strs_ref);
			lua_rawgeti(L, -1, (lua_Integer)d->num[row] + 1);
			lua_remove(L, -2);
			break;
		default:
			lua_pushnil(L);
		}
		return;
	}
	v = rt_colview(c, r.id);
	if (table_isnull(v, row)) {
		lua_pushnil(L);
		return;
	}
	switch (v->type) {
	case VEIL_T_INT:
		lua_pushinteger(L, ((const int64_t *)v->data)[row]);
		break;
	case VEIL_T_FLOAT:
		lua_pushnumber(L, ((const double *)v->data)[row]);
		break;
	case VEIL_T_BOOL:
		lua_pushboolean(L, ((const uint8_t *)v->data)[row]);
		break;
	case VEIL_T_DATE:
		datefmt_format(((const int32_t *)v->data)[row], date);
		lua_pushlstring(L, date, DATEFMT_LEN);
		break;
	case VEIL_T_CATEGORY:
		push_cat(c, r.id, v, ((const uint32_t *)v->data)[row]);
		break;
	case VEIL_T_STRING:
		p = table_str(v, row, &len);
		lua_pushlstring(L, p, len);
		break;
	}
}

int
rt_resolve(lua_State *L, struct pnode *n, const char *name,
    struct colref *out)
{
	struct rt_ctx *c = rt_ctx(L);
	int col, i;

	for (; n != NULL; n = n->parent)
		if (n->kind == P_DERIVE && strcmp(n->dcol->name, name) == 0) {
			for (i = 0; i < c->ndcols; i++)
				if (c->dcols[i] == n->dcol)
					break;
			out->derived = 1;
			out->id = i;
			return 0;
		}
	if ((col = table_find(c->t, name)) < 0)
		return -1;
	out->derived = 0;
	out->id = col;
	return 0;
}

/* }====== */

/* {====== the row proxy */

static int
row_index(lua_State *L)
{
	/* Only reachable through the row metatable: arg 1 is a row. */
	struct rowud *u = lua_touserdata(L, 1);
	struct colref r;
	lua_Integer enc;

	lua_getiuservalue(L, 1, 1);
	lua_pushvalue(L, 2);
	if (lua_rawget(L, -2) != LUA_TNUMBER)
		return luaL_error(L, "row has no column '%s'",
		    lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
	enc = lua_tointeger(L, -1);
	r.derived = enc < 0;
	r.id = (int)(enc < 0 ? -enc - 1 : enc);
	rowfn_push_value(u->c, r, u->row);
	return 1;
}

static int
row_newindex(lua_State *L)
{
	return luaL_error(L, "rows are read-only");
}

/* A row proxy for functions of node n: its visible columns by name. */
static void
push_row(lua_State *L, struct rt_ctx *c, struct pnode *n)
{
	struct rowud *u;
	unsigned int i;
	int k;

	u = lua_newuserdatauv(L, sizeof(*u), 1);
	u->c = c;
	u->row = 0;
	if (luaL_newmetatable(L, RT_ROW)) {
		lua_pushcfunction(L, row_index);
		lua_setfield(L, -2, "__index");
		lua_pushcfunction(L, row_newindex);
		lua_setfield(L, -2, "__newindex");
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "__metatable");
	}
	lua_setmetatable(L, -2);
	lua_newtable(L);
	for (i = 0; i < table_ncols(c->t); i++) {
		lua_pushinteger(L, i);
		lua_setfield(L, -2, table_column(c->t, i)->name);
	}
	/* derived columns upstream of n shadow table columns */
	for (; n != NULL; n = n->parent)
		if (n->kind == P_DERIVE) {
			for (k = 0; k < c->ndcols; k++)
				if (c->dcols[k] == n->dcol)
					break;
			lua_getfield(L, -1, n->dcol->name);
			if (lua_isnil(L, -1) || lua_tointeger(L, -1) >= 0) {
				lua_pushinteger(L, -(lua_Integer)k - 1);
				lua_setfield(L, -3, n->dcol->name);
			}
			lua_pop(L, 1);
		}
	lua_setiuservalue(L, -2, 1);
}

/* }====== */

/* {====== purifying functions */

/* The frozen environment row functions see (built once per job). */
static void
push_rowenv(lua_State *L)
{
	static const char *const keep[] = { "assert", "error", "ipairs",
	    "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "select",
	    "tonumber", "tostring", "type", "xpcall", "string", "table",
	    "utf8", "_VERSION", NULL };
	int i, env;

	if (lua_getfield(L, LUA_REGISTRYINDEX, "veil.rowenv") == LUA_TTABLE)
		return;
	lua_pop(L, 1);
	lua_newtable(L);
	env = lua_gettop(L);
	luastate_push_env(L);
	for (i = 0; keep[i] != NULL; i++) {
		lua_getfield(L, -1, keep[i]);
		lua_setfield(L, env, keep[i]);
	}
	/* math without its state: no random, no randomseed (copied from
	 * the library itself: the job's math is an empty proxy) */
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_getfield(L, -1, LUA_MATHLIBNAME);
	lua_remove(L, -2);
	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, -3) != 0) {
		const char *k = lua_tostring(L, -2);

		if (strcmp(k, "random") == 0 || strcmp(k, "randomseed") == 0) {
			lua_pop(L, 1);
			continue;
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -4);
	}
	luastate_freeze(L, -1);
	lua_setfield(L, env, "math");
	lua_pop(L, 3);		/* math copy, math, job env */
	luastate_freeze(L, env);
	lua_remove(L, env);
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "veil.rowenv");
}

static void purify(lua_State *L, int fnidx, int visited, int list,
    int *setupval);

/* Replaces the value at the top by its frozen deep copy. */
static void
snapshot(lua_State *L, int visited, int list, int *setupval)
{
	int src = lua_gettop(L), copy;

	if (lua_type(L, src) == LUA_TFUNCTION) {
		if (!lua_iscfunction(L, src))
			purify(L, src, visited, list, setupval);
		return;
	}
	if (lua_type(L, src) != LUA_TTABLE)
		return;
	lua_pushvalue(L, src);
	if (lua_rawget(L, visited) != LUA_TNIL) {	/* seen: its copy */
		lua_replace(L, src);
		return;
	}
	lua_pop(L, 1);
	luaL_checkstack(L, 8, "row function state too deep");
	lua_newtable(L);
	copy = lua_gettop(L);
	luastate_freeze(L, copy);	/* proxy, at copy + 1 */
	lua_pushvalue(L, src);
	lua_pushvalue(L, copy + 1);
	lua_rawset(L, visited);
	lua_pushnil(L);
	while (lua_next(L, src) != 0) {
		snapshot(L, visited, list, setupval);
		lua_pushvalue(L, -2);
		snapshot(L, visited, list, setupval);
		lua_insert(L, -2);
		lua_rawset(L, copy);
	}
	lua_replace(L, src);	/* the proxy replaces the original */
	lua_settop(L, src);
}

/*
 * Gives every upvalue of the Lua function at fnidx a private cell holding
 * the row environment (for _ENV) or a snapshot of its value, and appends
 * (function, index, value) to the restore list at list: every function
 * reachable from a row function is reset before each row, not only the
 * row function itself. Sets *setupval if any of them (or a function
 * nested in one) may assign an upvalue: otherwise, the cells never
 * change and the reset is skipped.
 */
static void
purify(lua_State *L, int fnidx, int visited, int list, int *setupval)
{
	const char *name;
	lua_Integer n;
	int i;

	fnidx = lua_absindex(L, fnidx);
	lua_pushvalue(L, fnidx);
	if (lua_rawget(L, visited) != LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_pushvalue(L, fnidx);
	lua_pushboolean(L, 1);
	lua_rawset(L, visited);
	(void)rowprog_read(L, fnidx, NULL, setupval);
	for (i = 1; (name = lua_getupvalue(L, fnidx, i)) != NULL; i++) {
		if (strcmp(name, "_ENV") == 0) {
			lua_pop(L, 1);
			push_rowenv(L);
		} else
			snapshot(L, visited, list, setupval);
		n = (lua_Integer)lua_rawlen(L, list);
		lua_pushvalue(L, fnidx);
		lua_rawseti(L, list, n + 1);
		lua_pushinteger(L, i);
		lua_rawseti(L, list, n + 2);
		lua_pushvalue(L, -1);
		lua_rawseti(L, list, n + 3);
		/* a private cell: a fresh closure's upvalue, joined */
		lua_getfield(L, LUA_REGISTRYINDEX, "veil.cellmaker");
		lua_call(L, 0, 1);
		lua_upvaluejoin(L, fnidx, i, -1, 1);
		lua_pop(L, 1);
		lua_setupvalue(L, fnidx, i);
	}
}

void
rowfn_prepare(lua_State *L, int fnidx, struct pnode *n, struct rowfn *rf)
{
	struct rt_ctx *c = rt_ctx(L);
	int visited, setupval = 0, dummy = 0;

	fnidx = lua_absindex(L, fnidx);
	if (lua_type(L, fnidx) != LUA_TFUNCTION || lua_iscfunction(L, fnidx))
		luaL_error(L, "expected a Lua function of one row");
	if (lua_getfield(L, LUA_REGISTRYINDEX, "veil.cellmaker") !=
	    LUA_TFUNCTION) {
		lua_pop(L, 1);
		if (luaL_loadbufferx(L, cell_src, sizeof(cell_src) - 1,
		    "=cell", "t") != LUA_OK)
			lua_error(L);
		lua_setfield(L, LUA_REGISTRYINDEX, "veil.cellmaker");
	} else
		lua_pop(L, 1);
	lua_newtable(L);		/* the restore list */
	lua_newtable(L);
	visited = lua_gettop(L);
	purify(L, fnidx, visited, visited - 1, &setupval);
	lua_pop(L, 1);
	rf->nup = (int)lua_rawlen(L, -1) / 3;
	rf->restore = setupval && rf->nup > 0;
	rf->snap_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushvalue(L, fnidx);
	rf->fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	push_row(L, c, n);
	rf->row_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	/* compiled after purify(): its upvalues hold their row values */
	rf->prog = rowprog_read(L, fnidx, n, &dummy);
	rf->prog_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

struct batch {
	struct rt_ctx	*c;
	struct rowfn	*rf;
	const uint32_t	*sel;
	uint32_t	 n, pos;
	rowfn_cb	 cb;
	void		*arg;
	uint64_t	 compiled;	/* rows the compiled form answered */
};

/*
 * Runs rows from b->pos on, under one pcall. Per row: the compiled form,
 * if there is one and it can answer; else restore the snapshot (if the
 * upvalues can change at all), re-arm the per-row cap, call. An error
 * ends the batch at b->pos; rowfn_each() counts it and resumes.
 * Stack: 1 batch, 2 function, 3 row proxy, 4 snapshot.
 */
static int
batch_run(lua_State *L)
{
	struct batch *b = lua_touserdata(L, 1);
	struct rowud *u = lua_touserdata(L, 3);
	const struct rowprog *prog = b->rf->prog;
	struct rowval v;
	int i, up, nup = b->rf->restore ? b->rf->nup : 0;
	int cap = (int)b->c->job->row_insns;
	uint32_t row;

	for (; b->pos < b->n; b->pos++) {
		row = b->sel != NULL ? b->sel[b->pos] : b->pos;
		if (prog != NULL) {
			/* no Lua runs here to notice the job's timer */
			if ((b->pos & 4095) == 0 && luastate_job_killed(L))
				luaL_error(L, "cpu limit exceeded");
			if (rowprog_eval(prog, row, &v)) {
				b->compiled++;
				b->cb(b->c, b->pos, row, 1, &v, b->arg);
				continue;
			}
		}
		for (i = 0; i < nup; i++) {	/* (fn, index, value) */
			lua_rawgeti(L, 4, 3 * i + 1);
			lua_rawgeti(L, 4, 3 * i + 2);
			up = (int)lua_tointeger(L, -1);
			lua_pop(L, 1);
			lua_rawgeti(L, 4, 3 * i + 3);
			lua_setupvalue(L, -2, up);
			lua_pop(L, 1);
		}
		u->row = row;
		luastate_arm(L, cap);
		lua_pushvalue(L, 2);
		lua_pushvalue(L, 3);
		lua_call(L, 1, 1);
		if (luastate_killed(L))	/* a pcall inside caught the cap */
			luaL_error(L, "cpu limit exceeded");
		b->cb(b->c, b->pos, row, 1, NULL, b->arg);
	}
	return 0;
}

int
rowfn_each(struct rt_ctx *c, struct rowfn *rf, const uint32_t *sel,
    uint32_t n, rowfn_cb cb, void *arg)
{
	lua_State *L = c->L;
	struct batch b;
	enum lua_fail f;

	b.c = c;
	b.rf = rf;
	b.sel = sel;
	b.n = n;
	b.pos = 0;
	b.cb = cb;
	b.arg = arg;
	b.compiled = 0;
	while (b.pos < n) {
		lua_pushcfunction(L, batch_run);
		lua_pushlightuserdata(L, &b);
		lua_rawgeti(L, LUA_REGISTRYINDEX, rf->fn_ref);
		lua_rawgeti(L, LUA_REGISTRYINDEX, rf->row_ref);
		lua_rawgeti(L, LUA_REGISTRYINDEX, rf->snap_ref);
		c->in_row = 1;
		f = luastate_pcall(L, 4, 0);
		luastate_disarm(L);
		c->in_row = 0;
		c->stats->row_compiled += b.compiled;
		b.compiled = 0;
		if (f == LF_OK)
			break;
		lua_pop(L, 1);	/* the message: withheld, only counted */
		if (luastate_job_killed(L))
			return -1;
		if (f == LF_CPU)
			c->stats->row_overruns++;
		else
			c->stats->row_errors++;
		cb(c, b.pos, sel != NULL ? sel[b.pos] : b.pos, 0, NULL, arg);
		b.pos++;
	}
	return 0;
}

/* }====== */
