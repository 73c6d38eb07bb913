/*
 * test_sandbox.c: the worker sandbox, tried by breaking it. A test-only
 * probe (sandbox_probe.c) confines itself exactly as veil-worker does and
 * attempts one forbidden thing per case; each case asserts its fate:
 * killed by SIGSYS, or the errno the filter (or a lower layer) defines.
 * Then the spawner's statuses: finished, CPU, memory, wall clock, sandbox
 * kill, output too large, malformed output, crash, refusal to run
 * unconfined; and veil-worker itself over real sealed tables. Then
 * pre-started workers (spawner_prestart, spawner_submit), with veil-worker
 * and with this program itself run as a minimal worker ("--as-worker",
 * below) that confines itself, then reads its job from descriptor 0 and
 * does what the job's kind says: the probe acts at once, before any job.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <pthread.h>
#include <time.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confine.h"
#include "frame.h"
#include "spawner.h"
#include "table.h"
#include "worker_proto.h"

static char probe_path[512], worker_path[512], self_path[512];
static int probe_uid = -1;	/* >= 0: the probe runs as this user */

static int
setup(void **state)
{
	const char *b = getenv("VEIL_BUILD");

	(void)state;
	snprintf(probe_path, sizeof(probe_path), "%s/tests/sandbox-probe",
	    b ? b : "build");
	snprintf(worker_path, sizeof(worker_path), "%s/veil-worker",
	    b ? b : "build");
	if (readlink("/proc/self/exe", self_path, sizeof(self_path) - 1) < 1)
		return -1;
	return access(probe_path, X_OK) == 0 && access(worker_path, X_OK) == 0 ?
	    0 : -1;
}

/* Runs the probe directly; returns its wait status. */
static int
probe(const char *c, const char *arg)
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) == 0) {
		/* FSIZE is 0 in the probe: no regular files on 1 and 2. */
		if ((fd = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(97);
		if (probe_uid >= 0 && (setgroups(0, NULL) != 0 ||
		    setgid((gid_t)probe_uid) != 0 ||
		    setuid((uid_t)probe_uid) != 0))
			_exit(95);
		/* As the spawner does: the shared namespace, if any, on the
		 * descriptor after the probe's own. */
		if (spawner_netns() >= 0) {
			if (dup2(spawner_netns(), 3) != 3)
				_exit(97);
			if (arg != NULL)
				execl(probe_path, probe_path, c, arg, "--netns",
				    "3", (char *)NULL);
			else
				execl(probe_path, probe_path, c, "--netns",
				    "3", (char *)NULL);
		} else
			execl(probe_path, probe_path, c, arg, (char *)NULL);
		_exit(96);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void
expect_sigsys(const char *c, const char *arg)
{
	int st = probe(c, arg);

	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("probe %s: expected SIGSYS, got %s %d", c,
		    WIFSIGNALED(st) ? "signal" : "exit",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void
expect_exit(const char *c, const char *arg, int code)
{
	int st = probe(c, arg);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != code)
		fail_msg("probe %s: expected exit %d, got %s %d", c, code,
		    WIFSIGNALED(st) ? "signal" : "exit",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

static void
test_forbidden_syscalls_kill(void **state)
{
	static const char *const kills[] = {
		"socket-inet", "socket-unix", "socket-netlink", "connect",
		"execve", "fork", "vfork", "clone", "clone3", "ptrace",
		"io-uring", "int80", "x32", "mmap-exec", "mprotect-exec",
		"setuid", "unshare", "chdir", NULL
	};
	char me[32];
	int i;

	(void)state;
	for (i = 0; kills[i] != NULL; i++)
		expect_sigsys(kills[i], NULL);
	/* kill(2) of its parent: the parent (us) lives on */
	snprintf(me, sizeof(me), "%d", (int)getpid());
	expect_sigsys("kill-parent", me);
	/* I/O on descriptors that are not its own */
	expect_sigsys("write-other", "0");
	expect_sigsys("write-other", "3");
	expect_sigsys("read-other", "1");
}

static void
test_harmless_probes_get_errno(void **state)
{
	(void)state;
	expect_exit("open", NULL, 10);		/* EACCES */
	expect_exit("openat", NULL, 10);
	expect_exit("proc-mem", NULL, 10);	/* reading /proc/self/mem */
	expect_exit("ok", NULL, 0);		/* the allowed set works */
}

static void
test_layers_below_the_filter(void **state)
{
	int st = probe("root-ns", NULL);

	(void)state;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 21) {
		print_message("namespaces refused by this kernel: skipped\n");
		skip();
	}
	expect_exit("root-ns", NULL, 12);	/* /etc/passwd: ENOENT */
	expect_exit("net-ns", NULL, 13);	/* 127.0.0.1: ENETUNREACH */
	expect_exit("uid-ns", NULL, 14);	/* setuid(0) refused */
	expect_exit("write-ns", NULL, 15);	/* EROFS */
}

/*
 * The same fates for a worker started by an unprivileged user (CI runs
 * as root, where the worker drops to nobody itself): run as root, the
 * test becomes nobody before it starts the probe.
 */
static void
test_unprivileged_user(void **state)
{
	static const char *const kills[] = {
		"socket-inet", "connect", "execve", "fork", "ptrace",
		"io-uring", "int80", "mprotect-exec", "unshare", NULL
	};
	int i, st;

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: every other test ran unprivileged\n");
		skip();
	}
	probe_uid = 65534;
	for (i = 0; kills[i] != NULL; i++)
		expect_sigsys(kills[i], NULL);
	expect_exit("open", NULL, 10);
	expect_exit("ok", NULL, 0);
	st = probe("root-ns", NULL);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 21)
		print_message("unprivileged namespaces refused here: the "
		    "filter and rlimits still hold\n");
	else {
		expect_exit("root-ns", NULL, 12);
		expect_exit("net-ns", NULL, 13);
		expect_exit("write-ns", NULL, 15);
	}
	probe_uid = -1;
}

static void
test_parent_descriptors_invisible(void **state)
{
	int fd;

	(void)state;
	/* Not close-on-exec: only the worker's own close_range hides it. */
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(dup2(fd, 42), 42);
	close(fd);
	expect_exit("leaked-fd", "42", 11);	/* EBADF */
	close(42);
}

static struct spawner_limits
limits(uint64_t mem, uint32_t cpu, uint32_t wall, uint32_t out)
{
	struct spawner_limits l;

	l.memory_bytes = mem;
	l.cpu_ms = cpu;
	l.wall_ms = wall;
	l.output_bytes = out;
	return l;
}

/* Runs the probe through the spawner and returns its outcome. */
static void
spawn_probe(const char *c, const char *arg, const struct spawner_limits *l,
    struct spawner_outcome *out)
{
	char *av[3] = { (char *)c, (char *)arg, NULL };
	struct spawner *s;
	struct veil_err err;

	s = spawner_start(probe_path, av, NULL, NULL, 0, "x", 1, l, &err);
	if (s == NULL)
		fail_msg("spawner_start: %s", err.msg);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
}

static void
test_spawn_finished(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 4096);
	struct spawner_outcome out;
	unsigned int need = CONFINE_SECCOMP | CONFINE_RLIMITS |
	    CONFINE_NOPRIV | CONFINE_UNPRIV;

	(void)state;
	spawn_probe("ok", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_FINISHED);
	assert_non_null(out.results);
	assert_int_equal(out.confinement & need, need);
	spawner_outcome_free(&out);
}

static void
test_spawn_limits(void **state)
{
	struct spawner_limits l;
	struct spawner_outcome out;

	(void)state;
#if !defined(__SANITIZE_ADDRESS__)
	l = limits(64 << 20, 5000, 10000, 4096);
	spawn_probe("memory", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_MEMORY);
	spawner_outcome_free(&out);
#endif
	l = limits(0, 1000, 20000, 4096);
	spawn_probe("cpu", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_CPU);
	/* The CPU was really spent; rusage trails RLIMIT_CPU's own count by
	 * up to 15% on a loaded virtual machine (860 ms seen for 1 s). */
	assert_true(out.cpu_ms >= 500);
	spawner_outcome_free(&out);

	l = limits(0, 30000, 300, 4096);
	spawn_probe("hang", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_WALL);
	assert_true(out.wall_ms < 5000);
	spawner_outcome_free(&out);
}

static void
test_spawn_bad_output(void **state)
{
	static const char *const malformed[] = {
		"garbage", "liar", "badkey", "silent", NULL
	};
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;
	int i;

	(void)state;
	spawn_probe("big", "100000", &l, &out);
	assert_int_equal(out.status, SPAWN_OUTPUT);
	assert_null(out.results);
	spawner_outcome_free(&out);
	spawn_probe("big", "100", &l, &out);	/* under the cap: fine */
	assert_int_equal(out.status, SPAWN_FINISHED);
	spawner_outcome_free(&out);
	for (i = 0; malformed[i] != NULL; i++) {
		spawn_probe(malformed[i], NULL, &l, &out);
		if (out.status != SPAWN_MALFORMED)
			fail_msg("%s: status %s", malformed[i],
			    spawner_status_name(out.status));
		assert_null(out.results);
		spawner_outcome_free(&out);
	}
}

static void
test_spawn_kills_and_crashes(void **state)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;

	(void)state;
	spawn_probe("socket-inet", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_SANDBOX);
	assert_int_equal(out.signal, SIGSYS);
	spawner_outcome_free(&out);
	spawn_probe("segv", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_CRASHED);
	spawner_outcome_free(&out);
}

static void
test_spawn_log_bounded(void **state)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;

	(void)state;
	spawn_probe("log", NULL, &l, &out);
	assert_int_equal(out.status, SPAWN_FINISHED);
	assert_int_equal(out.log_len, SPAWN_LOG_MAX);
	assert_int_equal(out.log_len + out.log_dropped, 20000 * 31);
	assert_int_equal(strlen(out.log), out.log_len);
	spawner_outcome_free(&out);
}

