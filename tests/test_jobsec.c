/*
 * test_jobsec.c: buyer jobs that try to get out, run through the real
 * veil-worker under the spawner, as veild runs them. Each attempt must
 * end with its own status and class (a runtime error, a syntax error,
 * "memory", "cpu"), never a crash of the worker, never a hang past its
 * wall-clock limit: loading bytecode, reaching debug/io/os/package and
 * friends, changing library tables and the string metatable, memory
 * bombs, infinite loops at top level, inside pcall, in library callbacks
 * and in finalizers. Then what a job may say: print only with mode none
 * or mock data (to the log), error texts in "message". Every test runs
 * twice: in workers started cold, then in children of a fork server, as
 * veild runs jobs (one server for as long as the limits stay the same,
 * so each attempt also meets the server after the last one's child).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "frame.h"
#include "spawner.h"
#include "table.h"

#define NROWS		100	/* 20 units of 5 rows */
#define LUA_MEM		(32u << 20)
#define CPU_MS		600
#define WALL_MS		8000

static char worker_path[512];
static void *tbuf;
static size_t tlen;

static int
setup(void **state)
{
	const char *b = getenv("VEIL_BUILD");
	struct table_builder *tb;
	char id[16];
	int i;

	(void)state;
	snprintf(worker_path, sizeof(worker_path), "%s/veil-worker",
	    b ? b : "build");
	if (access(worker_path, X_OK) != 0 ||
	    (tb = table_builder_new()) == NULL ||
	    table_builder_add_column(tb, "pid", VEIL_T_STRING,
	    VEIL_R_IDENTIFIER, TABLE_F_UNIT) != 0 ||
	    table_builder_add_column(tb, "age", VEIL_T_INT, VEIL_R_QUASI,
	    0) != 1)
		return -1;
	for (i = 0; i < NROWS; i++) {
		snprintf(id, sizeof(id), "p%02d", i / 5);
		if (table_builder_string(tb, 0, id, strlen(id)) != 0 ||
		    table_builder_int(tb, 1, 20 + i % 50) != 0)
			return -1;
	}
	if (table_builder_finish(tb, &tbuf, &tlen, NULL) != 0)
		return -1;
	table_builder_free(tb);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(tbuf);
	return 0;
}

/* {====== running a lua job in veil-worker */

struct ljob {
	const char	*src;
	size_t		 len;		/* 0: strlen(src) */
	const char	*mode;		/* NULL: "none" */
	int		 mock;
	uint64_t	 max_rows;	/* max_rows_per_unit */
	uint64_t	 lua_memory;	/* 0: LUA_MEM */
	uint64_t	 row_insns;	/* 0: the worker's default */
	uint32_t	 cpu_ms;	/* 0: 5000 */
};

/* The second round: jobs in children of one fork server (spawner.h). */
static int use_zygote;
static struct spawner_zygote *zyg;
static struct spawner_limits zyg_lim;
static int zyg_fd = -1;

/* A child of the fork server for limits l, given its job. */
static struct spawner *
zygote_job(const struct spawner_limits *l, const void *job, size_t len)
{
	struct spawner *s;
	struct veil_err err;

	if (zyg != NULL && (zyg_lim.cpu_ms != l->cpu_ms ||
	    zyg_lim.memory_bytes != l->memory_bytes ||
	    spawner_zygote_broken(zyg))) {
		spawner_zygote_free(zyg);
		zyg = NULL;
	}
	if (zyg_fd == -1 && (zyg_fd = spawner_sealed_memfd("dataset", tbuf,
	    tlen)) == -1)
		fail_msg("memfd failed");
	if (zyg == NULL && (zyg = spawner_zygote_start(worker_path, NULL,
	    &zyg_fd, 1, l, &err)) == NULL)
		fail_msg("spawner_zygote_start: %s", err.msg);
	zyg_lim = *l;
	if ((s = spawner_zygote_fork(zyg, &err)) == NULL)
		fail_msg("spawner_zygote_fork: %s", err.msg);
	if (spawner_submit(s, job, len, &err) != 0)
		fail_msg("spawner_submit: %s", err.msg);
	return s;
}

/* The outcome of the running test, freed by its teardown if it fails. */
static struct spawner_outcome cur;
static int cur_live;

