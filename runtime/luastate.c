/*
 * luastate.c: the restricted Lua state of a job (see luastate.h).
 *
 * The chunk's _ENV is a fresh table holding copies of the allowed base
 * functions and read-only proxies of the allowed libraries; the real
 * globals table, with load and friends, is never handed to job code.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luastate.h"

struct lstate {
	size_t			 used, limit;
	int			 hit;
	volatile sig_atomic_t	 killed;		/* this call overran */
	volatile sig_atomic_t	 job_killed;	/* the job's time is up */
	int			 log_fd;
	int			 allow_print;
};

static const char *const base_keep[] = {
	"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
	"rawequal", "rawget", "rawlen", "select", "setmetatable", "tonumber",
	"tostring", "type", "xpcall", "_VERSION", NULL
};

static struct lstate *
lst(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct lstate *st = ud;
	void *np;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		st->used -= osize;
		return NULL;
	}
	if (nsize > osize && nsize - osize > st->limit - st->used) {
		st->hit = 1;
		return NULL;
	}
	if ((np = realloc(ptr, nsize)) == NULL) {
		st->hit = 1;
		return NULL;
	}
	st->used = st->used - osize + nsize;
	return np;
}

/* After the first kill: raise again at every line and every 1000 ops. */
static void
hook_again(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	luaL_error(L, "cpu limit exceeded");
}

static void
hook_kill(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lst(L)->killed = 1;
	lua_sethook(L, hook_again, LUA_MASKLINE | LUA_MASKCOUNT, 1000);
	luaL_error(L, "cpu limit exceeded");
}

void
luastate_arm(lua_State *L, int n)
{
	lua_sethook(L, hook_kill, LUA_MASKCOUNT, n > 0 ? n : 1);
}

void
luastate_arm_job(lua_State *L)
{
	lst(L)->job_killed = 1;
	luastate_arm(L, 1);
}

int
luastate_job_killed(lua_State *L)
{
	return lst(L)->job_killed;
}

void
luastate_disarm(lua_State *L)
{
	struct lstate *st = lst(L);

	lua_sethook(L, NULL, 0, 0);
	st->killed = 0;
	/* A timer signal may have armed us meanwhile: keep that kill. */
	if (st->job_killed)
		luastate_arm(L, 1);
}

size_t
luastate_mem_used(lua_State *L)
{
	return lst(L)->used;
}

int
luastate_mem_hit(lua_State *L)
{
	return lst(L)->hit;
}

static int
ro_newindex(lua_State *L)
{
	return luaL_error(L, "attempt to modify a read-only table");
}

static int
ro_len(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__index");
	lua_pushinteger(L, (lua_Integer)lua_rawlen(L, -1));
	return 1;
}

/* next() over the hidden table, which never leaves this closure. */
static int
ro_next(lua_State *L)
{
	lua_settop(L, 2);
	if (lua_next(L, lua_upvalueindex(1)) == 0) {
		lua_pushnil(L);
		return 1;
	}
	return 2;
}

static int
ro_pairs(lua_State *L)
{
	lua_getmetatable(L, 1);
	lua_getfield(L, -1, "__index");
	lua_pushcclosure(L, ro_next, 1);
	lua_pushvalue(L, 1);	/* the proxy as state: it is read-only */
	lua_pushnil(L);
	return 3;
}

void
luastate_freeze(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);			/* proxy */
	lua_createtable(L, 0, 5);		/* its metatable */
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ro_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushcfunction(L, ro_len);
	lua_setfield(L, -2, "__len");
	lua_pushcfunction(L, ro_pairs);
	lua_setfield(L, -2, "__pairs");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

/*
 * setmetatable without finalizers: Lua runs __gc with hooks off, so a
 * looping finalizer could never be stopped by the CPU cap.
 */
static int
l_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "finalizers (__gc) are not "
			    "allowed in jobs");
		lua_pop(L, 1);
	}
	lua_getfield(L, LUA_REGISTRYINDEX, "veil.setmetatable");
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int
l_print(lua_State *L)
{
	struct lstate *st = lst(L);
	luaL_Buffer b;
	const char *s;
	size_t len;
	int i, n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (i = 1; i <= n; i++) {
		s = luaL_tolstring(L, i, &len);
		if (i > 1)
			luaL_addchar(&b, '\t');
		luaL_addlstring(&b, s, len > 4096 ? 4096 : len);
		lua_pop(L, 1);
	}
	luaL_addchar(&b, '\n');
	luaL_pushresult(&b);
	s = lua_tolstring(L, -1, &len);
	(void)!write(st->log_fd, s, len);
	return 0;
}

/* Copies lib (on the stack top) without the names in drop, frozen. */
static void
frozen_copy(lua_State *L, const char *const *drop)
{
	int src = lua_gettop(L), i, skip;

	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, src) != 0) {
		skip = 0;
		for (i = 0; drop != NULL && drop[i] != NULL; i++)
			if (lua_type(L, -2) == LUA_TSTRING &&
			    strcmp(lua_tostring(L, -2), drop[i]) == 0)
				skip = 1;
		if (skip) {
			lua_pop(L, 1);
			continue;
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, -4);
	}
	luastate_freeze(L, -1);
	lua_remove(L, -2);	/* the copy stays reachable via the proxy */
	lua_remove(L, -2);	/* the original */
}