/* In a child: install a filter that makes `nr` fail with EPERM, then
 * run the probe through the spawner and return the outcome's status. */
static int
status_under_denial(int nr, unsigned int *levelp)
{
	struct spawner_limits l = limits(0, 5000, 10000, 1024);
	struct spawner_outcome out;
	scmp_filter_ctx ctx;
	int p[2], st;
	unsigned int v[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) != 0 ||
		    seccomp_load(ctx) != 0)
			_exit(1);
		spawn_probe("ok", NULL, &l, &out);
		v[0] = out.status;
		v[1] = out.confinement;
		(void)!write(p[1], v, sizeof(v));
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], v, sizeof(v)), sizeof(v));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	*levelp = v[1];
	return (int)v[0];
}

static void
test_fail_closed(void **state)
{
	unsigned int level;

	(void)state;
	/* No seccomp: the worker refuses to run. */
	assert_int_equal(status_under_denial(SCMP_SYS(seccomp), &level),
	    SPAWN_REFUSED);
	/* No namespaces: it runs, and says so. */
	assert_int_equal(status_under_denial(SCMP_SYS(unshare), &level),
	    SPAWN_FINISHED);
	assert_true(level & CONFINE_SECCOMP);
	assert_false(level & CONFINE_USERNS);
}

/* {====== veil-worker itself */

static void
make_table(void **bufp, size_t *lenp)
{
	struct table_builder *b = table_builder_new();
	int i;

	assert_int_equal(table_builder_add_column(b, "n", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	for (i = 0; i < 1000; i++)
		assert_int_equal(table_builder_int(b, 0, i), 0);
	assert_int_equal(table_builder_finish(b, bufp, lenp, NULL), 0);
	table_builder_free(b);
}

static void
job_frame(msgpack_sbuffer *sb, const char *kind, int ntables)
{
	msgpack_packer pk;
	int i;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, kind);
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, (size_t)ntables);
	for (i = 0; i < ntables; i++)
		frame_pack_cstr(&pk, i ? "second" : "visits");
}

static void
run_worker(const void *const *tables, const size_t *lens, int n,
    const void *job, size_t joblen, struct spawner_outcome *out)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner *s;
	struct veil_err err;
	unsigned char hdr[4];
	char *framed = malloc(joblen + 4);

	assert_non_null(framed);
	hdr[0] = (unsigned char)(joblen >> 24);
	hdr[1] = (unsigned char)(joblen >> 16);
	hdr[2] = (unsigned char)(joblen >> 8);
	hdr[3] = (unsigned char)joblen;
	memcpy(framed, hdr, 4);
	memcpy(framed + 4, job, joblen);
	s = spawner_start(worker_path, NULL, tables, lens, (size_t)n, framed,
	    joblen + 4, &l, &err);
	free(framed);
	if (s == NULL)
		fail_msg("spawner_start: %s", err.msg);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
}

static uint64_t
fnv(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}

static void
test_worker_describe(void **state)
{
	struct spawner_outcome out;
	msgpack_sbuffer sb;
	const msgpack_object *t;
	const void *tabs[2];
	size_t lens[2];
	void *buf;
	size_t len;
	uint64_t u;

	(void)state;
	make_table(&buf, &len);
	tabs[0] = tabs[1] = buf;
	lens[0] = lens[1] = len;
	job_frame(&sb, "describe", 2);
	run_worker(tabs, lens, 2, sb.data, sb.size, &out);
	if (out.status != SPAWN_FINISHED)
		fail_msg("status %s, log: %s", spawner_status_name(out.status),
		    out.log);
	assert_non_null(t = frame_get(out.results, "visits"));
	assert_int_equal(frame_get_uint(t, "rows", &u), 0);
	assert_int_equal(u, 1000);
	assert_int_equal(frame_get_uint(t, "digest", &u), 0);
	assert_true(u == fnv(buf, len));	/* the bytes arrived intact */
	assert_non_null(frame_get(out.results, "second"));
	assert_true(out.confinement & CONFINE_SECCOMP);
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);

	/* an unknown kind is a classified error */
	job_frame(&sb, "mine-bitcoin", 1);
	run_worker(tabs, lens, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_string_equal(out.class, "input");
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);

	/* a corrupt table is refused inside the worker */
	((unsigned char *)buf)[0] = 'X';
	job_frame(&sb, "describe", 1);
	run_worker(tabs, lens, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_non_null(strstr(out.log, "bad magic"));
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
}

static void
test_worker_bad_job_frames(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		const char	*why;
	} bad[] = {
		{ "\x91", 1, "claims 1 elements, 0 bytes left" },
		{ "\xdd\xff\xff\xff\xff", 5, "claims 4294967295 elements" },
		{ "\xc1", 1, "invalid type byte" },
		{ "\x81\xa4kind\x01", 7, "kind or tables missing" },
		{ "\x01\x02", 2, "after the object" },
	};
	struct spawner_outcome out;
	void *buf;
	size_t len, i;
	const void *tabs[1];

	(void)state;
	make_table(&buf, &len);
	tabs[0] = buf;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_worker(tabs, &len, 1, bad[i].bytes, bad[i].len, &out);
		if (out.status != SPAWN_ERROR)
			fail_msg("case %zu: %s", i,
			    spawner_status_name(out.status));
		if (strstr(out.log, bad[i].why) == NULL)
			fail_msg("case %zu: log \"%s\" lacks \"%s\"", i,
			    out.log, bad[i].why);
		spawner_outcome_free(&out);
	}
	free(buf);
}

