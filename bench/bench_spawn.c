/*
 * bench_spawn.c: the cost of one confined job (issue 3). Each run gives
 * veil-worker a sealed table (one memfd, made once, as veild keeps them)
 * and a "describe" job; the worker confines itself (namespaces, empty
 * root, rlimits, seccomp), validates the table and answers; the parent
 * validates the result frame. Measured in the same run, each line on its
 * own (one after another):
 *   (a) cold: spawn + confine + job + result (spawner_start_fds);
 *   (b) pre-started, a pool of one: the current worker is idle (confined,
 *       blocked reading its job); the next one is started just before the
 *       current one's job is timed, from spawner_submit() to the validated
 *       result, so its exec and confinement compete with the job for the
 *       CPUs; then the bench waits, untimed, for the next one to be idle;
 *   (c) the same with nothing else running (no next worker meanwhile);
 *   (d) pre-started, back to back: the next job is submitted as soon as
 *       the last one ended, idle or not; a pool of one then runs at the
 *       rate workers can be started, and that is what it measures;
 *   (e) a child of a fork server (spawner_zygote_fork), back to back:
 *       fork, the child's own confinement, job, result; what veild runs;
 * and the references: fork + _exit + wait of a trivial child, posix_spawn
 * of /bin/true, and `bwrap --unshare-all --ro-bind / / true` if
 * bubblewrap is installed. The goal (issue 3): median at most 1 ms
 * (stretch 0.5 ms), at least 3x faster than bwrap, with idle pre-started
 * workers: judged on (b).
 * A worker is idle when /proc/PID/syscall shows it in read(0, ...) (root
 * or CAP_SYS_PTRACE: it is not dumpable), else when /proc/PID/wchan says
 * pipe_read, else after a fixed 10 ms.
 * Usage: bench_spawn VEIL-WORKER [RUNS]	(default 1000; each line stops
 * after about 10 s and says how many runs it got)
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "frame.h"
#include "spawner.h"
#include "table.h"

#define BUDGET_MS	10000.0		/* per line */

extern char **environ;

struct series {
	const char	*name;
	double		*t;
	int		 n;
	double		 med, p99;
};

static void
summarize(struct series *s)
{
	int k;

	qsort(s->t, (size_t)s->n, sizeof(double), cmp);
	s->med = s->n % 2 ? s->t[s->n / 2] :
	    (s->t[s->n / 2 - 1] + s->t[s->n / 2]) / 2;
	k = (int)((double)s->n * 0.99 + 0.999999) - 1;	/* nearest rank */
	s->p99 = s->t[k < 0 ? 0 : (k >= s->n ? s->n - 1 : k)];
}

static void
print_series(const struct series *s)
{
	printf("  %-50s %8.3f ms %8.3f ms %6d\n", s->name, s->med, s->p99,
	    s->n);
}

/* The bench's fixed inputs. */
struct setup {
	const char		*worker;
	int			 tfd;
	size_t			 tlen;
	char			*job;
	size_t			 joblen;
	struct spawner_limits	 lim;
};

static int
check(struct spawner *s, struct spawner_outcome *out)
{
	if (spawner_wait(s, out) != 0 || out->status != SPAWN_FINISHED ||
	    out->results == NULL) {
		fprintf(stderr, "bench_spawn: job failed: %s\n%s\n",
		    spawner_status_name(out->status), out->log ? out->log :
		    "");
		return -1;
	}
	return 0;
}

static int
run_cold(const struct setup *u, struct series *s, int runs)
{
	struct spawner_outcome out;
	struct spawner *sp;
	struct veil_err err;
	double t0, start = now_ms();

	for (s->n = 0; s->n < runs && now_ms() - start < BUDGET_MS; s->n++) {
		t0 = now_ms();
		if ((sp = spawner_start_fds(u->worker, NULL, &u->tfd, 1,
		    u->job, u->joblen, &u->lim, &err)) == NULL) {
			fprintf(stderr, "bench_spawn: %s\n", err.msg);
			return -1;
		}
		if (check(sp, &out) != 0)
			return -1;
		s->t[s->n] = now_ms() - t0;
		spawner_outcome_free(&out);
		spawner_free(sp);
	}
	return 0;
}

