/*
 * bench_runtime.c: the Lua runtime's aggregation kernels and row
 * functions, each next to a reference measured in the same run on the
 * same data:
 *   (1) count, sum and group-by mean through the job API (in process, and
 *       as a whole confined job: spawn, map, aggregate, release) against a
 *       plain C loop over the same columns, and SQLite in memory;
 *   (2) a pure-row-function filter + derive + sum against the same logic
 *       as a hand-written loop over Lua column tables in stock Lua 5.4.
 * Usage: bench_runtime VEIL-WORKER [ROWS]   (default 10,000,000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>
#include <sqlite3.h>

#include "frame.h"
#include "policy.h"
#include "release.h"
#include "rt.h"
#include "spawner.h"
#include "table.h"

#define NG	17

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const char *const groups[NG] = { "J45", "E11", "I10", "J18", "K29",
	"M54", "N39", "I25", "E78", "F32", "J06", "K21", "M17", "I63", "C34",
	"O80", "Z00" };

static double
best_of(int runs, double (*fn)(void *), void *arg)
{
	double b = 1e9, t;
	int i;

	for (i = 0; i < runs; i++)
		if ((t = fn(arg)) < b)
			b = t;
	return b;
}

struct ctx {
	const struct table	*t;
	const char		*src;
	const char		*worker;
	const void		*buf;
	size_t			 len;
	int			 memfd;		/* the table, sealed once */
	uint64_t		 n;
	double			 sink;
	lua_State		*L;
};

/* The same three aggregations in plain C: count, clamped sum, group mean. */
static double
c_loop(void *v)
{
	struct ctx *c = v;
	const double *x = table_column(c->t, 1)->data;
	const uint32_t *g = table_column(c->t, 2)->data;
	double s = 0, gs[NG] = { 0 }, t0 = now(), y;
	uint64_t i, gc[NG] = { 0 }, cnt = 0;

	for (i = 0; i < c->n; i++)
		cnt++;
	for (i = 0; i < c->n; i++) {
		y = x[i] < 0 ? 0 : x[i] > 1000 ? 1000 : x[i];
		s += y;
	}
	for (i = 0; i < c->n; i++) {
		y = x[i] < 0 ? 0 : x[i] > 1000 ? 1000 : x[i];
		gs[g[i]] += y;
		gc[g[i]]++;
	}
	c->sink += s + (double)cnt + gs[3] / (double)(gc[3] + 1);
	return now() - t0;
}

static double
veil_api(void *v)
{
	struct ctx *c = v;
	struct rt_job j;
	struct rt_stats st;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char msg[256];
	double t0;

	memset(&j, 0, sizeof(j));
	j.source = c->src;
	j.source_len = strlen(c->src);
	j.name = "=bench";
	j.mode = RT_MODE_NONE;
	j.mem_limit = 256u << 20;
	j.row_insns = RT_ROW_INSNS_DEFAULT;
	j.log_fd = 2;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	t0 = now();
	if (rt_run(&j, c->t, &pk, msg, sizeof(msg), &st) != RT_OK) {
		fprintf(stderr, "bench_runtime: %s\n", msg);
		exit(1);
	}
	t0 = now() - t0;
	msgpack_sbuffer_destroy(&sb);
	return t0;
}