/* A job frame of kind "lua" over one table, "visits", in mode none. */
static void
lua_frame(msgpack_sbuffer *sb, const char *src)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "lua");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "visits");
	frame_pack_cstr(&pk, "source");
	frame_pack_cstr(&pk, src);
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, "none");
}

/*
 * A Lua job checks a float column's values when it first reads them
 * (table_open_lazy()): a NaN in one ends every job that reads the
 * column, however it reads it, and no other.
 */
static void
test_worker_lazy_floats(void **state)
{
	static const struct {
		const char	*src;
		int		 ok;
	} c[] = {
		{ "return { n = veil.dataset():count() }", 1 },
		{ "return { s = veil.dataset():sum('n', 0, 1000) }", 1 },
		/* the kernel's own pass, all rows */
		{ "return { s = veil.dataset():sum('x', 0, 1000) }", 0 },
		{ "return { m = veil.dataset():group_by('n'):mean('x', 0, 1) }",
		  0 },
		/* some rows only, the bad one not among them: still */
		{ "return { s = veil.dataset():where('n', '<', 10):sum('x', 0, 1) }",
		  0 },
		{ "return { n = veil.dataset():where('x', '>', 1):count() }", 0 },
		{ "return { q = veil.dataset():quantile('x', 0.5, 0, 1) }", 0 },
		{ "return { n = veil.dataset():filter(function(r) "
		  "return r.x > 1 end):count() }", 0 },
		{ "return { n = veil.dataset():filter(function(r) "
		  "return math.abs(r.x) > 1 end):count() }", 0 },
	};
	static const uint64_t rows[] = { 500, 501, 1000 };
	struct table_builder *b = table_builder_new();
	struct spawner_outcome out;
	struct table *t;
	msgpack_sbuffer sb;
	const void *tabs[1];
	double nan = NAN, zero = 0;
	char *x;
	void *buf;
	size_t len, i, k;

	(void)state;
	assert_int_equal(table_builder_add_column(b, "n", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_add_column(b, "x", VEIL_T_FLOAT,
	    VEIL_R_INSENSITIVE, 0), 1);
	/* 1001 rows: the kernels read two at a time, and one at the end */
	for (i = 0; i < 1001; i++) {
		assert_int_equal(table_builder_int(b, 0, (int64_t)i), 0);
		assert_int_equal(table_builder_float(b, 1, (double)i / 2), 0);
	}
	assert_int_equal(table_builder_finish(b, &buf, &len, NULL), 0);
	table_builder_free(b);
	assert_int_equal(table_open(buf, len, &t, NULL), 0);
	x = (char *)buf + ((const char *)table_column(t, 1)->data -
	    (const char *)buf);
	table_free(t);
	tabs[0] = buf;
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		if (k > 0)
			memcpy(x + 8 * rows[k - 1], &zero, sizeof(zero));
		memcpy(x + 8 * rows[k], &nan, sizeof(nan));
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			lua_frame(&sb, c[i].src);
			run_worker(tabs, &len, 1, sb.data, sb.size, &out);
			if (c[i].ok && out.status != SPAWN_FINISHED)
				fail_msg("row %llu: %s: status %s, log: %s",
				    (unsigned long long)rows[k], c[i].src,
				    spawner_status_name(out.status), out.log);
			if (!c[i].ok && (out.status != SPAWN_ERROR ||
			    strstr(out.log, "non-finite") == NULL))
				fail_msg("row %llu: %s: status %s, log: %s",
				    (unsigned long long)rows[k], c[i].src,
				    spawner_status_name(out.status), out.log);
			spawner_outcome_free(&out);
			msgpack_sbuffer_destroy(&sb);
		}
	}
	/* describe reads no values, but is not lazy */
	job_frame(&sb, "describe", 1);
	run_worker(tabs, &len, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_non_null(strstr(out.log, "non-finite"));
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
}

/*
 * Category codes are checked lazily too: by the group kernels as they
 * use each code (two rows at a time, and the odd one at the end), and by
 * everything else before it reads any. A code outside the dictionary
 * ends every job that reads the column, however it reads it, and no
 * other; in the unit column, every job.
 */
/* 1001 rows: n, and category g (unit column if unit) with a bad code. */
static void
bad_code_table(uint64_t bad_row, int unit, void **bufp, size_t *lenp)
{
	struct table_builder *b = table_builder_new();
	struct table *t;
	uint32_t code = 7;	/* the dictionary has 3 */
	size_t i;

	assert_int_equal(table_builder_add_column(b, "n", VEIL_T_INT,
	    VEIL_R_QUASI, 0), 0);
	assert_int_equal(table_builder_add_column(b, "g", VEIL_T_CATEGORY,
	    unit ? VEIL_R_IDENTIFIER : VEIL_R_SENSITIVE,
	    unit ? TABLE_F_UNIT : TABLE_F_DECLARED), 1);
	for (i = 0; i < 1001; i++) {
		assert_int_equal(table_builder_int(b, 0, (int64_t)i), 0);
		assert_int_equal(table_builder_category(b, 1, &"abc"[i % 3], 1),
		    0);
	}
	assert_int_equal(table_builder_finish(b, bufp, lenp, NULL), 0);
	table_builder_free(b);
	assert_int_equal(table_open(*bufp, *lenp, &t, NULL), 0);
	memcpy((char *)*bufp + ((const char *)table_column(t, 1)->data -
	    (const char *)*bufp) + 4 * bad_row, &code, sizeof(code));
	table_free(t);
}

static void
test_worker_lazy_codes(void **state)
{
	static const struct {
		const char	*src;
		int		 ok;
	} c[] = {
		{ "return { n = veil.dataset():count() }", 1 },
		{ "return { s = veil.dataset():sum('n', 0, 1000) }", 1 },
		/* the kernels' own check, every row */
		{ "return { n = veil.dataset():group_by('g'):count() }", 0 },
		{ "return { m = veil.dataset():group_by('g'):mean('n', 0, 1) }",
		  0 },
		/* checked first: another kernel, some rows, other reads */
		{ "return { q = veil.dataset():group_by('g'):quantile('n', 0.5, "
		  "0, 1) }", 0 },
		{ "return { n = veil.dataset():where('n', '<', 10):"
		  "group_by('g'):count() }", 0 },
		{ "return { n = veil.dataset():where('g', '=', 'a'):count() }",
		  0 },
		{ "return { n = veil.dataset():filter(function(r) "
		  "return r.g == 'a' end):count() }", 0 },
	};
	static const uint64_t rows[] = { 0, 501, 1000 };
	struct spawner_outcome out;
	msgpack_sbuffer sb;
	const void *tabs[1];
	void *buf;
	size_t len, i, k;

	(void)state;
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		bad_code_table(rows[k], 0, &buf, &len);
		tabs[0] = buf;
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			lua_frame(&sb, c[i].src);
			run_worker(tabs, &len, 1, sb.data, sb.size, &out);
			if (c[i].ok && out.status != SPAWN_FINISHED)
				fail_msg("row %llu: %s: status %s, log: %s",
				    (unsigned long long)rows[k], c[i].src,
				    spawner_status_name(out.status), out.log);
			if (!c[i].ok && (out.status != SPAWN_ERROR ||
			    strstr(out.log, "dictionary has 3") == NULL))
				fail_msg("row %llu: %s: status %s, log: %s",
				    (unsigned long long)rows[k], c[i].src,
				    spawner_status_name(out.status), out.log);
			spawner_outcome_free(&out);
			msgpack_sbuffer_destroy(&sb);
		}
		free(buf);
	}
	/* the unit column's codes become unit ids: every job reads them */
	bad_code_table(501, 1, &buf, &len);
	tabs[0] = buf;
	lua_frame(&sb, c[0].src);
	run_worker(tabs, &len, 1, sb.data, sb.size, &out);
	if (out.status != SPAWN_ERROR ||
	    strstr(out.log, "dictionary has 3") == NULL)
		fail_msg("unit: status %s, log: %s",
		    spawner_status_name(out.status), out.log);
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);
	/* describe reads no values, but is not lazy */
	job_frame(&sb, "describe", 1);
	run_worker(tabs, &len, 1, sb.data, sb.size, &out);
	assert_int_equal(out.status, SPAWN_ERROR);
	assert_non_null(strstr(out.log, "dictionary has 3"));
	spawner_outcome_free(&out);
	msgpack_sbuffer_destroy(&sb);
	free(buf);
}