static const char *idle_how = "not needed";

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* The first line of /proc/PID/NAME into buf; -1 if it cannot be read. */
static int
proc_line(long pid, const char *name, char *buf, size_t len)
{
	char path[64];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	r = fgets(buf, (int)len, f) != NULL ? 0 : -1;
	fclose(f);
	return r;
}

/*
 * Waits (untimed) until our one child, a pre-started worker, is idle:
 * confined and blocked reading its job. At most 200 ms.
 */
static void
wait_idle(void)
{
	char buf[512], want[32];
	long pid;
	double t0 = now_ms();

	snprintf(buf, sizeof(buf), "task/%ld/children", (long)getpid());
	if (proc_line((long)getpid(), buf, buf, sizeof(buf)) != 0 ||
	    sscanf(buf, "%ld", &pid) != 1) {
		idle_how = "a fixed 10 ms (no /proc/PID/task/TID/children)";
		sleep_ms(10);
		return;
	}
	snprintf(want, sizeof(want), "%ld 0x0 ", (long)SYS_read);
	while (now_ms() - t0 < 200) {
		if (proc_line(pid, "syscall", buf, sizeof(buf)) == 0) {
			idle_how = "/proc/PID/syscall: in read(0, ...)";
			if (strncmp(buf, want, strlen(want)) == 0)
				return;
		} else if (proc_line(pid, "wchan", buf, sizeof(buf)) == 0 &&
		    buf[0] != '0') {
			idle_how = "/proc/PID/wchan: pipe_read";
			if (strstr(buf, "pipe_read") != NULL)
				return;
		} else {
			idle_how = "a fixed 10 ms (/proc/PID/syscall and wchan "
			    "unreadable: not root)";
			sleep_ms(10);
			return;
		}
		usleep(50);
	}
}

enum pool { POOL_ONE, POOL_ALONE, POOL_BACK_TO_BACK };

static int
run_prestarted(const struct setup *u, struct series *s, int runs,
    enum pool how)
{
	struct spawner_outcome out;
	struct spawner *cur, *next = NULL;
	struct veil_err err;
	double t0, start = now_ms();
	int r = -1;

	if (how != POOL_ALONE && (next = spawner_prestart(u->worker, NULL,
	    &u->tfd, 1, &u->lim, &err)) == NULL)
		goto fail;
	if (how == POOL_ONE)
		wait_idle();
	for (s->n = 0; s->n < runs && now_ms() - start < BUDGET_MS; s->n++) {
		if (how == POOL_ALONE) {
			if ((cur = spawner_prestart(u->worker, NULL, &u->tfd,
			    1, &u->lim, &err)) == NULL)
				goto fail;
			wait_idle();
		} else {
			cur = next;
			if ((next = spawner_prestart(u->worker, NULL, &u->tfd,
			    1, &u->lim, &err)) == NULL) {
				spawner_free(cur);
				goto fail;
			}
		}
		t0 = now_ms();
		if (spawner_submit(cur, u->job, u->joblen, &err) != 0) {
			spawner_free(cur);
			goto fail;
		}
		if (check(cur, &out) != 0) {
			spawner_free(cur);
			goto out;
		}
		s->t[s->n] = now_ms() - t0;
		spawner_outcome_free(&out);
		spawner_free(cur);
		if (how == POOL_ONE)
			wait_idle();
	}
	r = 0;
	goto out;
 fail:
	fprintf(stderr, "bench_spawn: %s\n", err.msg);
 out:
	if (next != NULL) {	/* the unused one: put down */
		spawner_kill(next);
		if (spawner_wait(next, &out) == 0)
			spawner_outcome_free(&out);
		spawner_free(next);
	}
	return r;
}