static void
run_job(const struct ljob *j, struct spawner_outcome *out)
{
	struct spawner_limits l;
	struct spawner *s;
	struct veil_err err;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const void *tabs[1];
	size_t lens[1], len = j->len ? j->len : strlen(j->src);
	char *framed;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "lua");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "dataset");
	frame_pack_cstr(&pk, "source");
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, j->src, len);
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, j->mode ? j->mode : "none");
	frame_pack_cstr(&pk, "mock");
	if (j->mock)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	frame_pack_cstr(&pk, "max_rows_per_unit");
	msgpack_pack_uint64(&pk, j->max_rows);
	frame_pack_cstr(&pk, "lua_memory");
	msgpack_pack_uint64(&pk, j->lua_memory ? j->lua_memory : LUA_MEM);
	frame_pack_cstr(&pk, "row_insns");
	msgpack_pack_uint64(&pk, j->row_insns);

	framed = malloc(sb.size + 4);
	assert_non_null(framed);
	framed[0] = (char)(sb.size >> 24);
	framed[1] = (char)(sb.size >> 16);
	framed[2] = (char)(sb.size >> 8);
	framed[3] = (char)sb.size;
	memcpy(framed + 4, sb.data, sb.size);
	l.memory_bytes = 512u << 20;
	l.cpu_ms = j->cpu_ms ? j->cpu_ms : 5000;
	l.wall_ms = WALL_MS;
	l.output_bytes = 65536;
	tabs[0] = tbuf;
	lens[0] = tlen;
	if (use_zygote)
		s = zygote_job(&l, framed, sb.size + 4);
	else
		s = spawner_start(worker_path, NULL, tabs, lens, 1, framed,
		    sb.size + 4, &l, &err);
	free(framed);
	msgpack_sbuffer_destroy(&sb);
	if (s == NULL)
		fail_msg("spawner_start: %s", err.msg);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
	if (out == &cur)
		cur_live = 1;
	/* Whatever the job did, the worker itself held. */
	if (out->status == SPAWN_CRASHED || out->status == SPAWN_SANDBOX ||
	    out->status == SPAWN_MALFORMED || out->status == SPAWN_REFUSED ||
	    out->status == SPAWN_WALL)
		fail_msg("job \"%.60s\": worker ended %s (signal %d, exit %d), "
		    "log: %s", j->src, spawner_status_name(out->status),
		    out->signal, out->exit_code, out->log ? out->log : "");
	assert_true(out->wall_ms < WALL_MS);
}

static void
release(void)
{
	if (cur_live) {
		cur_live = 0;
		spawner_outcome_free(&cur);
	}
}

static int
cleanup(void **state)
{
	(void)state;
	release();
	return 0;
}

/*
 * Runs the job, which must end with status st and (if class is not NULL)
 * that class, with want (if not NULL) in its message.
 */
static void
expect(const struct ljob *j, enum spawner_status st, const char *class,
    const char *want)
{
	run_job(j, &cur);
	if (cur.status != st)
		fail_msg("job \"%.80s\": %s/%s (%s), want %s/%s", j->src,
		    spawner_status_name(cur.status), cur.class, cur.message,
		    spawner_status_name(st), class ? class : "-");
	if (class != NULL && strcmp(cur.class, class) != 0)
		fail_msg("job \"%.80s\": class %s (%s), want %s", j->src,
		    cur.class, cur.message, class);
	if (want != NULL && strstr(cur.message, want) == NULL)
		fail_msg("job \"%.80s\": message \"%s\" lacks \"%s\"", j->src,
		    cur.message, want);
	release();
}

static void
expect_src(const char *src, enum spawner_status st, const char *class,
    const char *want)
{
	struct ljob j;

	memset(&j, 0, sizeof(j));
	j.src = src;
	expect(&j, st, class, want);
}

/* A job in mode dp (no print, no rows) must fail with a runtime error. */
static void
expect_runtime_dp(const char *src, const char *want)
{
	struct ljob j;

	memset(&j, 0, sizeof(j));
	j.src = src;
	j.mode = "dp";
	expect(&j, SPAWN_ERROR, "runtime", want);
}

/* The job must run to its result. */
static void
expect_ok(const char *src)
{
	expect_src(src, SPAWN_FINISHED, NULL, NULL);
}

