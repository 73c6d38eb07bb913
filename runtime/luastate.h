/*
 * luastate.h: the restricted Lua 5.4 state a job runs in, one per job,
 * never reused (runtime/, inside veil-worker).
 *
 * Libraries: base, string, table, math and utf8, opened one by one; no
 * load, loadfile, dofile, require, collectgarbage, rawset, string.dump;
 * print only where DESIGN allows it (mode none, or mock data), writing to
 * the worker's log descriptor. Library tables and the string metatable
 * are read-only. Memory is capped in the allocator. CPU: the parent's
 * deadline is the real limit; inside, luastate_arm() makes the VM raise a
 * "cpu" error at the next instruction (from a timer signal, or for a
 * per-row cap), and once raised the error is re-raised on every line so
 * that pcall cannot swallow it.
 */
#ifndef VEIL_LUASTATE_H
#define VEIL_LUASTATE_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

/* Why a protected call failed. */
enum lua_fail {
	LF_OK = 0,
	LF_SYNTAX,
	LF_RUNTIME,
	LF_MEMORY,
	LF_CPU,
};

struct luastate_opts {
	size_t		 mem_limit;	/* bytes of Lua heap */
	int		 allow_print;	/* mode none or mock data */
	int		 log_fd;	/* where print writes */
};

/* Creates the state. Returns NULL if even that does not fit. */
lua_State	*luastate_new(const struct luastate_opts *);
void		 luastate_close(lua_State *);

/*
 * Loads a text chunk (bytecode is refused) and calls it with nret results
 * under the state's limits. Returns LF_OK with the results on the stack,
 * or the failure class with the message on the stack.
 */
enum lua_fail	 luastate_run(lua_State *, const char *src, size_t len,
		    const char *name, int nret);
/* Calls the function on the stack below nargs arguments (lua_pcall). */
enum lua_fail	 luastate_pcall(lua_State *, int nargs, int nret);

/*
 * CPU: luastate_arm(L, n) raises a "cpu" error after about n instructions
 * (n = 1: at once; async-signal-safe). luastate_disarm() clears the hook
 * and the kill state, for the next row.
 */
void		 luastate_arm(lua_State *, int n);
void		 luastate_disarm(lua_State *);
/*
 * The job's CPU time is up (called from the timer signal handler): arm
 * at once, and keep the kill through every later disarm.
 */
void		 luastate_arm_job(lua_State *);
int		 luastate_job_killed(lua_State *);
/* Did the current call overrun (even if a pcall inside caught it)? */
int		 luastate_killed(lua_State *);
/* Bytes of Lua heap in use, and whether the cap was ever hit. */
size_t		 luastate_mem_used(lua_State *);
int		 luastate_mem_hit(lua_State *);

/* The read-only safe environment of the state (the job's globals). */
void		 luastate_push_env(lua_State *);

/*
 * Makes the table at idx read-only: replaces it in place by an empty
 * proxy whose metatable reads through to a copy, refuses writes, hides
 * itself (__metatable), and supports # and pairs. Pushes the proxy.
 */
void		 luastate_freeze(lua_State *, int idx);

#endif /* VEIL_LUASTATE_H */