/* A whole confined job: spawn, map, aggregate, release. */
static double
veil_job(void *v)
{
	struct ctx *c = v;
	struct spawner_limits lim = { 2048ull << 20, 60000, 120000, 1 << 20 };
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	struct policy *p = policy_new_default();
	msgpack_sbuffer sb, rel;
	msgpack_packer pk;
	char *framed;
	double t0;

	p->mode = POLICY_NONE;
	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&rel);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "lua");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "dataset");
	frame_pack_cstr(&pk, "source");
	frame_pack_cstr(&pk, c->src);
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, "none");
	frame_pack_cstr(&pk, "lua_memory");
	msgpack_pack_uint64(&pk, 256u << 20);
	framed = malloc(sb.size + 4);
	framed[0] = (char)(sb.size >> 24);
	framed[1] = (char)(sb.size >> 16);
	framed[2] = (char)(sb.size >> 8);
	framed[3] = (char)sb.size;
	memcpy(framed + 4, sb.data, sb.size);
	t0 = now();
	if ((s = spawner_start_fds(c->worker, NULL, &c->memfd, 1, framed,
	    sb.size + 4, &lim, &err)) == NULL || spawner_wait(s, &out) != 0 ||
	    out.status != SPAWN_FINISHED) {
		fprintf(stderr, "bench_runtime: job failed\n");
		exit(1);
	}
	msgpack_packer_init(&pk, &rel, msgpack_sbuffer_write);
	if (release_results(out.results, p, &pk, &err) != 0) {
		fprintf(stderr, "bench_runtime: release: %s\n", err.msg);
		exit(1);
	}
	t0 = now() - t0;
	spawner_outcome_free(&out);
	spawner_free(s);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&rel);
	free(framed);
	policy_free(p);
	return t0;
}

static double
stock_lua(void *v)
{
	struct ctx *c = v;
	double t0;

	lua_getglobal(c->L, "loop");
	t0 = now();
	if (lua_pcall(c->L, 0, 1, 0) != LUA_OK) {
		fprintf(stderr, "bench_runtime: %s\n", lua_tostring(c->L, -1));
		exit(1);
	}
	t0 = now() - t0;
	c->sink += lua_tonumber(c->L, -1);
	lua_pop(c->L, 1);
	return t0;
}