/* (e): children of one fork server, one after another. */
static int
run_zygote(const struct setup *u, struct series *s, int runs, double *cpu)
{
	struct spawner_outcome out;
	struct spawner_zygote *z;
	struct spawner *cur;
	struct veil_err err;
	double t0, start = now_ms(), sum = 0;
	int r = -1;

	if ((z = spawner_zygote_start(u->worker, NULL, &u->tfd, 1, &u->lim,
	    &err)) == NULL)
		goto fail;
	for (s->n = 0; s->n < runs && now_ms() - start < BUDGET_MS; s->n++) {
		t0 = now_ms();
		if ((cur = spawner_zygote_fork(z, &err)) == NULL)
			goto fail;
		if (spawner_submit(cur, u->job, u->joblen, &err) != 0) {
			spawner_free(cur);
			goto fail;
		}
		if (check(cur, &out) != 0) {
			spawner_free(cur);
			goto out;
		}
		s->t[s->n] = now_ms() - t0;
		sum += out.cpu_ms;
		spawner_outcome_free(&out);
		spawner_free(cur);
	}
	*cpu = s->n ? sum / s->n : 0;
	r = 0;
	goto out;
 fail:
	fprintf(stderr, "bench_spawn: %s\n", err.msg);
 out:
	spawner_zygote_free(z);
	return r;
}

/* A child that does nothing: fork + _exit + wait. */
static int
run_fork(struct series *s, int runs)
{
	double t0, start = now_ms();
	pid_t pid;
	int st;

	for (s->n = 0; s->n < runs && now_ms() - start < BUDGET_MS; s->n++) {
		t0 = now_ms();
		if ((pid = fork()) == -1)
			return -1;
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
			return -1;
		s->t[s->n] = now_ms() - t0;
	}
	return 0;
}

static int
run_spawn(const char *path, char *const av[], struct series *s, int runs)
{
	double t0, start = now_ms();
	pid_t pid;
	int st;

	for (s->n = 0; s->n < runs && now_ms() - start < BUDGET_MS; s->n++) {
		t0 = now_ms();
		if (posix_spawn(&pid, path, NULL, NULL, av, environ) != 0 ||
		    waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			return -1;
		s->t[s->n] = now_ms() - t0;
	}
	return 0;
}

/* bwrap's full path from PATH, or NULL. */
static const char *
find_bwrap(char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *e;

	for (p = path ? path : "/usr/bin:/bin"; *p != '\0'; p = *e ? e + 1 :
	    e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		snprintf(buf, len, "%.*s/bwrap", (int)(e - p), p);
		if (e > p && access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

static const char *
met(int ok)
{
	return ok ? "met" : "NOT met";
}

/*
 * Other processes weigh on every line, on (b) most: its job shares the
 * CPUs with the next worker's start.
 */
static void
print_load(const char *when)
{
	char buf[128];
	FILE *f;

	if ((f = fopen("/proc/loadavg", "r")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, " ")] = '\0';
		printf("  load average %s: %s on %ld CPUs\n", when, buf,
		    sysconf(_SC_NPROCESSORS_ONLN));
	}
	fclose(f);
}

/* The describe job for table "t", length-prefixed. */
static char *
make_job(size_t *lenp)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *framed;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "describe");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "t");
	if ((framed = malloc(sb.size + 4)) != NULL) {
		framed[0] = framed[1] = 0;
		framed[2] = (char)(sb.size >> 8);
		framed[3] = (char)sb.size;
		memcpy(framed + 4, sb.data, sb.size);
		*lenp = sb.size + 4;
	}
	msgpack_sbuffer_destroy(&sb);
	return framed;
}

