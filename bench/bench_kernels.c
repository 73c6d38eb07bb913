/*
 * bench_kernels.c: bench_runtime's aggregations one at a time, on the same
 * data (1e7 generated rows: an int, a float in [0, 2000), a declared
 * category of 17 codes): count, clamped sum and group-by mean, each
 * through the job API in process and as a whole confined job (spawn, map,
 * aggregate, release), against its own part of bench_runtime's plain C
 * loop. A separate program, so that bench_runtime's three-pass reference
 * (inlined into its main()) compiles as it always did.
 * Usage: bench_kernels VEIL-WORKER [ROWS] [RUNS]   (10,000,000; 7)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "frame.h"
#include "policy.h"
#include "release.h"
#include "rt.h"
#include "spawner.h"
#include "table.h"

#define NG	17

static const char *const groups[NG] = { "J45", "E11", "I10", "J18", "K29",
	"M54", "N39", "I25", "E78", "F32", "J06", "K21", "M17", "I63", "C34",
	"O80", "Z00" };

struct ctx {
	const struct table	*t;
	const char		*src;
	const char		*worker;
	int			 memfd;
	uint64_t		 n;
	double			 sink;
};

/* bench_runtime's generator, so that both see the same rows. */
static uint64_t
rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The parts of bench_runtime's c_loop(), one loop each. */
static double
c_count(struct ctx *c)
{
	double t0 = now_ms();
	uint64_t i, cnt = 0;

	for (i = 0; i < c->n; i++)
		cnt++;
	c->sink += (double)cnt;
	return now_ms() - t0;
}

static double
c_sum(struct ctx *c)
{
	const double *x = table_column(c->t, 1)->data;
	double s = 0, t0 = now_ms(), y;
	uint64_t i;

	for (i = 0; i < c->n; i++) {
		y = x[i] < 0 ? 0 : x[i] > 1000 ? 1000 : x[i];
		s += y;
	}
	c->sink += s;
	return now_ms() - t0;
}

static double
c_group_mean(struct ctx *c)
{
	const double *x = table_column(c->t, 1)->data;
	const uint32_t *g = table_column(c->t, 2)->data;
	double gs[NG] = { 0 }, t0 = now_ms(), y;
	uint64_t i, gc[NG] = { 0 };

	for (i = 0; i < c->n; i++) {
		y = x[i] < 0 ? 0 : x[i] > 1000 ? 1000 : x[i];
		gs[g[i]] += y;
		gc[g[i]]++;
	}
	c->sink += gs[3] / (double)(gc[3] + 1);
	return now_ms() - t0;
}

static double
veil_api(struct ctx *c)
{
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
	t0 = now_ms();
	if (rt_run(&j, c->t, &pk, msg, sizeof(msg), &st) != RT_OK) {
		fprintf(stderr, "bench_kernels: %s\n", msg);
		exit(1);
	}
	t0 = now_ms() - t0;
	msgpack_sbuffer_destroy(&sb);
	return t0;
}

/* As bench_runtime's veil_job(): spawn, map, aggregate, release. */
static double
veil_job(struct ctx *c, double *cpu_ms)
{
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
	if ((framed = malloc(sb.size + 4)) == NULL)
		exit(1);
	framed[0] = (char)(sb.size >> 24);
	framed[1] = (char)(sb.size >> 16);
	framed[2] = (char)(sb.size >> 8);
	framed[3] = (char)sb.size;
	memcpy(framed + 4, sb.data, sb.size);
	t0 = now_ms();
	if ((s = spawner_start_fds(c->worker, NULL, &c->memfd, 1, framed,
	    sb.size + 4, &lim, &err)) == NULL || spawner_wait(s, &out) != 0 ||
	    out.status != SPAWN_FINISHED) {
		fprintf(stderr, "bench_kernels: job failed\n");
		exit(1);
	}
	msgpack_packer_init(&pk, &rel, msgpack_sbuffer_write);
	if (release_results(out.results, p, &pk, &err) != 0) {
		fprintf(stderr, "bench_kernels: release: %s\n", err.msg);
		exit(1);
	}
	t0 = now_ms() - t0;
	*cpu_ms = out.cpu_ms;
	spawner_outcome_free(&out);
	spawner_free(s);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&rel);
	free(framed);
	policy_free(p);
	return t0;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		const char	*src;
		double		(*c)(struct ctx *);
	} one[] = {
		{ "count", "return { n = veil.dataset():count() }", c_count },
		{ "sum", "return { s = veil.dataset():sum('x', 0, 1000) }",
		  c_sum },
		{ "group-by mean", "return { m = veil.dataset():group_by('g'):"
		  "mean('x', 0, 1000) }", c_group_mean },
	};
	struct table_builder *b = table_builder_new();
	struct ctx c;
	struct table *t;
	void *buf;
	size_t len, k;
	uint64_t i, n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000;
	uint64_t seed = 42;
	int r, runs = argc > 3 ? atoi(argv[3]) : 7;
	double tc, ta, tj, cpu, mincpu;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: bench_kernels VEIL-WORKER [ROWS] "
		    "[RUNS]\n");
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
	c.worker = argv[1];
	if ((c.memfd = spawner_sealed_memfd("bench", buf, len)) == -1)
		return 1;

	printf("Each aggregation alone over %llu rows (best of %d): its part "
	    "of the C loop,\nthe job API in process, a whole confined job "
	    "(and the worker's CPU time)\n", (unsigned long long)n, runs);
	for (k = 0; k < sizeof(one) / sizeof(one[0]); k++) {
		c.src = one[k].src;
		tc = ta = tj = mincpu = 1e9;
		for (r = 0; r < runs; r++) {
			tc = fmin(tc, one[k].c(&c));
			ta = fmin(ta, veil_api(&c));
			tj = fmin(tj, veil_job(&c, &cpu));
			mincpu = fmin(mincpu, cpu);
		}
		/* a counting loop compiles to nothing: no ratio */
		if (tc < 0.1)
			printf("  %-14s C %6.2f ms  API %6.2f ms         job "
			    "%6.2f ms         (cpu %6.2f ms)\n", one[k].name,
			    tc, ta, tj, mincpu);
		else
			printf("  %-14s C %6.2f ms  API %6.2f ms %5.2fx  job "
			    "%6.2f ms %5.2fx  (cpu %6.2f ms)\n", one[k].name,
			    tc, ta, ta / tc, tj, tj / tc, mincpu);
	}
	table_free(t);
	free(buf);
	return c.sink == 12345 ? 1 : 0;
}
