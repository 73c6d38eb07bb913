/*
 * luadata.h: evaluates a Lua data file (a schema or a policy).
 *
 * The file runs in a Lua state with no libraries at all, text chunks
 * only, under an allocator cap and an instruction cap, and must return a
 * table. The caller walks the table with the plain Lua API (and the
 * luadata_* helpers below, which never raise errors) and then closes
 * the state.
 */
#ifndef VEIL_LUADATA_H
#define VEIL_LUADATA_H

#include <stddef.h>

#include <lua.h>

#include "error.h"

#define LUADATA_MAX_FILE	(4u << 20)	/* bytes of source */
#define LUADATA_MAX_MEM		(64u << 20)	/* bytes of Lua heap */
#define LUADATA_MAX_INSNS	10000000UL	/* VM instructions */

/*
 * Evaluates the len bytes at src, named name in messages. On success
 * returns 0 with *Lp a state whose stack holds the returned table at
 * index 1; the caller frees it with luadata_close(). On failure returns VEIL_E_LUA
 * (syntax error, runtime error, limit) or VEIL_E_SCHEMA (the chunk did
 * not return a table), with err set and *Lp NULL.
 */
int	 luadata_eval(const char *src, size_t len, const char *name,
	    lua_State **Lp, struct veil_err *err);
/* The same, reading the file at path (at most LUADATA_MAX_FILE bytes). */
int	 luadata_eval_file(const char *path, lua_State **Lp,
	    struct veil_err *err);

/*
 * Reads the whole file at path into a NUL-terminated malloc'd buffer of at
 * most max bytes. Returns 0 or VEIL_E_IO / VEIL_E_LIMIT with err set.
 */
int	 luadata_slurp(const char *path, size_t max, char **bufp,
	    size_t *lenp, struct veil_err *err);

/* Closes a state from luadata_eval(); NULL is a no-op. */
void	 luadata_close(lua_State *L);

/* The Lua type name of the value at idx ("nil", "table", ...). */
const char *luadata_typename(lua_State *L, int idx);
/*
 * Is the table at idx a sequence 1..n with no other keys? Stores n.
 * Never raises: uses lua_next only on a table known to be a table.
 */
int	 luadata_is_array(lua_State *L, int idx, size_t *np);

#endif /* VEIL_LUADATA_H */