static int
make_table(struct setup *u, int rows)
{
	struct table_builder *b = table_builder_new();
	struct veil_err err;
	void *buf;
	size_t len;
	int i;

	table_builder_add_column(b, "n", VEIL_T_INT, VEIL_R_QUASI, 0);
	for (i = 0; i < rows; i++)
		table_builder_int(b, 0, i);
	if (table_builder_finish(b, &buf, &len, &err) != 0) {
		table_builder_free(b);
		return -1;
	}
	table_builder_free(b);
	u->tfd = spawner_sealed_memfd("bench-table", buf, len);
	u->tlen = len;
	free(buf);
	return u->tfd == -1 ? -1 : 0;
}

/* The issue-3 figures over an empty job (a 10-row table). */
static int
bench_empty(struct setup *u, int runs)
{
	char *tav[] = { "/bin/true", NULL };
	char *bav[] = { "bwrap", "--unshare-all", "--ro-bind", "/", "/",
	    "true", NULL };
	struct series cold = { "(a) veil cold: spawn, confine, job, result",
	    NULL, 0, 0, 0 };
	struct series pre = { "(b) pre-started, idle, next spawning: submit..",
	    NULL, 0, 0, 0 };
	struct series set = { "(c) pre-started, idle, nothing else running",
	    NULL, 0, 0, 0 };
	struct series b2b = { "(d) pre-started, back to back (no idle time)",
	    NULL, 0, 0, 0 };
	struct series zyg = { "(e) child of a fork server, back to back",
	    NULL, 0, 0, 0 };
	struct series frk = { "ref fork + _exit + wait", NULL, 0, 0, 0 };
	struct series spn = { "ref posix_spawn /bin/true + wait", NULL, 0, 0,
	    0 };
	struct series bw = { "ref bwrap --unshare-all --ro-bind / / true",
	    NULL, 0, 0, 0 };
	struct series *all[] = { &cold, &pre, &set, &b2b, &zyg, &frk, &spn,
	    &bw };
	double zcpu = 0;
	char bwpath[4096];
	const char *bwrap = find_bwrap(bwpath, sizeof(bwpath));
	size_t i;
	int r = -1, have_bw = 0;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if ((all[i]->t = calloc((size_t)runs, sizeof(double))) == NULL)
			goto out;
	if (make_table(u, 10) != 0)
		goto out;
	printf("Confined empty job (\"describe\", 10-row table), spawn + "
	    "confine + job + validated result\n");
	printf("  up to %d runs per line, each line at most %.0f s; "
	    "lines measured one after another\n", runs, BUDGET_MS / 1e3);
	print_load("before");
	if (run_cold(u, &cold, runs) != 0 ||
	    run_prestarted(u, &pre, runs, POOL_ONE) != 0 ||
	    run_prestarted(u, &set, runs, POOL_ALONE) != 0 ||
	    run_prestarted(u, &b2b, runs, POOL_BACK_TO_BACK) != 0 ||
	    run_zygote(u, &zyg, runs, &zcpu) != 0 ||
	    run_fork(&frk, runs) != 0 ||
	    run_spawn("/bin/true", tav, &spn, runs) != 0)
		goto out;
	if (bwrap == NULL)
		printf("  bwrap not installed: apt-get install bubblewrap to "
		    "compare\n");
	else if (run_spawn(bwrap, bav, &bw, runs) != 0)
		printf("  bwrap failed here (no user namespaces?): skipped\n");
	else
		have_bw = 1;
	printf("  %-50s %11s %11s %6s\n", "", "median", "p99", "runs");
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i] == &bw && !have_bw)
			continue;
		summarize(all[i]);
		print_series(all[i]);
	}
	print_load("after");
	printf("  idle detected by %s\n", idle_how);
	printf("  veil / fork (median, p99):  (a) %.1fx %.1fx  (b) %.1fx "
	    "%.1fx  (c) %.1fx %.1fx  (d) %.1fx %.1fx\n",
	    cold.med / frk.med, cold.p99 / frk.p99, pre.med / frk.med,
	    pre.p99 / frk.p99, set.med / frk.med, set.p99 / frk.p99,
	    b2b.med / frk.med, b2b.p99 / frk.p99);
	if (have_bw) {
		printf("  bwrap / veil (median, p99): (a) %.1fx %.1fx  (b) "
		    "%.1fx %.1fx  (c) %.1fx %.1fx  (d) %.1fx %.1fx\n",
		    bw.med / cold.med, bw.p99 / cold.p99, bw.med / pre.med,
		    bw.p99 / pre.p99, bw.med / set.med, bw.p99 / set.p99,
		    bw.med / b2b.med, bw.p99 / b2b.p99);
		printf("  goal: at least 3x faster than bwrap (median): "
		    "(b) %s (%.1fx); cold (a) %s (%.1fx)\n",
		    met(bw.med >= 3 * pre.med), bw.med / pre.med,
		    met(bw.med >= 3 * cold.med), bw.med / cold.med);
	}
	printf("  goal: median at most 1 ms: (b) %s (%.3f ms); cold (a) %s "
	    "(%.3f ms)\n", met(pre.med <= 1.0), pre.med,
	    met(cold.med <= 1.0), cold.med);
	printf("  stretch: median at most 0.5 ms: (b) %s (%.3f ms); with "
	    "nothing else running (c) %s (%.3f ms)\n", met(pre.med <= 0.5),
	    pre.med, met(set.med <= 0.5), set.med);
	printf("  (d) is bounded by how fast workers start: a pool only "
	    "hides the spawn while jobs come slower than that\n");
	printf("  (e) the child's own CPU per job: %.3f ms; (e) / (d) median "
	    "%.2fx\n", zcpu, zyg.med / b2b.med);
	r = 0;
 out:
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		free(all[i]->t);
	if (u->tfd != -1)
		close(u->tfd);
	u->tfd = -1;
	return r;
}