/* }====== */

/* {====== pre-started workers */

/*
 * This program as a minimal worker: "--as-worker" and the spawner's own
 * arguments. It confines itself as veil-worker does, blocks reading its
 * job frame from descriptor 0 (what a pre-started worker waits on), and
 * then, by the job's kind: "ok" answers a valid result naming the kind
 * and the job's length; "socket" makes a forbidden system call; "hang"
 * spins. Mode "partial" reads 8 bytes of its job and exits 3.
 */
static int
as_worker(int argc, char **argv)
{
	struct confine_opts co;
	msgpack_unpacked up;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct veil_err err;
	volatile unsigned long spin = 0;
	const char *step, *kind;
	unsigned int level;
	char small[8];
	size_t len, klen;
	void *buf;
	int i;

	memset(&co, 0, sizeof(co));
	co.keep_fds = WORKER_FD_TABLE0;
	co.netns_fd = -1;
	for (i = 3; i + 1 < argc; i += 2)
		if (strcmp(argv[i], "--tables") == 0)
			co.keep_fds = WORKER_FD_TABLE0 + atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--cpu") == 0)
			co.cpu_seconds = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--netns") == 0)
			co.netns_fd = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--zygote") == 0)
			co.zygote = atoi(argv[i + 1]) != 0;
	if (confine_self(&co, &level, &step) == -1)
		_exit(WORKER_EXIT_CONFINE);
	if (co.zygote) {
		confine_serve(&co);
		if (confine_child(&co, &step) == -1)
			_exit(WORKER_EXIT_CONFINE);
	}
	if (strcmp(argv[2], "partial") == 0) {
		(void)!read(WORKER_FD_JOB, small, sizeof(small));
		_exit(3);
	}
	if (frame_read(WORKER_FD_JOB, WORKER_MAX_JOB, &buf, &len, &err) != 0)
		_exit(WORKER_EXIT_JOB);
	msgpack_unpacked_init(&up);
	if (frame_unpack(buf, len, &up, &err) != 0 ||
	    frame_get_str(&up.data, "kind", &kind, &klen) != 0)
		_exit(WORKER_EXIT_JOB);
	if (klen == 6 && memcmp(kind, "socket", 6) == 0)
		(void)socket(AF_INET, SOCK_STREAM, 0);
	if (klen == 4 && memcmp(kind, "hang", 4) == 0)
		for (;;)
			spin++;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "status");
	frame_pack_cstr(&pk, "ok");
	frame_pack_cstr(&pk, "confinement");
	msgpack_pack_unsigned_int(&pk, level);
	frame_pack_cstr(&pk, "stats");
	msgpack_pack_map(&pk, 0);
	frame_pack_cstr(&pk, "results");
	msgpack_pack_map(&pk, 2);
	frame_pack_cstr(&pk, "kind");
	msgpack_pack_str(&pk, klen);
	msgpack_pack_str_body(&pk, kind, klen);
	frame_pack_cstr(&pk, "bytes");
	msgpack_pack_uint64(&pk, len);
	_exit(frame_write_sbuf(WORKER_FD_RESULT, &sb) == 0 ? WORKER_EXIT_OK :
	    WORKER_EXIT_OUTPUT);
}

/* Open descriptors of this process. */
static int
count_fds(void)
{
	struct dirent *e;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own */
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Waits (up to 10 s) until this process's one child, a pre-started
 * worker, is idle (in read(0, ...), as /proc/PID/syscall shows to root;
 * otherwise a fixed 300 ms) or, with exited, has exited (a zombie).
 */
static void
wait_child(int exited)
{
	char path[64], buf[512], want[32];
	const char *st;
	long pid = 0;
	FILE *f;
	int i;

	snprintf(want, sizeof(want), "%ld 0x0 ", (long)SYS_read);
	for (i = 0; i < 10000; i++, sleep_ms(1)) {
		snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
		    (long)getpid());
		if ((f = fopen(path, "r")) == NULL)
			break;
		buf[0] = '\0';
		if (fgets(buf, sizeof(buf), f) == NULL || sscanf(buf, "%ld",
		    &pid) != 1)
			pid = 0;
		fclose(f);
		if (pid == 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/%s", pid, exited ?
		    "stat" : "syscall");
		if ((f = fopen(path, "r")) == NULL)
			break;
		buf[0] = '\0';
		if (fgets(buf, sizeof(buf), f) == NULL && !exited) {
			fclose(f);
			break;
		}
		fclose(f);
		st = strrchr(buf, ')');
		if (exited ? st != NULL && st[1] == ' ' && st[2] == 'Z' :
		    strncmp(buf, want, strlen(want)) == 0)
			return;
	}
	sleep_ms(300);
}

/* A length-prefixed job frame: kind, tables (names), and pad bytes. */
static char *
framed_job(const char *kind, int ntables, size_t pad, size_t *lenp)
{
	static const char zero[4096];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *f;
	int i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, pad ? 3 : 2);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, kind);
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, (size_t)ntables);
	for (i = 0; i < ntables; i++)
		frame_pack_cstr(&pk, i ? "second" : "visits");
	if (pad) {
		frame_pack_cstr(&pk, "pad");
		msgpack_pack_bin(&pk, pad);
		for (i = 0; (size_t)i < pad; i += (int)sizeof(zero))
			msgpack_pack_bin_body(&pk, zero, pad - (size_t)i <
			    sizeof(zero) ? pad - (size_t)i : sizeof(zero));
	}
	assert_non_null(f = malloc(sb.size + 4));
	f[0] = (char)(sb.size >> 24);
	f[1] = (char)(sb.size >> 16);
	f[2] = (char)(sb.size >> 8);
	f[3] = (char)sb.size;
	memcpy(f + 4, sb.data, sb.size);
	*lenp = sb.size + 4;
	msgpack_sbuffer_destroy(&sb);
	return f;
}

/* Sealed memfds of two tables (the same bytes twice), and the bytes. */
static void
table_fds(int fds[2], void **bufp, size_t *lenp)
{
	make_table(bufp, lenp);
	assert_true((fds[0] = spawner_sealed_memfd("t0", *bufp, *lenp)) >= 0);
	assert_true((fds[1] = spawner_sealed_memfd("t1", *bufp, *lenp)) >= 0);
}

