/*
 * bench_ingest.c: CSV ingest throughput, next to references measured in
 * the same run on the same rows:
 *   - plain C: read() the file and count newlines (the floor: I/O plus one
 *     pass over the bytes);
 *   - SQLite: bulk insert of the same typed rows with a prepared statement
 *     in one transaction, in memory and on disk (the parse is not even
 *     counted against SQLite: it is handed values already converted).
 * Every figure, veil's and the references', is the best of RUNS runs, so
 * that neither side gains from noise the other is charged for. veil's
 * ingest time ends with the typed columns built; laying them out as one
 * table buffer is timed on its own and also shown added in.
 *
 * veil is timed with one thread and with one per CPU (ingest_opts.threads,
 * the library's default): wall-clock time, and the CPU time of all its
 * threads, from which "per core" is the bytes over CPU seconds. SQLite
 * uses one thread; its figures are wall-clock (its CPU time is the same
 * but for the disk's waits).
 * Usage: bench_ingest CLINIC-GEN [ROWS]   (default 1000000 rows)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "csv.h"
#include "ingest.h"
#include "schema.h"
#include "table.h"

#define RUNS	3

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_ingest: %s: %s\n", what, msg);
	exit(1);
}

static double
plain_scan(const char *path, uint64_t *linesp)
{
	static char buf[1 << 20];
	uint64_t lines = 0;
	ssize_t n, i;
	double t0 = now();
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		die(path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	*linesp = lines;
	return now() - t0;
}

/* One ingest with the given threads; its CPU time goes to *cpup. */
static double
ingest_once(const char *path, const struct schema *s, int threads,
    void **bufp, size_t *lenp, struct ingest_stats *st, double *finishp,
    double *cpup)
{
	struct table_builder *b;
	struct ingest_opts o;
	struct veil_err err;
	double t0, t1, c0;
	int fd;

	ingest_opts_default(&o);
	o.threads = threads;
	c0 = cpu_now();
	t0 = now();
	if ((fd = open(path, O_RDONLY)) == -1)
		die(path, strerror(errno));
	if (ingest_csv_fd(fd, path, s, &o, &b, st, &err) != 0)
		die("ingest", err.msg);
	close(fd);
	t1 = now();
	*cpup = cpu_now() - c0;
	if (table_builder_finish(b, bufp, lenp, &err) != 0)
		die("finish", err.msg);
	*finishp = now() - t1;
	table_builder_free(b);
	return t1 - t0;
}

static void
check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		die(what, sqlite3_errmsg(db));
}

/* Inserts every row of t into a fresh SQLite database at dbpath. */
static double
sqlite_insert(const struct table *t, const char *dbpath)
{
	const struct table_colview *c;
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[8192];
	size_t o, len;
	const char *p;
	uint64_t row, n = table_nrows(t);
	unsigned int i, nc = table_ncols(t);
	double t0;

	unlink(dbpath);
	check(NULL, sqlite3_open(dbpath, &db), "sqlite3_open");
	o = (size_t)snprintf(sql, sizeof(sql), "CREATE TABLE visits(");
	for (i = 0; i < nc; i++) {
		c = table_column(t, i);
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s\"%s\" %s",
		    i ? ", " : "", c->name, c->type == VEIL_T_FLOAT ? "REAL" :
		    c->type == VEIL_T_STRING || c->type == VEIL_T_CATEGORY ?
		    "TEXT" : "INTEGER");
	}
	snprintf(sql + o, sizeof(sql) - o, ")");
	check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), "create");
	o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO visits VALUES(");
	for (i = 0; i < nc; i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s?",
		    i ? "," : "");
	snprintf(sql + o, sizeof(sql) - o, ")");
	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), "prepare");

	t0 = now();
	check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
	for (row = 0; row < n; row++) {
		for (i = 0; i < nc; i++) {
			c = table_column(t, i);
			if (table_isnull(c, row)) {
				sqlite3_bind_null(st, (int)i + 1);
				continue;
			}
			switch (c->type) {
			case VEIL_T_INT:
				sqlite3_bind_int64(st, (int)i + 1,
				    ((const int64_t *)c->data)[row]);
				break;
			case VEIL_T_FLOAT:
				sqlite3_bind_double(st, (int)i + 1,
				    ((const double *)c->data)[row]);
				break;
			case VEIL_T_BOOL:
				sqlite3_bind_int(st, (int)i + 1,
				    ((const uint8_t *)c->data)[row]);
				break;
			case VEIL_T_DATE:
				sqlite3_bind_int(st, (int)i + 1,
				    ((const int32_t *)c->data)[row]);
				break;
			case VEIL_T_STRING:
				p = table_str(c, row, &len);
				sqlite3_bind_text(st, (int)i + 1, p, (int)len,
				    SQLITE_STATIC);
				break;
			case VEIL_T_CATEGORY:
				p = table_dict(c,
				    ((const uint32_t *)c->data)[row], &len);
				sqlite3_bind_text(st, (int)i + 1, p, (int)len,
				    SQLITE_STATIC);
				break;
			}
		}
		check(db, sqlite3_step(st), "step");
		sqlite3_reset(st);
	}
	check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
	t0 = now() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (strcmp(dbpath, ":memory:") != 0)
		unlink(dbpath);
	return t0;
}