static void
sqlite_ref(struct ctx *c, double *cnt_sum, double *grp)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	const double *x = table_column(c->t, 1)->data;
	const int64_t *a = table_column(c->t, 0)->data;
	const uint32_t *g = table_column(c->t, 2)->data;
	uint64_t i;
	double t0;

	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "CREATE TABLE t(a INTEGER, x REAL, g TEXT)", NULL,
	    NULL, NULL);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?)", -1, &st, NULL);
	for (i = 0; i < c->n; i++) {
		sqlite3_bind_int64(st, 1, a[i]);
		sqlite3_bind_double(st, 2, x[i]);
		sqlite3_bind_text(st, 3, groups[g[i]], 3, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	t0 = now();
	sqlite3_exec(db, "SELECT count(*), sum(min(max(x, 0), 1000)) FROM t",
	    NULL, NULL, NULL);
	*cnt_sum = now() - t0;
	t0 = now();
	sqlite3_exec(db, "SELECT g, avg(min(max(x, 0), 1000)) FROM t GROUP BY "
	    "g", NULL, NULL, NULL);
	*grp = now() - t0;
	sqlite3_close(db);
}

int
main(int argc, char **argv)
{
	struct table_builder *b = table_builder_new();
	struct ctx c;
	struct table *t;
	void *buf;
	size_t len;
	uint64_t i, n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
	uint64_t seed = 42;
	double tc, tapi, tjob, tsq1, tsq2, tlua, trow;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_runtime VEIL-WORKER [ROWS]\n");
		return 2;
	}
	table_builder_add_column(b, "age", VEIL_T_INT, VEIL_R_QUASI, 0);
	table_builder_add_column(b, "x", VEIL_T_FLOAT, VEIL_R_INSENSITIVE, 0);
	table_builder_add_column(b, "g", VEIL_T_CATEGORY, VEIL_R_SENSITIVE,
	    TABLE_F_DECLARED);
	for (i = 0; i < NG; i++)
		table_builder_dict_add(b, 2, groups[i], 3);
	for (i = 0; i < n; i++) {
		table_builder_int(b, 0, (int64_t)(rng(&seed) % 90));
		table_builder_float(b, 1, (double)(rng(&seed) % 200000) / 100);
		table_builder_category(b, 2, groups[rng(&seed) % NG], 3);
	}
	if (table_builder_finish(b, &buf, &len, NULL) != 0 ||
	    table_open(buf, len, &t, NULL) != 0)
		return 1;
	table_builder_free(b);
	memset(&c, 0, sizeof(c));
	c.t = t;
	c.n = n;
	c.buf = buf;
	c.len = len;
	c.worker = argv[1];
	/* As the daemon keeps a data set: in a sealed memfd, made once. */
	if ((c.memfd = spawner_sealed_memfd("bench", buf, len)) == -1)
		return 1;
	c.src = "local v = veil.dataset() return { n = v:count(), "
	    "s = v:sum('x', 0, 1000), m = v:group_by('g'):mean('x', 0, 1000) }";

	printf("Aggregations over %llu rows (count, clamped sum, group-by mean; "
	    "best of 3)\n", (unsigned long long)n);
	tc = best_of(3, c_loop, &c);
	tapi = best_of(3, veil_api, &c);
	tjob = best_of(3, veil_job, &c);
	sqlite_ref(&c, &tsq1, &tsq2);
	printf("  %-50s %9.1f ms  %6.2f ns/row\n", "ref plain C loop (3 passes)",
	    tc * 1e3, tc * 1e9 / (double)n);
	printf("  %-50s %9.1f ms  %6.2f ns/row  %.2fx C\n",
	    "veil job API, in process (kernels + state + pack)", tapi * 1e3,
	    tapi * 1e9 / (double)n, tapi / tc);
	printf("  %-50s %9.1f ms  %6.2f ns/row  %.2fx C\n",
	    "veil whole job: spawn, map+validate, aggregate, release", tjob * 1e3,
	    tjob * 1e9 / (double)n, tjob / tc);
	printf("  %-50s %9.1f ms  %6.2f ns/row  veil API is %.0fx faster\n",
	    "ref SQLite :memory: (count+sum, then group by)",
	    (tsq1 + tsq2) * 1e3, (tsq1 + tsq2) * 1e9 / (double)n,
	    (tsq1 + tsq2) / tapi);

	/* (2) row functions against stock Lua over column tables */
	c.src = "local v = veil.dataset() "
	    "local a = v:filter(function(r) return r.age >= 18 end) "
	    "local d = a:derive('y', function(r) return r.x * 1.1 end) "
	    "return { s = d:sum('y', 0, 2000) }";
	c.L = luaL_newstate();
	luaL_openlibs(c.L);
	lua_createtable(c.L, (int)n, 0);
	lua_createtable(c.L, (int)n, 0);
	for (i = 0; i < n; i++) {
		lua_pushinteger(c.L, ((const int64_t *)
		    table_column(t, 0)->data)[i]);
		lua_rawseti(c.L, -3, (lua_Integer)i + 1);
		lua_pushnumber(c.L, ((const double *)
		    table_column(t, 1)->data)[i]);
		lua_rawseti(c.L, -2, (lua_Integer)i + 1);
	}
	lua_setglobal(c.L, "X");
	lua_setglobal(c.L, "A");
	(void)!luaL_dostring(c.L, "function loop() local A, X, s = A, X, 0 "
	    "for i = 1, #A do if A[i] >= 18 then local y = X[i] * 1.1 "
	    "if y < 0 then y = 0 elseif y > 2000 then y = 2000 end "
	    "s = s + y end end return s end");
	tlua = best_of(3, stock_lua, &c);
	trow = best_of(3, veil_api, &c);
	printf("\nRow functions over %llu rows: filter + derive + sum (best of "
	    "3)\n", (unsigned long long)n);
	printf("  %-50s %9.1f ms  %6.2f ns/row\n",
	    "ref stock Lua 5.4 loop over column tables", tlua * 1e3,
	    tlua * 1e9 / (double)n);
	printf("  %-50s %9.1f ms  %6.2f ns/row  %.2fx stock Lua\n",
	    "veil pure row functions (purity, per-row caps)", trow * 1e3,
	    trow * 1e9 / (double)n, trow / tlua);
	lua_close(c.L);
	table_free(t);
	free(buf);
	return c.sink == 12345 ? 1 : 0;
}