/* The same job over a 1,000,000-row table: the table's share. */
static int
bench_big(struct setup *u, int runs)
{
	struct series cold = { "cold: spawn, confine, job, result", NULL, 0, 0,
	    0 };
	struct series pre = { "pre-started, idle, next spawning: submit..",
	    NULL, 0, 0, 0 };
	int r = -1;

	if ((cold.t = calloc((size_t)runs, sizeof(double))) == NULL ||
	    (pre.t = calloc((size_t)runs, sizeof(double))) == NULL ||
	    make_table(u, 1000000) != 0)
		goto out;
	if (run_cold(u, &cold, runs) != 0 ||
	    run_prestarted(u, &pre, runs, POOL_ONE) != 0)
		goto out;
	summarize(&cold);
	summarize(&pre);
	printf("Confined \"describe\" (digest of every byte) over 1,000,000 "
	    "rows (%.1f MB table)\n", (double)u->tlen / 1e6);
	printf("  %-50s %11s %11s %6s\n", "", "median", "p99", "runs");
	print_series(&cold);
	print_series(&pre);
	r = 0;
 out:
	free(cold.t);
	free(pre.t);
	if (u->tfd != -1)
		close(u->tfd);
	u->tfd = -1;
	return r;
}

int
main(int argc, char **argv)
{
	struct setup u;
	int runs = argc > 2 ? atoi(argv[2]) : 1000, r;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: bench_spawn VEIL-WORKER [RUNS]\n");
		return 2;
	}
	memset(&u, 0, sizeof(u));
	u.worker = argv[1];
	u.tfd = -1;
	u.lim.memory_bytes = 512u << 20;
	u.lim.cpu_ms = 5000;
	u.lim.wall_ms = 10000;
	u.lim.output_bytes = 65536;
	if ((u.job = make_job(&u.joblen)) == NULL)
		return 1;
	r = bench_empty(&u, runs) != 0 || bench_big(&u, runs < 50 ? runs :
	    50) != 0;
	free(u.job);
	return r;
}