static struct spawner *
prestart(const char *path, char *const av[], const int *fds, size_t n,
    const struct spawner_limits *l)
{
	struct spawner *s;
	struct veil_err err;

	if ((s = spawner_prestart(path, av, fds, n, l, &err)) == NULL)
		fail_msg("spawner_prestart: %s", err.msg);
	return s;
}

static void
submit_ok(struct spawner *s, const void *job, size_t len)
{
	struct veil_err err;

	if (spawner_submit(s, job, len, &err) != 0)
		fail_msg("spawner_submit: %s", err.msg);
}

/* The same job, cold and pre-started: the same outcome. */
static void
test_prestart_same_outcome(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner_outcome cold, pre;
	struct spawner *s;
	struct veil_err err;
	const msgpack_object *t;
	char *job;
	void *buf;
	size_t len, joblen;
	uint64_t a, b;
	int fds[2], before, k;
	static const char *const kinds[] = { "describe", "mine-bitcoin" };

	(void)state;
	before = count_fds();
	table_fds(fds, &buf, &len);
	for (k = 0; k < 2; k++) {
		job = framed_job(kinds[k], 2, 0, &joblen);
		if ((s = spawner_start_fds(worker_path, NULL, fds, 2, job,
		    joblen, &l, &err)) == NULL)
			fail_msg("spawner_start_fds: %s", err.msg);
		assert_int_equal(spawner_wait(s, &cold), 0);
		spawner_free(s);
		s = prestart(worker_path, NULL, fds, 2, &l);
		submit_ok(s, job, joblen);
		assert_int_equal(spawner_wait(s, &pre), 0);
		spawner_free(s);
		free(job);
		assert_int_equal(pre.status, cold.status);
		assert_int_equal(pre.confinement, cold.confinement);
		assert_string_equal(pre.class, cold.class);
		assert_string_equal(pre.message, cold.message);
		if (k == 0) {
			if (pre.status != SPAWN_FINISHED)
				fail_msg("status %s, log: %s",
				    spawner_status_name(pre.status), pre.log);
			assert_true(pre.confinement & CONFINE_SECCOMP);
			assert_non_null(t = frame_get(pre.results, "second"));
			assert_int_equal(frame_get_uint(t, "digest", &a), 0);
			assert_true(a == fnv(buf, len));
			assert_non_null(t = frame_get(cold.results, "second"));
			assert_int_equal(frame_get_uint(t, "digest", &b), 0);
			assert_true(a == b);
			assert_non_null(t = frame_get(pre.results, "visits"));
			assert_int_equal(frame_get_uint(t, "rows", &a), 0);
			assert_int_equal(a, 1000);
		} else {
			assert_int_equal(pre.status, SPAWN_ERROR);
			assert_string_equal(pre.class, "input");
		}
		spawner_outcome_free(&cold);
		spawner_outcome_free(&pre);
	}
	close(fds[0]);
	close(fds[1]);
	free(buf);
	assert_int_equal(count_fds(), before);
}

/* The deadline runs from submit, not from the spawn. */
static void
test_prestart_deadline_at_submit(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 300, 65536);
	struct spawner_outcome out;
	struct spawner *s;
	char *job, *av[] = { "--as-worker", "job", NULL };
	void *buf;
	size_t len, joblen;
	int fds[2], before;

	(void)state;
	before = count_fds();
	table_fds(fds, &buf, &len);
	job = framed_job("describe", 1, 0, &joblen);
	s = prestart(worker_path, NULL, fds, 1, &l);
	sleep_ms(600);		/* twice the wall-clock limit, idle */
	wait_child(0);
	submit_ok(s, job, joblen);
	assert_int_equal(spawner_wait(s, &out), 0);
	if (out.status != SPAWN_FINISHED)
		fail_msg("status %s, log: %s", spawner_status_name(out.status),
		    out.log);
	assert_true(out.wall_ms < 300);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);

	/* and it is enforced from there: a job that spins is killed */
	job = framed_job("hang", 0, 0, &joblen);
	s = prestart(self_path, av, NULL, 0, &l);
	sleep_ms(400);
	wait_child(0);
	submit_ok(s, job, joblen);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_WALL);
	assert_true(out.wall_ms >= 290 && out.wall_ms < 5000);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);
	close(fds[0]);
	close(fds[1]);
	free(buf);
	assert_int_equal(count_fds(), before);
}

/* An idle worker put down: a clean status, and nothing left behind. */
static void
test_prestart_idle_kill(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 300, 65536);
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	void *buf;
	size_t len;
	int fds[2], before, i;

	(void)state;
	before = count_fds();
	table_fds(fds, &buf, &len);
	for (i = 0; i < 3; i++) {
		s = prestart(worker_path, NULL, fds, 2, &l);
		if (i == 1)
			sleep_ms(400);	/* idle past its wall limit */
		if (i < 2)	/* i == 2: spawner_wait kills it itself */
			spawner_kill(s);
		assert_int_equal(spawner_wait(s, &out), 0);
		assert_int_equal(out.status, SPAWN_CRASHED);
		assert_int_equal(out.signal, SIGKILL);
		assert_true(out.wall_ms == 0);
		assert_null(out.results);
		spawner_outcome_free(&out);
		/* no job for a worker that is gone */
		assert_int_not_equal(spawner_submit(s, "\0\0\0\0", 4, &err), 0);
		spawner_free(s);
	}
	/* never waited for: spawner_free puts it down */
	spawner_free(prestart(worker_path, NULL, fds, 2, &l));
	close(fds[0]);
	close(fds[1]);
	free(buf);
	assert_int_equal(count_fds(), before);
}

/*
 * A worker that died while idle, or while its job was being written: an
 * error from submit, no SIGPIPE (its default action is left in place: it
 * would end this test), and spawner_wait says how the worker ended.
 */
static void
test_prestart_submit_after_death(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	struct sigaction sa, old;
	sigset_t pend;
	char *job, *av[] = { "silent", NULL };
	char *pav[] = { "--as-worker", "partial", NULL };
	size_t joblen;
	int before, r;

	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
	before = count_fds();

	/* the probe confines itself and exits at once, with no result */
	job = framed_job("describe", 0, 0, &joblen);
	s = prestart(probe_path, av, NULL, 0, &l);
	wait_child(1);
	r = spawner_submit(s, job, joblen, &err);
	assert_int_equal(r, VEIL_E_IO);
	assert_non_null(strstr(err.msg, "ended before"));
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_MALFORMED);
	assert_int_equal(out.exit_code, 0);
	spawner_outcome_free(&out);
	/* at most once */
	assert_int_equal(spawner_submit(s, job, joblen, &err),
	    VEIL_E_INVALID);
	spawner_free(s);
	free(job);

	/* a job larger than the pipe; the worker reads 8 bytes and exits */
	job = framed_job("describe", 0, 4u << 20, &joblen);
	s = prestart(self_path, pav, NULL, 0, &l);
	assert_int_equal(spawner_submit(s, job, joblen, &err), VEIL_E_IO);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_CRASHED);
	assert_int_equal(out.exit_code, 3);
	spawner_outcome_free(&out);
	spawner_free(s);

	/* a cold spawner takes no job this way */
	s = spawner_start(probe_path, (char *[]){ "ok", NULL }, NULL, NULL, 0,
	    "x", 1, &l, &err);
	assert_non_null(s);
	assert_int_equal(spawner_submit(s, job, joblen, &err),
	    VEIL_E_INVALID);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_FINISHED);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);

	assert_int_equal(sigpending(&pend), 0);
	assert_false(sigismember(&pend, SIGPIPE));
	assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
	assert_int_equal(count_fds(), before);
}

