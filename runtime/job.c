/*
 * job.c: rt_run(), one job from chunk to packed partial aggregates (see
 * rt.h). The worker calls it once; the state dies with the job.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "luastate.h"
#include "rt_int.h"

#define MAX_RESULTS	256

static lua_State *volatile running;

static const char *const fail_names[] = {
	"ok", "syntax", "runtime", "memory", "cpu", "result", "internal"
};

const char *
rt_fail_class(enum rt_fail f)
{
	return (unsigned)f <= RT_INTERNAL ? fail_names[f] : "internal";
}

void
rt_cpu_expired(void)
{
	lua_State *L = running;

	if (L != NULL)
		luastate_arm_job(L);
}

static int
open_api(lua_State *L)
{
	rt_open_api(L);
	return 0;
}

struct named {
	const char	*name;
	struct agg	*agg;
};

static int
cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
	    ((const struct named *)b)->name);
}

static enum rt_fail
fail(char *msg, size_t msglen, enum rt_fail f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum rt_fail
fail(char *msg, size_t msglen, enum rt_fail f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return f;
}

/* Checks the returned table (at the top) and collects its aggregations. */
static enum rt_fail
collect(lua_State *L, struct named *out, int *np, char *msg, size_t msglen)
{
	int res = lua_gettop(L), n = 0;

	if (!lua_istable(L, res))
		return fail(msg, msglen, RT_RESULT, "the job returned %s; "
		    "return a table of named aggregations, such as "
		    "return { n = veil.dataset():count() }",
		    luaL_typename(L, res));
	lua_pushnil(L);
	while (lua_next(L, res) != 0) {
		if (lua_type(L, -2) != LUA_TSTRING)
			return fail(msg, msglen, RT_RESULT, "result keys must be "
			    "names (strings), not %ss", luaL_typename(L, -2));
		if (luaL_testudata(L, -1, RT_AGG) == NULL)
			return fail(msg, msglen, RT_RESULT, "result '%s' is a "
			    "%s; return aggregations such as t:count()",
			    lua_tostring(L, -2),
			    luaL_testudata(L, -1, RT_NODE) ? "plan, not an "
			    "aggregation" : luaL_typename(L, -1));
		if (n == MAX_RESULTS)
			return fail(msg, msglen, RT_RESULT, "more than %d "
			    "results", MAX_RESULTS);
		out[n].name = lua_tostring(L, -2);
		out[n].agg = lua_touserdata(L, -1);
		n++;
		lua_pop(L, 1);
	}
	if (n == 0)
		return fail(msg, msglen, RT_RESULT, "the job returned no "
		    "results");
	qsort(out, (size_t)n, sizeof(*out), cmp_named);
	*np = n;
	return RT_OK;
}

static void
ctx_free(struct rt_ctx *c)
{
	int i;

	for (i = 0; i < c->ndcols; i++) {
		free(c->dcols[i]->name);
		free(c->dcols[i]->tag);
		free(c->dcols[i]->num);
		free(c->dcols[i]);
	}
	free(c->dcols);
	free(c->views);
	free(c->prefaulted);
	free(c->base);
	free(c->unit);
}

enum rt_fail
rt_run(const struct rt_job *job, const struct table *t, msgpack_packer *pk,
    char *msg, size_t msglen, struct rt_stats *stats)
{
	static const enum rt_fail lf2rt[] = { RT_OK, RT_SYNTAX, RT_RUNTIME,
	    RT_MEMORY, RT_CPU };
	struct luastate_opts lo;
	struct rt_ctx c;
	struct named *res = NULL;
	enum lua_fail lf;
	enum rt_fail rf = RT_INTERNAL;
	lua_State *L = NULL;
	unsigned int i;
	int n = 0, k, r;

	msg[0] = '\0';
	memset(stats, 0, sizeof(*stats));
	memset(&c, 0, sizeof(c));
	stats->rows = table_nrows(t);
	if (table_nrows(t) >= UINT32_MAX)
		return fail(msg, msglen, RT_INTERNAL, "table too large for one "
		    "worker");
	c.job = job;
	c.t = t;
	c.nrows = (uint32_t)table_nrows(t);
	c.unit_col = -1;
	c.stats = stats;
	for (i = 0; i < table_ncols(t); i++)
		if (table_column(t, i)->flags & TABLE_F_UNIT)
			c.unit_col = (int)i;
	c.row_access = job->mode == RT_MODE_NONE || job->mock;
	memset(&lo, 0, sizeof(lo));
	lo.mem_limit = job->mem_limit;
	lo.allow_print = c.row_access;
	lo.log_fd = job->log_fd;
	if ((L = luastate_new(&lo)) == NULL)
		return fail(msg, msglen, RT_MEMORY, "not enough memory for a "
		    "Lua state");
	c.L = L;
	if ((c.views = calloc((size_t)table_ncols(t) + 1,
	    sizeof(*c.views))) == NULL || (c.prefaulted = calloc(
	    (size_t)table_ncols(t) + 1, 1)) == NULL) {
		rf = fail(msg, msglen, RT_MEMORY, "not enough memory");
		goto out;
	}
	if (rt_bound(&c) != 0) {
		rf = fail(msg, msglen, RT_MEMORY, "not enough memory to bound "
		    "contributions");
		goto out;
	}
	stats->rows_kept = c.nbase;
	stats->units = c.nunits;
	lua_pushlightuserdata(L, &c);
	lua_setfield(L, LUA_REGISTRYINDEX, RT_CTX);
	lua_newtable(L);
	c.cat_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushcfunction(L, open_api);
	if (luastate_pcall(L, 0, 0) != LF_OK) {
		rf = fail(msg, msglen, RT_MEMORY, "not enough memory");
		goto out;
	}
	running = L;
	lf = luastate_run(L, job->source, job->source_len, job->name, 1);
	if (lf != LF_OK) {
		rf = fail(msg, msglen, lf2rt[lf], "%s", lua_tostring(L, -1));
		goto out;
	}
	if ((res = calloc(MAX_RESULTS, sizeof(*res))) == NULL) {
		rf = fail(msg, msglen, RT_MEMORY, "not enough memory");
		goto out;
	}
	if ((rf = collect(L, res, &n, msg, msglen)) != RT_OK)
		goto out;
	msgpack_pack_map(pk, (size_t)n);
	for (k = 0; k < n; k++) {
		msgpack_pack_str(pk, strlen(res[k].name));
		msgpack_pack_str_body(pk, res[k].name, strlen(res[k].name));
		if ((r = rt_pack_agg(&c, res[k].agg, pk)) != 0) {
			if (luastate_job_killed(L))
				rf = fail(msg, msglen, RT_CPU, "cpu limit "
				    "exceeded");
			else if (r == -2)
				rf = fail(msg, msglen, RT_RESULT, "result '%s': "
				    "more than 100000 groups", res[k].name);
			else
				rf = fail(msg, msglen, RT_MEMORY, "result '%s': "
				    "not enough memory", res[k].name);
			goto out;
		}
	}
	rf = RT_OK;
 out:
	running = NULL;
	stats->lua_bytes = luastate_mem_used(L);
	free(res);
	/* Finalizers the job left behind die at their first instruction. */
	luastate_arm_job(L);
	luastate_close(L);
	ctx_free(&c);
	return rf;
}