/*
 * What SQLite's own CSV import does (the shell's .import): each field bound
 * as text into a table with declared column types, so SQLite converts by
 * type affinity; prepared statement, one transaction. The file is split
 * with veil's reader, so only SQLite's share differs from veil's ingest.
 */
static double
sqlite_import(const char *csvpath, const struct table *t)
{
	const struct table_colview *c;
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	sqlite3 *db;
	sqlite3_stmt *st;
	char sql[8192];
	size_t o, nf, i;
	unsigned int nc = table_ncols(t);
	double t0;
	int fd, r;

	check(NULL, sqlite3_open(":memory:", &db), "sqlite3_open");
	o = (size_t)snprintf(sql, sizeof(sql), "CREATE TABLE visits(");
	for (i = 0; i < nc; i++) {
		c = table_column(t, (unsigned)i);
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s\"%s\" %s",
		    i ? ", " : "", c->name, c->type == VEIL_T_FLOAT ? "REAL" :
		    c->type == VEIL_T_STRING || c->type == VEIL_T_CATEGORY ||
		    c->type == VEIL_T_DATE ? "TEXT" : "INTEGER");
	}
	snprintf(sql + o, sizeof(sql) - o, ")");
	check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), "create");
	o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO visits VALUES(");
	for (i = 0; i < nc; i++)
		o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s?",
		    i ? "," : "");
	snprintf(sql + o, sizeof(sql) - o, ")");
	check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), "prepare");

	t0 = now();
	if ((fd = open(csvpath, O_RDONLY)) == -1 ||
	    (rd = csv_open_fd(fd, csvpath, 0, NULL, &err)) == NULL)
		die(csvpath, "cannot open");
	check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
	(void)csv_next(rd, &f, &nf, &err);	/* header */
	while ((r = csv_next(rd, &f, &nf, &err)) == 1) {
		for (i = 0; i < nf && i < nc; i++)
			sqlite3_bind_text(st, (int)i + 1, f[i].p,
			    (int)f[i].len, SQLITE_STATIC);
		check(db, sqlite3_step(st), "step");
		sqlite3_reset(st);
	}
	check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
	t0 = now() - t0;
	csv_close(rd);
	close(fd);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return t0;
}

