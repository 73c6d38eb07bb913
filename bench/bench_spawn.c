/*
 * bench_spawn.c: the cost of one confined job. Each run spawns veil-worker
 * over a sealed 1,000,000-row table, lets it confine itself (namespaces,
 * empty root, rlimits, seccomp), validate the table and answer a
 * "describe" job; the reference in the same run is posix_spawn of
 * /bin/true, the floor for starting any process.
 * Usage: bench_spawn VEIL-WORKER [RUNS]
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "frame.h"
#include "spawner.h"
#include "table.h"

extern char **environ;

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
bench(const char *worker, int rows, int runs)
{
	struct table_builder *b = table_builder_new();
	struct spawner_limits lim = { 512u << 20, 5000, 10000, 65536 };
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *framed, *av[] = { "/bin/true", NULL };
	const void *tabs[1];
	double *tw, *tt, t0;
	void *buf;
	size_t len;
	pid_t pid;
	int i, st;

	table_builder_add_column(b, "n", VEIL_T_INT, VEIL_R_QUASI, 0);
	for (i = 0; i < rows; i++)
		table_builder_int(b, 0, i);
	if (table_builder_finish(b, &buf, &len, &err) != 0)
		return 1;
	tabs[0] = buf;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "describe");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "t");
	framed = malloc(sb.size + 4);
	framed[0] = framed[1] = 0;
	framed[2] = (char)(sb.size >> 8);
	framed[3] = (char)sb.size;
	memcpy(framed + 4, sb.data, sb.size);
	tw = calloc((size_t)runs, sizeof(double));
	tt = calloc((size_t)runs, sizeof(double));
	for (i = 0; i < runs; i++) {
		t0 = now_ms();
		if ((s = spawner_start(worker, NULL, tabs, &len, 1, framed,
		    sb.size + 4, &lim, &err)) == NULL ||
		    spawner_wait(s, &out) != 0 ||
		    out.status != SPAWN_FINISHED) {
			fprintf(stderr, "bench_spawn: job failed\n");
			return 1;
		}
		tw[i] = now_ms() - t0;
		spawner_outcome_free(&out);
		spawner_free(s);
		t0 = now_ms();
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, av,
		    environ) != 0 || waitpid(pid, &st, 0) != pid)
			return 1;
		tt[i] = now_ms() - t0;
	}
	qsort(tw, (size_t)runs, sizeof(double), cmp);
	qsort(tt, (size_t)runs, sizeof(double), cmp);
	printf("Confined job round trip, %d rows (%.1f MB table), median of "
	    "%d runs\n", rows, (double)len / 1e6, runs);
	printf("  %-52s %8.2f ms\n", "veil-worker: spawn, confine, validate, "
	    "answer", tw[runs / 2]);
	printf("  %-52s %8.2f ms   veil/ref = %.1fx\n",
	    "ref posix_spawn of /bin/true", tt[runs / 2],
	    tw[runs / 2] / tt[runs / 2]);
	free(tw);
	free(tt);
	free(framed);
	free(buf);
	msgpack_sbuffer_destroy(&sb);
	table_builder_free(b);
	return 0;
}

int
main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 50;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: bench_spawn VEIL-WORKER [RUNS]\n");
		return 2;
	}
	return bench(argv[1], 10, runs) || bench(argv[1], 1000000, runs);
}