/* Builds the job environment and leaves it in the registry. */
static int
build_env(lua_State *L)
{
	static const char *const no_dump[] = { "dump", NULL };
	struct lstate *st = lst(L);
	int i, env;

	luaL_requiref(L, "_G", luaopen_base, 1);
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
	luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
	luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
	lua_settop(L, 0);
	/* The real globals keep nothing dangerous either. */
	lua_pushglobaltable(L);
	for (i = 0; i < 8; i++) {
		static const char *const bad[] = { "load", "loadfile", "dofile",
		    "require", "collectgarbage", "rawset", "print", "warn" };
		lua_pushnil(L);
		lua_setfield(L, 1, bad[i]);
	}
	lua_newtable(L);
	env = lua_gettop(L);
	for (i = 0; base_keep[i] != NULL; i++) {
		lua_getfield(L, 1, base_keep[i]);
		lua_setfield(L, env, base_keep[i]);
	}
	lua_getfield(L, 1, "setmetatable");
	lua_setfield(L, LUA_REGISTRYINDEX, "veil.setmetatable");
	lua_pushcfunction(L, l_setmetatable);
	lua_setfield(L, env, "setmetatable");
	if (st->allow_print) {
		lua_pushcfunction(L, l_print);
		lua_setfield(L, env, "print");
	}
	lua_getfield(L, 1, LUA_STRLIBNAME);
	frozen_copy(L, no_dump);
	/* ("x"):upper() goes through the string metatable: lock it too. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushvalue(L, -3);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	lua_setfield(L, env, LUA_STRLIBNAME);
	lua_getfield(L, 1, LUA_TABLIBNAME);
	frozen_copy(L, NULL);
	lua_setfield(L, env, LUA_TABLIBNAME);
	lua_getfield(L, 1, LUA_MATHLIBNAME);
	frozen_copy(L, NULL);
	lua_setfield(L, env, LUA_MATHLIBNAME);
	lua_getfield(L, 1, LUA_UTF8LIBNAME);
	frozen_copy(L, NULL);
	lua_setfield(L, env, LUA_UTF8LIBNAME);
	lua_pushvalue(L, env);
	lua_setfield(L, env, "_G");
	lua_pushvalue(L, env);
	lua_setfield(L, LUA_REGISTRYINDEX, "veil.env");
	lua_settop(L, 0);
	return 0;
}

lua_State *
luastate_new(const struct luastate_opts *o)
{
	struct lstate *st;
	lua_State *L;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->limit = o->mem_limit;
	st->log_fd = o->log_fd;
	st->allow_print = o->allow_print;
	if ((L = lua_newstate(capped_alloc, st)) == NULL) {
		free(st);
		return NULL;
	}
	lua_pushcfunction(L, build_env);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		luastate_close(L);
		return NULL;
	}
	return L;
}

void
luastate_close(lua_State *L)
{
	void *st;

	if (L == NULL)
		return;
	lua_getallocf(L, &st);
	lua_sethook(L, NULL, 0, 0);
	lua_close(L);
	free(st);
}

void
luastate_push_env(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "veil.env");
}

static enum lua_fail
classify(lua_State *L, int status)
{
	struct lstate *st = lst(L);

	if (lua_type(L, -1) != LUA_TSTRING) {
		lua_pop(L, 1);
		lua_pushliteral(L, "error object is not a string");
	}
	if (st->killed || st->job_killed)
		return LF_CPU;
	if (status == LUA_ERRMEM || (st->hit &&
	    strcmp(lua_tostring(L, -1), "not enough memory") == 0))
		return LF_MEMORY;
	if (status == LUA_ERRSYNTAX)
		return LF_SYNTAX;
	return LF_RUNTIME;
}

enum lua_fail
luastate_pcall(lua_State *L, int nargs, int nret)
{
	struct lstate *st = lst(L);
	int status = lua_pcall(L, nargs, nret, 0);

	if (status == LUA_OK && (st->killed || st->job_killed)) {
		/* a pcall inside swallowed the kill: it still counts */
		lua_pop(L, nret);
		lua_pushliteral(L, "cpu limit exceeded");
		return LF_CPU;
	}
	return status == LUA_OK ? LF_OK : classify(L, status);
}

int
luastate_killed(lua_State *L)
{
	struct lstate *st = lst(L);

	return st->killed || st->job_killed;
}

enum lua_fail
luastate_run(lua_State *L, const char *src, size_t len, const char *name,
    int nret)
{
	int status;

	status = luaL_loadbufferx(L, src, len, name, "t");
	if (status != LUA_OK)
		return classify(L, status);
	luastate_push_env(L);
	lua_setupvalue(L, -2, 1);	/* _ENV */
	return luastate_pcall(L, 0, nret);
}