static void
generate(const char *gen, const char *rows, const char *out)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == -1)
		die("fork", strerror(errno));
	if (pid == 0) {
		execl(gen, gen, "--rows", rows, "--seed", "7", "--out", out,
		    (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		die(gen, "generator failed");
}

int
main(int argc, char **argv)
{
	struct schema *s;
	struct table *t;
	struct ingest_stats st, st1;
	struct veil_err err;
	char path[64] = "/tmp/veil-bench-XXXXXX", dbpath[80], what[64];
	const char *rows = argc > 2 ? argv[2] : "1000000";
	double best = 1e9, fin = 1e9, f, d, c, plain = 1e9, mb, cpu = 1e9;
	double one = 1e9, cpu1 = 1e9, mem = 1e9, disk = 1e9, imp = 1e9;
	double both = 1e9;
	uint64_t lines;
	void *buf = NULL;
	size_t len;
	int fd, i;

	if (argc < 2)
		die("usage", "bench_ingest CLINIC-GEN [ROWS]");
	if (schema_load_file("examples/clinic/schema.lua", &s, &err) != 0)
		die("schema", err.msg);
	if ((fd = mkstemp(path)) == -1)
		die("mkstemp", strerror(errno));
	close(fd);
	generate(argv[1], rows, path);

	for (i = 0; i < RUNS; i++) {
		if ((d = plain_scan(path, &lines)) < plain)
			plain = d;
		free(buf);
		buf = NULL;
		if ((d = ingest_once(path, s, 1, &buf, &len, &st1, &f,
		    &c)) < one)
			one = d;
		if (c < cpu1)
			cpu1 = c;
		free(buf);
		buf = NULL;
		if ((d = ingest_once(path, s, 0, &buf, &len, &st, &f,
		    &c)) < best)
			best = d;
		if (c < cpu)
			cpu = c;
		if (f < fin)
			fin = f;
		if (d + f < both)
			both = d + f;
	}
	if (table_open(buf, len, &t, &err) != 0)
		die("table_open", err.msg);
	snprintf(dbpath, sizeof(dbpath), "%s.db", path);
	for (i = 0; i < RUNS; i++) {
		if ((d = sqlite_import(path, t)) < imp)
			imp = d;
		if ((d = sqlite_insert(t, ":memory:")) < mem)
			mem = d;
		if ((d = sqlite_insert(t, dbpath)) < disk)
			disk = d;
	}
	unlink(path);

	mb = (double)st.bytes / 1e6;
	printf("CSV ingest, %llu clinic rows, %.1f MB, %u columns (best of "
	    "%d runs)\n", (unsigned long long)st.rows, mb, table_ncols(t),
	    RUNS);
	printf("  %-44s %8.3f s %8.1f MB/s %6.2f M rows/s, CPU %.3f s\n",
	    "veil ingest, 1 thread", one, mb / one,
	    (double)st1.rows / one / 1e6, cpu1);
	snprintf(what, sizeof(what), "veil ingest, %d threads", st.threads);
	printf("  %-44s %8.3f s %8.1f MB/s %6.2f M rows/s, CPU %.3f s "
	    "(%.1f MB/s per core)\n", what, best, mb / best,
	    (double)st.rows / best / 1e6, cpu, mb / cpu);
	printf("  %-44s %8.3f s\n", "veil table layout (one buffer)", fin);
	printf("  %-44s %8.3f s %8.1f MB/s   SQLite import %.1fx, "
	    "insert %.1fx slower\n", "veil ingest + layout", both, mb / both,
	    imp / both, mem / both);
	printf("  %-44s %8.3f s %8.1f MB/s   veil/plain = %.2fx slower\n",
	    "ref plain C: read + count newlines", plain, mb / plain,
	    best / plain);
	printf("  %-44s %8.3f s %8.1f MB/s   veil is %.1fx faster "
	    "(1 thread: %.1fx)\n", "ref SQLite CSV import (.import: text "
	    "binds)", imp, mb / imp, imp / best, imp / one);
	printf("  %-44s %8.3f s %8.1f MB/s   veil is %.1fx faster "
	    "(1 thread: %.1fx)\n", "ref SQLite insert of pre-typed values",
	    mem, mb / mem, mem / best, mem / one);
	printf("  %-44s %8.3f s %8.1f MB/s   veil is %.1fx faster\n",
	    "ref SQLite the same, on disk", disk, mb / disk,
	    disk / best);
	printf("  goals: >= 300 MB/s per core: %s (%.0f); >= 10x SQLite CSV "
	    "import: %s (%.1fx); >= 10x SQLite insert of typed values: %s "
	    "(%.1fx)\n", mb / cpu >= 300 ? "met" : "NOT met", mb / cpu,
	    imp / best >= 10 ? "met" : "NOT met", imp / best,
	    mem / best >= 10 ? "met" : "NOT met", mem / best);
	table_free(t);
	free(buf);
	schema_free(s);
	(void)lines;
	return 0;
}