/* The filter is in place for the job: a forbidden call still kills. */
static void
test_prestart_forbidden_syscall(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	char *job, *av[] = { "--as-worker", "job", NULL };
	char *pav[] = { "socket-inet", NULL };
	size_t joblen;
	int before;

	(void)state;
	before = count_fds();
	/* first the control: the same worker, a harmless job */
	job = framed_job("ok", 0, 100000, &joblen);
	s = prestart(self_path, av, NULL, 0, &l);
	submit_ok(s, job, joblen);
	assert_int_equal(spawner_wait(s, &out), 0);
	if (out.status != SPAWN_FINISHED)
		fail_msg("status %s, log: %s", spawner_status_name(out.status),
		    out.log);
	assert_true(out.confinement & CONFINE_SECCOMP);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);

	job = framed_job("socket", 0, 0, &joblen);
	s = prestart(self_path, av, NULL, 0, &l);
	wait_child(0);		/* the job comes after confinement */
	submit_ok(s, job, joblen);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_SANDBOX);
	assert_int_equal(out.signal, SIGSYS);
	spawner_outcome_free(&out);
	spawner_free(s);

	/* the probe breaks the rule while idle: killed all the same */
	s = prestart(probe_path, pav, NULL, 0, &l);
	wait_child(1);
	assert_int_not_equal(spawner_submit(s, job, joblen, &err), 0);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_SANDBOX);
	assert_int_equal(out.signal, SIGSYS);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);
	assert_int_equal(count_fds(), before);
}

/*
 * Workers pre-started from two threads at once: each gets its own job
 * (its own table, by digest), and a process started meanwhile inherits
 * none of the spawner's descriptors.
 */
struct racer {
	int		 fd;
	uint64_t	 digest;
	int		 bad;
};

static void *
race(void *arg)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct racer *r = arg;
	struct spawner_outcome out;
	struct spawner *s[4];
	struct veil_err err;
	const msgpack_object *t;
	char *job;
	size_t joblen;
	uint64_t u;
	int i;

	job = framed_job("describe", 1, 0, &joblen);
	for (i = 0; i < 4; i++)
		if ((s[i] = spawner_prestart(worker_path, NULL, &r->fd, 1, &l,
		    &err)) == NULL)
			r->bad++;
	for (i = 0; i < 4; i++) {
		if (s[i] == NULL)
			continue;
		if (spawner_submit(s[i], job, joblen, &err) != 0 ||
		    spawner_wait(s[i], &out) != 0) {
			r->bad++;
			spawner_free(s[i]);
			continue;
		}
		if (out.status != SPAWN_FINISHED ||
		    (t = frame_get(out.results, "visits")) == NULL ||
		    frame_get_uint(t, "digest", &u) != 0 || u != r->digest)
			r->bad++;
		spawner_outcome_free(&out);
		spawner_free(s[i]);
	}
	free(job);
	return NULL;
}

static void
test_prestart_threads(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner_outcome out;
	struct spawner *idle = NULL;
	struct racer r[2];
	pthread_t th[2];
	void *buf;
	size_t len;
	char line[2][512], *av[] = { "ls", "/proc/self/fd", NULL };
	int i, st, before, p[2];
	pid_t pid;
	FILE *f;

	(void)state;
	before = count_fds();
	make_table(&buf, &len);
	for (i = 0; i < 2; i++) {
		((unsigned char *)buf)[len - 1] ^= (unsigned char)(i + 1);
		r[i].fd = spawner_sealed_memfd("t", buf, len);
		assert_true(r[i].fd >= 0);
		r[i].digest = fnv(buf, len);
		r[i].bad = 0;
		((unsigned char *)buf)[len - 1] ^= (unsigned char)(i + 1);
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].bad, 0);
	}

	/*
	 * An idle worker's pipe, pidfd and result pipes: not inherited. ls
	 * lists its descriptors before and while the worker is idle (what
	 * this process inherited itself, and ls's own, are in both lists).
	 */
	for (i = 0; i < 2; i++) {
		if (i == 1)
			idle = prestart(worker_path, NULL, &r[0].fd, 1, &l);
		assert_int_equal(pipe(p), 0);
		if ((pid = fork()) == 0) {
			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execv("/bin/ls", av);
			_exit(127);
		}
		close(p[1]);
		assert_non_null(f = fdopen(p[0], "r"));
		line[i][fread(line[i], 1, sizeof(line[i]) - 1, f)] = '\0';
		fclose(f);
		assert_int_equal(waitpid(pid, &st, 0), pid);
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_string_equal(line[1], line[0]);
	spawner_kill(idle);
	assert_int_equal(spawner_wait(idle, &out), 0);
	spawner_outcome_free(&out);
	spawner_free(idle);
	close(r[0].fd);
	close(r[1].fd);
	free(buf);
	assert_int_equal(count_fds(), before);
}

/*
 * The network namespace a worker is in, as "net:[inode]" read from
 * /proc, once it differs from `not` (the worker joins or makes its own
 * while confining itself); "" after two seconds without.
 */
static void
worker_netns(pid_t pid, const char *not, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	for (i = 0; i < 2000; i++, sleep_ms(1)) {
		if ((n = readlink(path, buf, len - 1)) <= 0)
			break;
		buf[n] = '\0';
		if (strcmp(buf, not) != 0)
			return;
	}
	buf[0] = '\0';
}

/*
 * Without sharing, each worker is in a network namespace of its own;
 * after spawner_share_netns(), every worker is in the one made there,
 * which is not ours, and jobs run the same. (Root only: elsewhere
 * sharing is refused and nothing changes.)
 */
static void
test_shared_netns(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 5000, 65536);
	struct spawner_outcome out;
	struct spawner *s[2];
	struct veil_err err;
	struct stat st;
	char ours[64], shared[64], a[64], b[64], *job;
	size_t jlen, len;
	void *buf;
	int fds[2], i;
	ssize_t n;

	(void)state;
	assert_true((n = readlink("/proc/self/ns/net", ours,
	    sizeof(ours) - 1)) > 0);
	ours[n] = '\0';
	table_fds(fds, &buf, &len);
	if (spawner_netns() < 0) {
		s[0] = prestart(worker_path, NULL, fds, 2, &l);
		s[1] = prestart(worker_path, NULL, fds, 2, &l);
		worker_netns(spawner_pid(s[0]), ours, a, sizeof(a));
		worker_netns(spawner_pid(s[1]), ours, b, sizeof(b));
		assert_string_not_equal(a, "");
		assert_string_not_equal(b, "");
		assert_string_not_equal(a, b);
		for (i = 0; i < 2; i++) {
			spawner_kill(s[i]);
			assert_int_equal(spawner_wait(s[i], &out), 0);
			spawner_outcome_free(&out);
			spawner_free(s[i]);
		}
		if (geteuid() != 0) {
			assert_int_equal(spawner_share_netns(&err), -1);
			assert_int_equal(spawner_netns(), -1);
			goto out;
		}
		if (spawner_share_netns(&err) != 0)
			fail_msg("spawner_share_netns: %s", err.msg);
	}
	assert_int_equal(fstat(spawner_netns(), &st), 0);
	snprintf(shared, sizeof(shared), "net:[%llu]",
	    (unsigned long long)st.st_ino);
	assert_string_not_equal(shared, ours);
	job = framed_job("describe", 2, 0, &jlen);
	for (i = 0; i < 2; i++)
		s[i] = prestart(worker_path, NULL, fds, 2, &l);
	for (i = 0; i < 2; i++) {
		worker_netns(spawner_pid(s[i]), ours, a, sizeof(a));
		assert_string_equal(a, shared);
		submit_ok(s[i], job, jlen);
		assert_int_equal(spawner_wait(s[i], &out), 0);
		assert_int_equal(out.status, SPAWN_FINISHED);
		assert_int_equal(out.confinement, CONFINE_FULL);
		spawner_outcome_free(&out);
		spawner_free(s[i]);
	}
	free(job);
 out:
	close(fds[0]);
	close(fds[1]);
	free(buf);
}