static uint64_t
stat_of(const struct spawner_outcome *o, const char *k)
{
	const msgpack_object *s = frame_get(&o->frame.data, "stats");
	uint64_t v;

	if (s == NULL || frame_get_uint(s, k, &v) != 0)
		fail_msg("no stat '%s'", k);
	return v;
}

/* }====== */

static void
test_baseline(void **state)
{
	struct ljob j;
	const msgpack_object *a, *g;
	uint64_t u;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "return { n = veil.dataset():count() }";
	j.mode = "dp";
	j.max_rows = 3;
	run_job(&j, &cur);
	if (cur.status != SPAWN_FINISHED)
		fail_msg("%s: %s %s", spawner_status_name(cur.status), cur.class,
		    cur.message);
	assert_true(cur.confinement & CONFINE_SECCOMP);
	assert_non_null(a = frame_get(cur.results, "n"));
	g = frame_get(a, "groups");
	assert_non_null(g);
	assert_int_equal(g->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(g->via.array.size, 1);
	assert_int_equal(frame_get_uint(&g->via.array.ptr[0], "rows", &u), 0);
	assert_int_equal(u, 60);	/* 20 units, 3 rows each */
	assert_int_equal(frame_get_uint(&g->via.array.ptr[0], "units", &u), 0);
	assert_int_equal(u, 20);
	assert_int_equal(stat_of(&cur, "rows"), NROWS);
	assert_int_equal(stat_of(&cur, "rows_kept"), 60);
	assert_int_equal(stat_of(&cur, "units"), 20);
	assert_true(stat_of(&cur, "lua_bytes") > 0);
	assert_true(stat_of(&cur, "lua_bytes") <= LUA_MEM);
	release();
}

static void
test_no_bytecode(void **state)
{
	/* A real Lua 5.4 header, then junk: refused before it is parsed. */
	static const char bc[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08"
	    "\x78\x56\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x28\x77\x40"
	    "\x01\x80\x80\x80\x00\x01\x02\x85";
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = bc;
	j.len = sizeof(bc) - 1;
	expect(&j, SPAWN_ERROR, "syntax", "binary chunk");
	expect_src("\x1bLua", SPAWN_ERROR, "syntax", "binary chunk");
	expect_src("return string.dump(function() end)", SPAWN_ERROR,
	    "runtime", "field 'dump'");
	expect_src("return (''):dump()", SPAWN_ERROR, "runtime", "dump");
	expect_src("return load('return 1')", SPAWN_ERROR, "runtime",
	    "global 'load'");
	expect_src("return _G.load('\\27Lua')", SPAWN_ERROR, "runtime",
	    "field 'load'");
	expect_src("return loadstring('return 1')", SPAWN_ERROR, "runtime",
	    "global 'loadstring'");
}

static void
test_absent_globals(void **state)
{
	static const char *const calls[] = {
		"require('os')", "global 'require'",
		"dofile('/etc/passwd')", "global 'dofile'",
		"loadfile('/etc/passwd')", "global 'loadfile'",
		"collectgarbage('count')", "global 'collectgarbage'",
		"rawset(string, 'x', 1)", "global 'rawset'",
		"print('x')", "global 'print'",
		"warn('@on')", "global 'warn'",
		"io.open('/etc/passwd')", "global 'io'",
		"os.execute('id')", "global 'os'",
		"debug.getregistry()", "global 'debug'",
		"package.loadlib('libc.so.6', 'system')", "global 'package'",
		"coroutine.create(print)", "global 'coroutine'",
		NULL
	};
	char src[256];
	int i;

	(void)state;
	/* all of them at once, every way to name them */
	expect_ok("local names = { 'debug', 'io', 'os', 'package', 'require',\n"
	    "  'dofile', 'loadfile', 'load', 'loadstring', 'collectgarbage',\n"
	    "  'rawset', 'coroutine', 'warn', 'module', 'newproxy' }\n"
	    "for _, n in ipairs(names) do\n"
	    "  if _ENV[n] ~= nil or _G[n] ~= nil or rawget(_G, n) ~= nil then\n"
	    "    error('present: ' .. n)\n"
	    "  end\n"
	    "end\n"
	    "if string.dump ~= nil or (''). dump ~= nil then error('dump') end\n"
	    "if getmetatable(_G) ~= nil then error('_G has a metatable') end\n"
	    "return { n = veil.dataset():count() }");
	for (i = 0; calls[i] != NULL; i += 2) {
		snprintf(src, sizeof(src), "local x = %s\n"
		    "return { n = veil.dataset():count() }", calls[i]);
		expect_runtime_dp(src, calls[i + 1]);
	}
}

static void
test_read_only_libraries(void **state)
{
	(void)state;
	expect_ok("if getmetatable('') ~= false then error('string metatable') end\n"
	    "if getmetatable(string) ~= false then error('string') end\n"
	    "if getmetatable(veil) ~= false then error('veil') end\n"
	    "if getmetatable(veil.dataset()) ~= false then error('plan') end\n"
	    "return { n = veil.dataset():count() }");
	expect_src("setmetatable(string, {})", SPAWN_ERROR, "runtime",
	    "protected metatable");
	expect_src("setmetatable(veil.dataset(), {})", SPAWN_ERROR, "runtime",
	    "table expected");
	expect_src("string.upper = nil", SPAWN_ERROR, "runtime", "read-only");
	expect_src("math.pi = 3", SPAWN_ERROR, "runtime", "read-only");
	expect_src("table.insert = print", SPAWN_ERROR, "runtime", "read-only");
	expect_src("veil.dataset = function() end", SPAWN_ERROR, "runtime",
	    "read-only");
	expect_src("local mt = getmetatable('')\nmt.__index = {}", SPAWN_ERROR,
	    "runtime", "boolean value");
	expect_src("local m = veil.dataset().where\n"
	    "local t = getmetatable(veil.dataset())\nt.__index = nil",
	    SPAWN_ERROR, "runtime", "boolean value");
	expect_src("rawset(string, 'upper', nil)", SPAWN_ERROR, "runtime",
	    "global 'rawset'");
	/* the job's own globals are its own business */
	expect_ok("x = 1\nstring = nil\n"
	    "if ('a'):upper() ~= 'A' then error('string methods lost') end\n"
	    "return { n = veil.dataset():count() }");
}

/* Iterating a library table must not hand out its writable copy. */
static void
test_pairs_backdoor(void **state)
{
	(void)state;
	expect_ok("local _, s = pairs(string)\n"
	    "pcall(function() s.upper = nil end)\n"
	    "pcall(function() s.rep = function() return 'pwned' end end)\n"
	    "if string.upper == nil or ('a').upper == nil then\n"
	    "  error('string library modified')\n"
	    "end\n"
	    "if ('a'):rep(2) ~= 'aa' then error('string.rep replaced') end\n"
	    "return { n = veil.dataset():count() }");
}

static void
test_memory_bombs(void **state)
{
	static const char *const bombs[] = {
		"local s = string.rep('x', 2^30)",
		"local s = ('x'):rep(2^30)",
		"local s = string.rep('x', 2^15, string.rep('y', 2^15))",
		"local t = {}\nlocal i = 0\nwhile true do i = i + 1; t[i] = { i } end",
		"local s = 'x'\nwhile true do s = s .. s end",
		"local t = {}\nfor i = 1, 2^40 do t[#t + 1] = tostring(i) end",
		"local t = {}\nwhile true do t[#t + 1] = veil.dataset():where('age', '=', 1) end",
		"local s = string.format('%s', string.rep('ab', 2^26))",
		"local t = {}\nfor i = 1, 2^24 do t[i] = 'x' end\nlocal s = table.concat(t, string.rep('-', 64))",
		NULL
	};
	struct ljob j;
	int i;

	(void)state;
	for (i = 0; bombs[i] != NULL; i++) {
		memset(&j, 0, sizeof(j));
		j.src = bombs[i];
		j.mode = "dp";
		run_job(&j, &cur);
		if (cur.status != SPAWN_MEMORY || strcmp(cur.class, "memory"))
			fail_msg("bomb \"%s\": %s/%s (%s), want memory", bombs[i],
			    spawner_status_name(cur.status), cur.class,
			    cur.message);
		/* the allocator's cap, not the rlimit, stopped it */
		assert_true(stat_of(&cur, "lua_bytes") <= LUA_MEM);
		release();
	}
	/* past what a Lua string may hold: refused before any allocation */
	expect_runtime_dp("local s = string.rep('x', 2^40)",
	    "resulting string too large");
	expect_runtime_dp("local s = ('x'):rep(2^40)",
	    "resulting string too large");
	expect_runtime_dp("local s = string.rep('x', 2^20, string.rep('y', 2^20))",
	    "resulting string too large");
}

/* Deep recursion: an error, whichever limit comes first; no crash. */
static void
test_recursion(void **state)
{
	static const char *const deep[] = {
		"local function f() return f() + 1 end\nreturn f()",
		"local t = setmetatable({}, { __index = function(t, k) return t[k] end })\nreturn t.x",
		"local t = setmetatable({}, { __tostring = function(t) return tostring(t) end })\nreturn tostring(t)",
		"local function f(s) return s:gsub('.', f) end\nreturn f('abc')",
		"local s = string.rep('(', 300) .. string.rep(')', 300)\nreturn string.find('x', s)",
		NULL
	};
	struct ljob j;
	int i;

	(void)state;
	for (i = 0; deep[i] != NULL; i++) {
		memset(&j, 0, sizeof(j));
		j.src = deep[i];
		run_job(&j, &cur);
		if (!(cur.status == SPAWN_ERROR &&
		    strcmp(cur.class, "runtime") == 0) &&
		    cur.status != SPAWN_MEMORY)
			fail_msg("\"%s\": %s/%s (%s)", deep[i],
			    spawner_status_name(cur.status), cur.class,
			    cur.message);
		release();
	}
}

/* {====== CPU */

/* The VM is made to stop at 80% of cpu_ms: status "cpu", cleanly. */
static void
expect_cpu(const char *src)
{
	struct ljob j;

	memset(&j, 0, sizeof(j));
	j.src = src;
	j.mode = "dp";
	j.cpu_ms = CPU_MS;
	run_job(&j, &cur);
	if (cur.status != SPAWN_CPU || strcmp(cur.class, "cpu") != 0)
		fail_msg("\"%s\": %s/%s (%s), signal %d; want a \"cpu\" result",
		    src, spawner_status_name(cur.status), cur.class,
		    cur.message, cur.signal);
	assert_int_equal(cur.signal, 0);	/* it answered, not killed */
	assert_true(cur.wall_ms < WALL_MS);
	release();
}

static void
test_cpu_loops(void **state)
{
	(void)state;
	expect_cpu("while true do end");
	expect_cpu("::top:: goto top");
	expect_cpu("local function f() return f() end\nreturn f()");
	expect_cpu("local n = 0\nfor i = 1, math.maxinteger do n = n + i end");
	/* a loop in a callback from C */
	expect_cpu("string.gsub(string.rep('a', 10), 'a', function() while true do end end)");
	expect_cpu("table.sort({3, 2, 1}, function(a, b) while true do end end)");
	expect_cpu("local t = setmetatable({}, { __index = function() while true do end end })\nreturn t.x");
}

/* pcall cannot swallow the kill. */
static void
test_cpu_pcall(void **state)
{
	(void)state;
	expect_cpu("while true do pcall(function() while true do end end) end");
	expect_cpu("while true do\n"
	    "  pcall(function() while true do end end)\n"
	    "end");
	expect_cpu("pcall(function() while true do end end)\n"
	    "return { n = veil.dataset():count() }");
	expect_cpu("while true do xpcall(function() while true do end end, function(e) return e end) end");
}

/*
 * A message handler that loops: each kill re-enters the handler, which
 * loops again. Whatever path ends it, it ends as CPU, in time.
 */
static void
test_cpu_xpcall_handler(void **state)
{
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "xpcall(function() error('x') end, function() while true do end end)";
	j.mode = "dp";
	j.cpu_ms = CPU_MS;
	run_job(&j, &cur);
	if (cur.status != SPAWN_CPU)
		fail_msg("%s/%s (%s)", spawner_status_name(cur.status),
		    cur.class, cur.message);
	assert_true(cur.wall_ms < WALL_MS);
	release();
}

/* On one line there is no line event after pcall returns. */
static void
test_cpu_pcall_one_line(void **state)
{
	(void)state;
	expect_cpu("pcall(function() while true do end end) return { n = veil.dataset():count() }");
}

/*
 * Code that never returns to the VM (a backtracking pattern): the
 * instruction hook cannot stop it, RLIMIT_CPU does.
 */
static void
test_cpu_in_c(void **state)
{
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "return string.find(string.rep('a', 60), string.rep('a*', 40) .. 'b')";
	j.mode = "dp";
	j.cpu_ms = CPU_MS;
	run_job(&j, &cur);
	if (cur.status != SPAWN_CPU)
		fail_msg("%s/%s (%s)", spawner_status_name(cur.status),
		    cur.class, cur.message);
	assert_true(cur.cpu_ms >= CPU_MS * 0.7);
	release();
}

/* A finalizer that never ends: the job finishes or ends "cpu", in time. */
static void
test_gc_finalizer(void **state)
{
	static const char *const jobs[] = {
		/* left behind at the end */
		"setmetatable({}, { __gc = function() while true do end end })\n"
		"return { n = veil.dataset():count() }",
		/* run during the job, by the collector */
		"setmetatable({}, { __gc = function() while true do end end })\n"
		"local t = {}\n"
		"for i = 1, 200000 do t[i % 64] = { i } end\n"
		"return { n = veil.dataset():count() }",
		/* one that comes back to life every time */
		"local mt = {}\n"
		"mt.__gc = function(o) setmetatable({}, mt) while true do end end\n"
		"setmetatable({}, mt)\n"
		"local t = {}\n"
		"for i = 1, 200000 do t[i % 64] = { i } end\n"
		"return { n = veil.dataset():count() }",
		NULL
	};
	struct ljob j;
	int i;

	(void)state;
	for (i = 0; jobs[i] != NULL; i++) {
		memset(&j, 0, sizeof(j));
		j.src = jobs[i];
		j.mode = "dp";
		j.cpu_ms = CPU_MS;
		run_job(&j, &cur);
		/* Lua runs finalizers with hooks off: refused up front */
		if (cur.status != SPAWN_ERROR ||
		    strcmp(cur.class, "runtime") != 0 ||
		    strstr(cur.message, "finalizers (__gc) are not allowed") ==
		    NULL)
			fail_msg("finalizer job %d: %s/%s (%s)", i,
			    spawner_status_name(cur.status), cur.class,
			    cur.message);
		assert_true(cur.wall_ms < WALL_MS);
		release();
	}
}

/*
 * A __gc added to a metatable after setmetatable never marks the object
 * (Lua 5.4): the looping finalizer never runs and the job finishes.
 */
static void
test_gc_finalizer_keeps_result(void **state)
{
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "local mt = {}\n"
	    "local o = setmetatable({}, mt)\n"
	    "mt.__gc = function() while true do end end\n"
	    "o = nil\n"
	    "local t = {} for i = 1, 100000 do t[i % 64] = { i } end\n"
	    "return { n = veil.dataset():count() }";
	j.mode = "dp";
	j.cpu_ms = CPU_MS;
	run_job(&j, &cur);
	if (cur.status != SPAWN_FINISHED)
		fail_msg("%s/%s (%s), signal %d, cpu %.0f ms: the result was lost",
		    spawner_status_name(cur.status), cur.class, cur.message,
		    cur.signal, cur.cpu_ms);
	release();
}

/* Row functions run under their own cap; the job goes on. */
static void
test_row_caps(void **state)
{
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "local v = veil.dataset()\n"
	    "return { n = v:filter(function(r) while true do end end):count(),\n"
	    "  m = v:filter(function(r)\n"
	    "    pcall(function() while true do end end)\n"
	    "    return true\n"
	    "  end):count() }";
	j.mode = "dp";
	j.row_insns = 1000;
	j.cpu_ms = 5000;
	run_job(&j, &cur);
	if (cur.status != SPAWN_FINISHED)
		fail_msg("%s/%s (%s)", spawner_status_name(cur.status),
		    cur.class, cur.message);
	assert_int_equal(stat_of(&cur, "row_overruns"), 2 * NROWS);
	assert_int_equal(stat_of(&cur, "row_errors"), 0);
	release();

	/* the row functions cannot reach the outside either */
	j.src = "local v = veil.dataset()\n"
	    "return { n = v:filter(function(r) return io.open('/etc/passwd') end):count(),\n"
	    "  m = v:filter(function(r) return os.exit(1) end):count(),\n"
	    "  s = v:filter(function(r) return setmetatable({}, {}) end):count() }";
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_FINISHED);
	assert_int_equal(stat_of(&cur, "row_errors"), 3 * NROWS);
	release();
}

/* }====== */

/* {====== what a job may say */

static void
test_print(void **state)
{
	struct ljob j;

	(void)state;
	memset(&j, 0, sizeof(j));
	j.src = "print('hello from the job', 42)\n"
	    "return { n = veil.dataset():count() }";
	j.mode = "none";
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_FINISHED);
	assert_non_null(strstr(cur.log, "hello from the job\t42\n"));
	release();

	j.mode = "dp";
	j.mock = 1;
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_FINISHED);
	assert_non_null(strstr(cur.log, "hello from the job\t42\n"));
	release();

	j.mock = 0;
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_ERROR);
	assert_string_equal(cur.class, "runtime");
	assert_non_null(strstr(cur.message, "global 'print'"));
	assert_null(strstr(cur.log, "hello from the job"));
	release();

	j.mode = "threshold";
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_ERROR);
	assert_non_null(strstr(cur.message, "global 'print'"));
	release();

	/* row access likewise */
	j.src = "for r in veil.dataset():rows() do end";
	j.mode = "dp";
	expect(&j, SPAWN_ERROR, "runtime", "row access is only for mode");
	j.mock = 1;
	j.src = "local n = 0\n"
	    "for r in veil.dataset():rows() do n = n + 1 end\n"
	    "if n ~= 100 then error('rows ' .. n) end\n"
	    "return { n = veil.dataset():count() }";
	expect(&j, SPAWN_FINISHED, NULL, NULL);
	j.mode = "none";
	j.mock = 0;
	expect(&j, SPAWN_FINISHED, NULL, NULL);
}

