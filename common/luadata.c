/*
 * luadata.c: evaluates schema and policy files in an empty Lua state.
 *
 * No library is opened, so the chunk sees no print, no pcall, no string
 * methods: only constructors, arithmetic and local functions. The count
 * hook raises an error once the instruction budget is spent, and since
 * there is no pcall in the state nothing can catch it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "luadata.h"

#define HOOK_EVERY	1000

struct ldstate {
	size_t		 used, limit;
	unsigned long	 insns, max_insns;
};

static void *
capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct ldstate *st = ud;
	void *np;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		st->used -= osize;
		return NULL;
	}
	if (nsize > osize && nsize - osize > st->limit - st->used)
		return NULL;
	if ((np = realloc(ptr, nsize)) == NULL)
		return NULL;
	st->used = st->used - osize + nsize;
	return np;
}

static void
count_hook(lua_State *L, lua_Debug *ar)
{
	struct ldstate *st;

	lua_getallocf(L, (void **)&st);
	st->insns += HOOK_EVERY;
	if (st->insns > st->max_insns) {
		/* In a hook, level 1 is the hook: name the running line. */
		if (lua_getinfo(L, "Sl", ar) != 0 && ar->currentline > 0)
			luaL_error(L, "%s:%d: instruction limit (%d) exceeded",
			    ar->short_src, ar->currentline,
			    (int)st->max_insns);
		luaL_error(L, "instruction limit (%d) exceeded",
		    (int)st->max_insns);
	}
}

int
luadata_eval(const char *src, size_t len, const char *name, lua_State **Lp,
    struct veil_err *err)
{
	struct ldstate *st = NULL;
	lua_State *L = NULL;
	char chunkname[256];
	int r = VEIL_E_LUA;

	*Lp = NULL;
	if (len > LUADATA_MAX_FILE)
		return veil_seterr(err, VEIL_E_LIMIT, "%s: %zu bytes, at most "
		    "%u allowed", name, len, LUADATA_MAX_FILE);
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory",
		    name);
	st->limit = LUADATA_MAX_MEM;
	st->max_insns = LUADATA_MAX_INSNS;
	if ((L = lua_newstate(capped_alloc, st)) == NULL) {
		free(st);
		return veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory",
		    name);
	}
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	snprintf(chunkname, sizeof(chunkname), "=%s", name);
	if (luaL_loadbufferx(L, src, len, chunkname, "t") != LUA_OK ||
	    lua_pcall(L, 0, 1, 0) != LUA_OK) {
		const char *msg = lua_type(L, -1) == LUA_TSTRING ?
		    lua_tostring(L, -1) : "error object is not a string";
		size_t nl = strlen(name);

		/* Lua prefixes "name:line:" to most messages, not all. */
		if (strncmp(msg, name, nl) == 0 && msg[nl] == ':')
			r = veil_seterr(err, VEIL_E_LUA, "%s", msg);
		else
			r = veil_seterr(err, VEIL_E_LUA, "%s: %s", name,
			    strcmp(msg, "not enough memory") == 0 ?
			    "memory limit exceeded (not enough memory)" : msg);
		goto out;
	}
	lua_sethook(L, NULL, 0, 0);
	if (!lua_istable(L, -1)) {
		r = veil_seterr(err, VEIL_E_SCHEMA, "%s: the file must return "
		    "a table (it returned %s)", name, luadata_typename(L, -1));
		goto out;
	}
	*Lp = L;
	L = NULL;
	r = 0;
 out:
	if (L != NULL) {
		lua_close(L);
		free(st);
	}
	return r;
}

int
luadata_slurp(const char *path, size_t max, char **bufp, size_t *lenp,
    struct veil_err *err)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r;

	*bufp = NULL;
	*lenp = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return veil_seterr(err, VEIL_E_IO, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		r = veil_seterr(err, VEIL_E_IO, "%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)sb.st_size > max) {
		r = veil_seterr(err, VEIL_E_LIMIT, "%s: %lld bytes, at most "
		    "%zu allowed", path, (long long)sb.st_size, max);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		r = veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len < (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = veil_seterr(err, VEIL_E_IO, "%s: read: %s", path,
			    n == 0 ? "file shrank" : strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	r = 0;
 out:
	free(buf);
	close(fd);
	return r;
}

int
luadata_eval_file(const char *path, lua_State **Lp, struct veil_err *err)
{
	char *src;
	size_t len;
	int r;

	*Lp = NULL;
	if ((r = luadata_slurp(path, LUADATA_MAX_FILE, &src, &len, err)) != 0)
		return r;
	r = luadata_eval(src, len, path, Lp, err);
	free(src);
	return r;
}

void
luadata_close(lua_State *L)
{
	void *st;

	if (L == NULL)
		return;
	lua_getallocf(L, &st);
	lua_close(L);
	free(st);
}

const char *
luadata_typename(lua_State *L, int idx)
{
	return lua_typename(L, lua_type(L, idx));
}

int
luadata_is_array(lua_State *L, int idx, size_t *np)
{
	size_t n = 0, count = 0;
	lua_Integer k;
	int isnum;

	idx = lua_absindex(L, idx);
	*np = 0;
	if (!lua_istable(L, idx))
		return 0;
	n = (size_t)lua_rawlen(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		k = lua_tointegerx(L, -1, &isnum);
		if (lua_type(L, -1) != LUA_TNUMBER || !isnum || k < 1 ||
		    (size_t)k > n) {
			lua_pop(L, 1);
			return 0;
		}
		count++;
	}
	if (count != n)
		return 0;
	*np = n;
	return 1;
}