/*
 * veil-worker runs buyers' jobs only: the upload kinds, and the key and
 * output descriptor that come with them, are veil-ingest's.
 */
static void
test_worker_has_no_ingest_kinds(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 5000, 65536);
	struct spawner_outcome out;
	struct spawner *s;
	struct veil_err err;
	const char *kinds[] = { "ingest", "check" };
	char *job;
	size_t jlen, i;
	int fds[2] = { -1, -1 };

	(void)state;
	for (i = 0; i < 2; i++) {
		job = framed_job(kinds[i], 0, 0, &jlen);
		s = spawner_start_ex(worker_path, NULL, NULL, 0, NULL, 0, job,
		    jlen, &l, &err);
		assert_non_null(s);
		assert_int_equal(spawner_wait(s, &out), 0);
		assert_int_equal(out.status, SPAWN_ERROR);
		assert_non_null(strstr(out.message, "unknown job kind"));
		spawner_outcome_free(&out);
		spawner_free(s);
		free(job);
	}
	/* the ingest layout (two extra descriptors) is a usage error */
	assert_int_equal(pipe(fds), 0);
	job = framed_job("ingest", 0, 0, &jlen);
	s = spawner_start_ex(worker_path, NULL, NULL, 0, fds, 2, job, jlen,
	    &l, &err);
	assert_non_null(s);
	assert_int_equal(spawner_wait(s, &out), 0);
	assert_int_equal(out.status, SPAWN_CRASHED);
	assert_int_equal(out.exit_code, WORKER_EXIT_USAGE);
	spawner_outcome_free(&out);
	spawner_free(s);
	free(job);
	close(fds[0]);
	close(fds[1]);
}

/* }====== */

/* {====== fork servers (spawner_zygote_*) */

static struct spawner_zygote *
zygote(const char *path, char *const av[], const int *fds, size_t n,
    const struct spawner_limits *l)
{
	struct spawner_zygote *z;
	struct veil_err err;

	if ((z = spawner_zygote_start(path, av, fds, n, l, &err)) == NULL)
		fail_msg("spawner_zygote_start: %s", err.msg);
	return z;
}

/* One child of z: given its job (which a probe may never read), ended. */
static void
zygote_run(struct spawner_zygote *z, const void *job, size_t len,
    struct spawner_outcome *out)
{
	struct spawner *s;
	struct veil_err err;

	if ((s = spawner_zygote_fork(z, &err)) == NULL)
		fail_msg("spawner_zygote_fork: %s", err.msg);
	(void)spawner_submit(s, job, len, &err);
	assert_int_equal(spawner_wait(s, out), 0);
	spawner_free(s);
}

/* A probe case through its own fork server, twice: same fate each time. */
static void
zygote_probe(const char *c, const char *arg, struct spawner_outcome *out)
{
	struct spawner_limits l = limits(0, 5000, 10000, 4096);
	char *av[3] = { (char *)c, (char *)arg, NULL };
	struct spawner_outcome first;
	struct spawner_zygote *z;

	z = zygote(probe_path, av, NULL, 0, &l);
	zygote_run(z, "x", 1, &first);
	zygote_run(z, "x", 1, out);
	assert_int_equal(first.status, out->status);
	assert_int_equal(first.signal, out->signal);
	assert_int_equal(first.exit_code, out->exit_code);
	assert_int_equal(spawner_zygote_jobs(z), 2);
	assert_false(spawner_zygote_broken(z));
	spawner_outcome_free(&first);
	spawner_zygote_free(z);
}

static void
zygote_expect_sigsys(const char *c, const char *arg)
{
	struct spawner_outcome out;

	zygote_probe(c, arg, &out);
	if (out.status != SPAWN_SANDBOX || out.signal != SIGSYS)
		fail_msg("probe %s through a fork server: expected SIGSYS, "
		    "got %s (signal %d, exit %d): %s", c,
		    spawner_status_name(out.status), out.signal,
		    out.exit_code, out.log);
	spawner_outcome_free(&out);
}

static void
zygote_expect_exit(const char *c, const char *arg, int code)
{
	struct spawner_outcome out;

	zygote_probe(c, arg, &out);
	if (out.signal != 0 || out.exit_code != code)
		fail_msg("probe %s through a fork server: expected exit %d, "
		    "got %s (signal %d, exit %d): %s", c, code,
		    spawner_status_name(out.status), out.signal,
		    out.exit_code, out.log);
	spawner_outcome_free(&out);
}

/*
 * The attacks of test_forbidden_syscalls_kill and friends, by children
 * of a fork server: each child runs under the server's filter and the
 * job filter stacked on it, with NPROC 0, and each dies alone; the
 * server forks the next as if nothing happened.
 */
static void
test_zygote_forbidden_syscalls(void **state)
{
	static const char *const kills[] = {
		"socket-inet", "socket-unix", "socket-netlink", "connect",
		"execve", "fork", "vfork", "clone", "clone3", "ptrace",
		"io-uring", "int80", "x32", "mmap-exec", "mprotect-exec",
		"setuid", "unshare", "chdir", NULL
	};
	char me[32];
	int i, before = count_fds();

	(void)state;
	for (i = 0; kills[i] != NULL; i++)
		zygote_expect_sigsys(kills[i], NULL);
	snprintf(me, sizeof(me), "%d", (int)getpid());
	zygote_expect_sigsys("kill-parent", me);
	zygote_expect_sigsys("write-other", "0");
	zygote_expect_sigsys("write-other", "3");
	zygote_expect_sigsys("read-other", "1");
	zygote_expect_exit("open", NULL, 10);
	zygote_expect_exit("proc-mem", NULL, 10);
	zygote_expect_exit("ok", NULL, 0);
	assert_int_equal(count_fds(), before);
}

static void
test_zygote_layers(void **state)
{
	int st = probe("root-ns", NULL);

	(void)state;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 21) {
		print_message("namespaces refused by this kernel: skipped\n");
		skip();
	}
	zygote_expect_exit("root-ns", NULL, 12);
	zygote_expect_exit("net-ns", NULL, 13);
	zygote_expect_exit("uid-ns", NULL, 14);
	zygote_expect_exit("write-ns", NULL, 15);
	/* Children share a PID namespace under their server, its init. */
	zygote_expect_exit("pid-ns", NULL, 16);
	expect_exit("pid-ns", NULL, 17);	/* a cold worker: alone */
}