static void
test_messages(void **state)
{
	struct ljob j;

	(void)state;
	expect_src("error('secret 1234')", SPAWN_ERROR, "runtime",
	    "job:1: secret 1234");
	expect_src("local x = nil\nreturn x.field", SPAWN_ERROR, "runtime",
	    "job:2:");
	expect_src("return {", SPAWN_ERROR, "syntax", "job:1:");
	expect_src("return 5", SPAWN_ERROR, "result", "the job returned number");
	expect_src("return { x = 5 }", SPAWN_ERROR, "result",
	    "result 'x' is a number; return aggregations such as t:count()");
	expect_src("return { n = veil.dataset():sum('age', 5, 1) }", SPAWN_ERROR,
	    "runtime", "bounds must be finite numbers with lo < hi");
	/* messages are bounded, not cut into garbage */
	memset(&j, 0, sizeof(j));
	j.src = "error(string.rep('z', 100000))";
	run_job(&j, &cur);
	assert_int_equal(cur.status, SPAWN_ERROR);
	assert_string_equal(cur.class, "runtime");
	assert_true(strlen(cur.message) > 100 && strlen(cur.message) < 256);
	release();
	/* an unknown mode is refused as input */
	j.src = "return { n = veil.dataset():count() }";
	j.mode = "export";
	expect(&j, SPAWN_ERROR, "input", "unknown mode");
}

/* }====== */

#define T(f)	cmocka_unit_test_teardown(f, cleanup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_baseline),
		T(test_no_bytecode),
		T(test_absent_globals),
		T(test_read_only_libraries),
		T(test_pairs_backdoor),
		T(test_memory_bombs),
		T(test_recursion),
		T(test_cpu_loops),
		T(test_cpu_pcall),
		T(test_cpu_pcall_one_line),
		T(test_cpu_xpcall_handler),
		T(test_cpu_in_c),
		T(test_gc_finalizer),
		T(test_gc_finalizer_keeps_result),
		T(test_row_caps),
		T(test_print),
		T(test_messages),
	};

	int failed;

	failed = cmocka_run_group_tests_name("cold workers", tests, setup,
	    teardown);
	use_zygote = 1;
	failed += cmocka_run_group_tests_name("fork-server children", tests,
	    setup, teardown);
	if (zyg == NULL || spawner_zygote_jobs(zyg) == 0) {
		fprintf(stderr, "test_jobsec: no job ran in a fork server\n");
		failed++;
	}
	spawner_zygote_free(zyg);
	if (zyg_fd != -1)
		close(zyg_fd);
	return failed;
}