static void
test_zygote_limits(void **state)
{
	struct spawner_limits l;
	struct spawner_outcome out;
	struct spawner_zygote *z;
	char *av[2] = { NULL, NULL };

	(void)state;
#if !defined(__SANITIZE_ADDRESS__)
	l = limits(64 << 20, 5000, 10000, 4096);
	av[0] = "memory";
	z = zygote(probe_path, av, NULL, 0, &l);
	zygote_run(z, "x", 1, &out);
	assert_int_equal(out.status, SPAWN_MEMORY);
	spawner_outcome_free(&out);
	spawner_zygote_free(z);
#endif
	/* Each child's CPU is its own: the server's never counts. */
	l = limits(0, 1000, 20000, 4096);
	av[0] = "cpu";
	z = zygote(probe_path, av, NULL, 0, &l);
	zygote_run(z, "x", 1, &out);
	assert_int_equal(out.status, SPAWN_CPU);
	assert_true(out.cpu_ms >= 500);
	spawner_outcome_free(&out);
	zygote_run(z, "x", 1, &out);
	assert_int_equal(out.status, SPAWN_CPU);
	spawner_outcome_free(&out);
	spawner_zygote_free(z);

	l = limits(0, 30000, 300, 4096);
	av[0] = "hang";
	z = zygote(probe_path, av, NULL, 0, &l);
	zygote_run(z, "x", 1, &out);
	assert_int_equal(out.status, SPAWN_WALL);
	assert_true(out.wall_ms < 5000);
	spawner_outcome_free(&out);
	zygote_run(z, "x", 1, &out);
	assert_int_equal(out.status, SPAWN_WALL);
	spawner_outcome_free(&out);
	assert_false(spawner_zygote_broken(z));
	spawner_zygote_free(z);
}

/* The real worker: the same outcomes as cold starts, child after child. */
static void
test_zygote_same_outcome(void **state)
{
	struct spawner_limits l = limits(256 << 20, 5000, 10000, 65536);
	struct spawner_outcome cold, warm;
	struct spawner_zygote *z;
	struct spawner *s;
	struct veil_err err;
	const msgpack_object *t;
	char *job;
	void *buf;
	size_t len, joblen;
	uint64_t a;
	int fds[2], before, k;
	static const char *const kinds[] = { "describe", "mine-bitcoin",
	    "describe", "describe" };

	(void)state;
	before = count_fds();
	table_fds(fds, &buf, &len);
	z = zygote(worker_path, NULL, fds, 2, &l);
	for (k = 0; k < 4; k++) {
		job = framed_job(kinds[k], 2, 0, &joblen);
		if ((s = spawner_start_fds(worker_path, NULL, fds, 2, job,
		    joblen, &l, &err)) == NULL)
			fail_msg("spawner_start_fds: %s", err.msg);
		assert_int_equal(spawner_wait(s, &cold), 0);
		spawner_free(s);
		zygote_run(z, job, joblen, &warm);
		free(job);
		if (warm.status != cold.status)
			fail_msg("status %s, cold %s; log: %s",
			    spawner_status_name(warm.status),
			    spawner_status_name(cold.status), warm.log);
		assert_int_equal(warm.confinement, cold.confinement);
		assert_string_equal(warm.class, cold.class);
		assert_string_equal(warm.message, cold.message);
		if (warm.status == SPAWN_FINISHED) {
			assert_non_null(t = frame_get(warm.results, "second"));
			assert_int_equal(frame_get_uint(t, "digest", &a), 0);
			assert_true(a == fnv(buf, len));
		} else
			assert_string_equal(warm.class, "input");
		assert_true(warm.cpu_ms > 0);
		spawner_outcome_free(&cold);
		spawner_outcome_free(&warm);
	}
	assert_int_equal(spawner_zygote_jobs(z), 4);
	spawner_zygote_free(z);
	close(fds[0]);
	close(fds[1]);
	free(buf);
	assert_int_equal(count_fds(), before);
}

/*
 * A server that dies takes its running child with it (the namespace's
 * init), and says so: the child's wait fails, the server is broken,
 * nothing is left open.
 */
static void
test_zygote_death(void **state)
{
	struct spawner_limits l = limits(0, 30000, 20000, 4096);
	struct spawner_outcome out;
	struct spawner_zygote *z;
	struct spawner *s;
	struct veil_err err;
	char *av[2] = { "hang", NULL };
	int before = count_fds();

	(void)state;
	z = zygote(probe_path, av, NULL, 0, &l);
	assert_non_null(s = spawner_zygote_fork(z, &err));
	assert_int_equal(spawner_submit(s, "x", 1, &err), 0);
	/* Busy: one child at a time. */
	assert_null(spawner_zygote_fork(z, &err));
	assert_int_equal(kill(spawner_zygote_pid(z), SIGKILL), 0);
	assert_int_not_equal(spawner_wait(s, &out), 0);
	spawner_free(s);
	assert_true(spawner_zygote_broken(z));
	assert_null(spawner_zygote_fork(z, &err));
	spawner_zygote_free(z);

	/* Freed with a child out: both go. */
	z = zygote(probe_path, av, NULL, 0, &l);
	assert_non_null(s = spawner_zygote_fork(z, &err));
	assert_int_equal(spawner_submit(s, "x", 1, &err), 0);
	spawner_zygote_free(z);
	assert_int_not_equal(spawner_wait(s, &out), 0);
	spawner_free(s);
	assert_int_equal(count_fds(), before);
}

/* }====== */

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_syscalls_kill),
		cmocka_unit_test(test_harmless_probes_get_errno),
		cmocka_unit_test(test_layers_below_the_filter),
		cmocka_unit_test(test_unprivileged_user),
		cmocka_unit_test(test_parent_descriptors_invisible),
		cmocka_unit_test(test_spawn_finished),
		cmocka_unit_test(test_spawn_limits),
		cmocka_unit_test(test_spawn_bad_output),
		cmocka_unit_test(test_spawn_kills_and_crashes),
		cmocka_unit_test(test_spawn_log_bounded),
		cmocka_unit_test(test_fail_closed),
		cmocka_unit_test(test_worker_describe),
		cmocka_unit_test(test_worker_bad_job_frames),
		cmocka_unit_test(test_worker_lazy_floats),
		cmocka_unit_test(test_worker_lazy_codes),
		cmocka_unit_test(test_prestart_same_outcome),
		cmocka_unit_test(test_prestart_deadline_at_submit),
		cmocka_unit_test(test_prestart_idle_kill),
		cmocka_unit_test(test_prestart_submit_after_death),
		cmocka_unit_test(test_prestart_forbidden_syscall),
		cmocka_unit_test(test_prestart_threads),
		cmocka_unit_test(test_worker_has_no_ingest_kinds),
		cmocka_unit_test(test_zygote_forbidden_syscalls),
		cmocka_unit_test(test_zygote_layers),
		cmocka_unit_test(test_zygote_limits),
		cmocka_unit_test(test_zygote_same_outcome),
		cmocka_unit_test(test_zygote_death),
		/* From here on, as root, every worker shares one network
		 * namespace: the attacks again, then jobs. */
		cmocka_unit_test(test_shared_netns),
		cmocka_unit_test(test_forbidden_syscalls_kill),
		cmocka_unit_test(test_harmless_probes_get_errno),
		cmocka_unit_test(test_layers_below_the_filter),
		cmocka_unit_test(test_prestart_same_outcome),
		cmocka_unit_test(test_prestart_forbidden_syscall),
		cmocka_unit_test(test_zygote_forbidden_syscalls),
		cmocka_unit_test(test_zygote_same_outcome),
	};

	if (argc > 2 && strcmp(argv[1], "--as-worker") == 0)
		return as_worker(argc, argv);

	return cmocka_run_group_tests(tests, setup, NULL);
}
