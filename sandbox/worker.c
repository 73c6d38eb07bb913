/*
 * worker.c: veil-worker, the confined process that runs one job over
 * granted tables and answers with one result frame. It is started by
 * exec (spawner.c), never forked from a process holding keys or catalogs.
 *
 * Order of work: take the descriptors the parent passed (trusted), map the
 * tables read-only and check their seals, confine (confine.c), and only
 * then read the job frame and validate the tables, which are untrusted
 * input as far as this process is concerned.
 *
 * A fork server (--zygote 1, veild's runners): the same start, with the
 * control socket on descriptor 0 instead of a job, and then serve():
 * for each request, a fork whose child puts the request's descriptors in
 * place, finishes its confinement and goes on exactly as a worker
 * started cold (confine_serve); the server itself never reads a job, a
 * table's contents or a result. See worker_proto.h for the messages.
 *
 * Built twice. veil-worker runs buyers' jobs (kinds "describe" and "lua")
 * and holds no cryptographic code at all. veil-ingest, built with
 * VEIL_INGEST_KINDS, is also the ingest child: kinds "check" (a schema
 * and a policy text) and "ingest" (a CSV through a schema, de-identified
 * under the data set's key, written to an output memfd), so that the
 * daemon never parses uploaded text. Keeping libcrypto out of the job
 * worker keeps the data set keys' code path out of it, and about a
 * tenth of its CPU per small job (libcrypto's relocations and its CPU
 * probing, measured with perf) with it.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef VEIL_INGEST_KINDS
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

#include "confine.h"
#include "frame.h"
#include "identifiers.h"
#include "ingest.h"
#include "policy.h"
#include "rt.h"
#include "schema.h"
#include "table.h"
#include "worker_proto.h"

#define SEALS	(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct wtable {
	void		*map;
	size_t		 len;
	struct table	*t;
	char		 name[64];
};

static struct wtable tables[WORKER_MAX_TABLES];
static int ntables, nextra;
static unsigned int level;
#ifdef VEIL_INGEST_KINDS
/* kind "ingest": the output memfd, mapped read-write before confinement */
static void *out_map;
static size_t out_len;
#endif

/* A log line to the parent, which decides who may see it. */
static void
wlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
wlog(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(WORKER_FD_LOG, buf, (size_t)n);
}

static unsigned long long
num_arg(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		_exit(WORKER_EXIT_USAGE);
	return v;
}

static void
map_tables(void)
{
	struct stat st;
	int i, fd, seals;

	for (i = 0; i < ntables; i++) {
		fd = WORKER_FD_TABLE0 + i;
		if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
		    (seals = fcntl(fd, F_GET_SEALS)) == -1 ||
		    (seals & SEALS) != SEALS) {
			wlog("table %d: not a sealed memfd", i);
			_exit(WORKER_EXIT_TABLE);
		}
		tables[i].len = (size_t)st.st_size;
		/* Not populated: a job reads the columns it uses, and the
		 * kernel maps those around each fault; populating mapped
		 * every page of every column, used or not. */
		tables[i].map = mmap(NULL, tables[i].len, PROT_READ,
		    MAP_SHARED, fd, 0);
		if (tables[i].map == MAP_FAILED) {
			wlog("table %d: mmap: %s", i, strerror(errno));
			_exit(WORKER_EXIT_TABLE);
		}
	}
}

#ifdef VEIL_INGEST_KINDS
/*
 * The ingest layout (worker_proto.h): maps the output memfd shared and
 * writable, sparse (no MAP_POPULATE: only the pages written are backed),
 * while the process is still trusted, so the filter needs no rule for
 * it. Its size counts towards RLIMIT_AS like the tables'.
 */
static void
map_output(void)
{
	struct stat st;

	if (fstat(WORKER_FD_OUT, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0) {
		wlog("output: not a sized memfd");
		_exit(WORKER_EXIT_USAGE);
	}
	out_len = (size_t)st.st_size;
	out_map = mmap(NULL, out_len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    WORKER_FD_OUT, 0);
	if (out_map == MAP_FAILED) {
		wlog("output: mmap: %s", strerror(errno));
		_exit(errno == ENOMEM ? WORKER_EXIT_NOMEM : WORKER_EXIT_USAGE);
	}
}

/*
 * libcrypto initialises itself lazily (configuration file, providers,
 * method tables) on first use: do that first use now, while files can
 * still be opened, not under the filter. Its atexit handler is not
 * wanted: it wakes futex waiters, which the filter kills.
 */
static void
warm_crypto(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG |
	    OPENSSL_INIT_NO_ATEXIT, NULL) != 1 ||
	    HMAC(EVP_sha256(), "k", 1, (const unsigned char *)"x", 1, md,
	    &n) == NULL ||
	    EVP_Digest("x", 1, md, &n, EVP_sha256(), NULL) != 1) {
		wlog("libcrypto: initialisation failed");
		_exit(WORKER_EXIT_NOMEM);
	}
}
#endif /* VEIL_INGEST_KINDS */

static void
write_result(msgpack_sbuffer *sb)
{
	if (frame_write_sbuf(WORKER_FD_RESULT, sb) != 0)
		_exit(WORKER_EXIT_OUTPUT);
}

static void
pack_head(msgpack_packer *pk, const char *status, const char *class,
    const char *message, size_t extra)
{
	msgpack_pack_map(pk, 3 + (class != NULL) + (message != NULL) + extra);
	frame_pack_cstr(pk, "status");
	frame_pack_cstr(pk, status);
	if (class != NULL) {
		frame_pack_cstr(pk, "class");
		frame_pack_cstr(pk, class);
	}
	if (message != NULL) {
		frame_pack_cstr(pk, "message");
		frame_pack_cstr(pk, message);
	}
	frame_pack_cstr(pk, "confinement");
	msgpack_pack_unsigned_int(pk, level);
	frame_pack_cstr(pk, "stats");
	msgpack_pack_map(pk, 1);
	frame_pack_cstr(pk, "tables");
	msgpack_pack_unsigned_int(pk, (unsigned)ntables);
}

static void
fail(const char *class, const char *message)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, "error", class, message, 0);
	write_result(&sb);
	msgpack_sbuffer_destroy(&sb);
	_exit(WORKER_EXIT_OK);
}

/* FNV-1a over the table's bytes: proves the mapped data is what was sent. */
static uint64_t
digest(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ *s++) * 1099511628211ULL;
	return h;
}

static void
on_cpu_timer(int sig)
{
	(void)sig;
	rt_cpu_expired();
}

/*
 * The job's own CPU clock: at 80% of its limit the Lua VM is made to
 * raise a "cpu" error, so the job ends with a clean status; RLIMIT_CPU and
 * the parent's deadline stay behind it for code that never returns to
 * the VM. Set before confinement (setitimer is not in the filter).
 */
static void
arm_cpu_timer(unsigned long long cpu_ms)
{
	struct sigaction sa;
	struct itimerval it;
	unsigned long long soft = cpu_ms * 8 / 10;

	if (cpu_ms == 0)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cpu_timer;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGVTALRM, &sa, NULL) == -1)
		return;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)(soft / 1000);
	it.it_value.tv_usec = (suseconds_t)(soft % 1000) * 1000;
	it.it_interval.tv_usec = 100000;	/* and again, until it ends */
	(void)setitimer(ITIMER_VIRTUAL, &it, NULL);
}

/* kind "lua": a buyer's job over table 0 (runtime/). */
/* A lazily opened table turned out corrupt while a job read it. */
static void
table_corrupt(const char *msg)
{
	wlog("table %s: %s", tables[0].name, msg);
	_exit(WORKER_EXIT_TABLE);
}

static void
run_lua(const msgpack_object *job)
{
	static const char *const modes[] = { "dp", "threshold", "none" };
	struct rt_job rj;
	struct rt_stats st;
	msgpack_sbuffer res, sb;
	msgpack_packer rpk, pk;
	const msgpack_object *o;
	enum rt_fail f;
	char msg[256];
	const char *p;
	size_t len;
	uint64_t u;
	int i;

	memset(&rj, 0, sizeof(rj));
	if (ntables != 1 || frame_get_str(job, "source", &rj.source,
	    &rj.source_len) != 0 || frame_get_str(job, "mode", &p, &len) != 0) {
		wlog("job frame: lua needs one table, a source and a mode");
		_exit(WORKER_EXIT_JOB);
	}
	for (i = 0; i < 3; i++)
		if (strlen(modes[i]) == len && memcmp(modes[i], p, len) == 0)
			break;
	if (i == 3)
		fail("input", "unknown mode");
	rj.mode = (enum rt_mode)i;
	rj.name = "=job";
	if ((o = frame_get(job, "mock")) != NULL &&
	    o->type == MSGPACK_OBJECT_BOOLEAN)
		rj.mock = o->via.boolean;
	if (frame_get_uint(job, "max_rows_per_unit", &u) == 0 &&
	    u <= UINT32_MAX)
		rj.max_rows_per_unit = (uint32_t)u;
	rj.mem_limit = 256u << 20;
	if (frame_get_uint(job, "lua_memory", &u) == 0 && u >= (1u << 20) &&
	    u <= (8ull << 30))
		rj.mem_limit = (size_t)u;
	rj.row_insns = RT_ROW_INSNS_DEFAULT;
	if (frame_get_uint(job, "row_insns", &u) == 0 && u >= 1000 &&
	    u <= 100000000)
		rj.row_insns = (uint32_t)u;
	rj.log_fd = WORKER_FD_LOG;
	rj.corrupt = table_corrupt;
	rj.prefault = 1;	/* map_tables() left the pages to faults */

	msgpack_sbuffer_init(&res);
	msgpack_packer_init(&rpk, &res, msgpack_sbuffer_write);
	f = rt_run(&rj, tables[0].t, &rpk, msg, sizeof(msg), &st);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, f == RT_OK ? 4 : 5);
	frame_pack_cstr(&pk, "status");
	frame_pack_cstr(&pk, f == RT_OK ? "ok" : "error");
	if (f != RT_OK) {
		frame_pack_cstr(&pk, "class");
		frame_pack_cstr(&pk, rt_fail_class(f));
		frame_pack_cstr(&pk, "message");
		frame_pack_cstr(&pk, msg);
	}
	frame_pack_cstr(&pk, "confinement");
	msgpack_pack_unsigned_int(&pk, level);
	frame_pack_cstr(&pk, "stats");
	msgpack_pack_map(&pk, 7);
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_unsigned_int(&pk, (unsigned)ntables);
	frame_pack_cstr(&pk, "rows");
	msgpack_pack_uint64(&pk, st.rows);
	frame_pack_cstr(&pk, "rows_kept");
	msgpack_pack_uint64(&pk, st.rows_kept);
	frame_pack_cstr(&pk, "units");
	msgpack_pack_uint64(&pk, st.units);
	frame_pack_cstr(&pk, "row_errors");
	msgpack_pack_uint64(&pk, st.row_errors);
	frame_pack_cstr(&pk, "row_overruns");
	msgpack_pack_uint64(&pk, st.row_overruns);
	frame_pack_cstr(&pk, "lua_bytes");
	msgpack_pack_uint64(&pk, st.lua_bytes);
	if (f == RT_OK) {
		frame_pack_cstr(&pk, "results");
		msgpack_sbuffer_write(&sb, res.data, res.size);
	}
	write_result(&sb);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&res);
}

/* kind "describe": rows, columns and a digest per table. */
static void
run_describe(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, "ok", NULL, NULL, 1);
	frame_pack_cstr(&pk, "results");
	msgpack_pack_map(&pk, (size_t)ntables);
	for (i = 0; i < ntables; i++) {
		frame_pack_cstr(&pk, tables[i].name);
		msgpack_pack_map(&pk, 3);
		frame_pack_cstr(&pk, "rows");
		msgpack_pack_uint64(&pk, table_nrows(tables[i].t));
		frame_pack_cstr(&pk, "columns");
		msgpack_pack_unsigned_int(&pk, table_ncols(tables[i].t));
		frame_pack_cstr(&pk, "digest");
		msgpack_pack_uint64(&pk, digest(tables[i].map, tables[i].len));
	}
	write_result(&sb);
	msgpack_sbuffer_destroy(&sb);
}

#ifdef VEIL_INGEST_KINDS
/* A str field of the job frame (not NUL-terminated), or exit. */
static void
job_text(const msgpack_object *job, const char *key, const char **p,
    size_t *len)
{
	if (frame_get_str(job, key, p, len) != 0) {
		wlog("job frame: %s: expected a string", key);
		_exit(WORKER_EXIT_JOB);
	}
}

/* A loader's failure: out of memory is "memory", the rest the input's. */
static void
fail_load(int r, const char *msg)
{
	fail(r == VEIL_E_NOMEM ? "memory" : "input", msg);
}

/*
 * The schema of a registered data set has no directory: it is a text,
 * and the ingest child has no file system. schema.c refuses a
 * hierarchy.file when it is given no directory (and under the filter
 * open() would fail with EACCES anyway); its text is made to say what to
 * do instead. Any other message is left as it is.
 */
static void
load_schema(const char *src, size_t len, struct schema **sp)
{
	static const char refused[] = "hierarchy.file: hierarchy files are "
	    "not allowed here";
	struct veil_err err;
	char msg[VEIL_ERR_MSGLEN];
	char *at;
	int r;

	veil_err_clear(&err);
	if ((r = schema_load_buffer(src, len, "schema.lua", NULL, sp,
	    &err)) == 0)
		return;
	if ((at = strstr(err.msg, refused)) != NULL) {
		*at = '\0';
		snprintf(msg, sizeof(msg), "%.384shierarchy files cannot be "
		    "used in a registered data set; put the hierarchy inline "
		    "(hierarchy = { rows = { ... } })", err.msg);
		fail_load(r, msg);
	}
	fail_load(r, err.msg[0] ? err.msg : "schema.lua: cannot be loaded");
}

static void
load_policy(const char *src, size_t len, struct policy **pp)
{
	struct veil_err err;
	int r;

	veil_err_clear(&err);
	if ((r = policy_load_buffer(src, len, "policy.lua", pp, &err)) != 0)
		fail_load(r, err.msg[0] ? err.msg :
		    "policy.lua: cannot be loaded");
}

/* kind "check": a schema and a policy text, loaded and validated. */
static void
run_check(const msgpack_object *job)
{
	struct schema *s;
	struct policy *p;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *stext, *ptext;
	size_t slen, plen;

	job_text(job, "schema", &stext, &slen);
	job_text(job, "policy", &ptext, &plen);
	load_schema(stext, slen, &s);
	load_policy(ptext, plen, &p);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, "ok", NULL, NULL, 1);
	frame_pack_cstr(&pk, "results");
	msgpack_pack_map(&pk, 5);
	frame_pack_cstr(&pk, "columns");
	msgpack_pack_uint64(&pk, s->ncols);
	frame_pack_cstr(&pk, "level");	/* the highest classification */
	msgpack_pack_uint64(&pk, (uint64_t)schema_level(s));
	frame_pack_cstr(&pk, "name");
	frame_pack_cstr(&pk, s->name != NULL ? s->name : "");
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, policy_mode_name(p->mode));
	frame_pack_cstr(&pk, "unit");
	frame_pack_cstr(&pk, s->unit != NULL ? s->unit : "");
	write_result(&sb);
	msgpack_sbuffer_destroy(&sb);
	policy_free(p);
	schema_free(s);
}

static void
sha256_hex(const void *p, size_t n, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		fail("internal", "SHA-256 failed");
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[64] = '\0';
}

/*
 * kind "ingest": the CSV on WORKER_FD_CSV through the schema, with every
 * check of ingestion (default limits), then the schema's identifier
 * actions under the data set's key, exactly as `veil run` does
 * (cli/run.c); the table goes into the output mapping at offset 0.
 */
static void
run_ingest(const msgpack_object *job)
{
	struct ingest_opts opts;
	struct table_builder *b = NULL;
	struct schema *s;
	struct policy *p;
	struct table *t;
	struct veil_err err;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *stext, *ptext, *key;
	char msg[VEIL_ERR_MSGLEN], hex[65];
	void *raw = NULL, *anon = NULL;
	size_t slen, plen, klen, rawlen, alen;
	uint64_t rows;
	unsigned int cols;
	int r;

	if (nextra != WORKER_INGEST_EXTRA || ntables != 0 || out_map == NULL) {
		wlog("job frame: ingest needs no tables and --extra %d",
		    WORKER_INGEST_EXTRA);
		_exit(WORKER_EXIT_JOB);
	}
	job_text(job, "schema", &stext, &slen);
	job_text(job, "policy", &ptext, &plen);
	if (frame_get_bin(job, "key", &key, &klen) != 0 ||
	    klen != WORKER_KEY_LEN) {
		wlog("job frame: key: expected %d bytes", WORKER_KEY_LEN);
		_exit(WORKER_EXIT_JOB);
	}
	load_schema(stext, slen, &s);
	load_policy(ptext, plen, &p);

	veil_err_clear(&err);
	ingest_opts_default(&opts);
	/*
	 * One thread: the filter kills clone(2), and RLIMIT_NPROC is 0 (a
	 * thread counts against it). Concurrent uploads already run in
	 * separate ingest children, one per worker slot.
	 */
	opts.threads = 1;
	if ((r = ingest_csv_fd(WORKER_FD_CSV, "data.csv", s, &opts, &b, NULL,
	    &err)) != 0 ||
	    (r = table_builder_finish(b, &raw, &rawlen, &err)) != 0)
		fail_load(r, err.msg[0] ? err.msg : "data.csv: cannot be read");
	table_builder_free(b);
	if ((r = table_open(raw, rawlen, &t, &err)) != 0)
		fail("internal", err.msg);
	if ((r = anon_identifiers(t, s, (const unsigned char *)key, klen,
	    &anon, &alen, &err)) != 0)
		fail_load(r, err.msg[0] ? err.msg : "cannot de-identify");
	table_free(t);
	free(raw);
	if ((r = table_open(anon, alen, &t, &err)) != 0)
		fail("internal", err.msg);
	rows = table_nrows(t);
	cols = table_ncols(t);
	table_free(t);
	if (alen > out_len) {
		snprintf(msg, sizeof(msg), "the de-identified table (%zu "
		    "bytes) does not fit the output buffer (%zu bytes)", alen,
		    out_len);
		fail("output", msg);
	}
	memcpy(out_map, anon, alen);
	sha256_hex(anon, alen, hex);
	free(anon);

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_head(&pk, "ok", NULL, NULL, 1);
	frame_pack_cstr(&pk, "results");
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "rows");
	msgpack_pack_uint64(&pk, rows);
	frame_pack_cstr(&pk, "columns");
	msgpack_pack_unsigned_int(&pk, cols);
	frame_pack_cstr(&pk, "bytes");
	msgpack_pack_uint64(&pk, alen);
	frame_pack_cstr(&pk, "digest");
	frame_pack_cstr(&pk, hex);
	write_result(&sb);
	msgpack_sbuffer_destroy(&sb);
	policy_free(p);
	schema_free(s);
	/* Nothing to flush; no exit handlers (libcrypto's, see above). */
	_exit(WORKER_EXIT_OK);
}
#endif /* VEIL_INGEST_KINDS */

#if defined(__SANITIZE_ADDRESS__)
/*
 * Sanitizer builds only: LeakSanitizer stops the world with ptrace and
 * threads at exit, and ASan's signal handlers use an alternate stack and
 * read /proc to symbolize: the sandbox rightly kills all of that. Leaks
 * are checked in the unconfined tests instead; a crash stays a crash.
 */
const char	*__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0:use_sigaltstack=0:handle_segv=0:"
	    "handle_sigbus=0:handle_abort=0";
}

const char	*__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_abort=0";
}
#endif

int
main(int argc, char **argv)
{
	struct confine_opts co;
	msgpack_unpacked up;
	const msgpack_object *names, *job;
	struct veil_err err;
	unsigned long long memory = 0, cpu = 0, cpu_ms = 0, total = 0;
	const char *step, *kind;
	size_t len, klen;
	void *buf;
	int i, netns = -1, zygote = 0;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--tables") == 0)
			ntables = (int)num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--memory") == 0)
			memory = num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--cpu") == 0)
			cpu = num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--cpu-ms") == 0)
			cpu_ms = num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--extra") == 0)
			nextra = (int)num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--netns") == 0)
			netns = (int)num_arg(argv[i + 1]);
		else if (strcmp(argv[i], "--zygote") == 0)
			zygote = num_arg(argv[i + 1]) != 0;
		else
			_exit(WORKER_EXIT_USAGE);
	}
	if (i != argc || ntables < 0 || ntables > WORKER_MAX_TABLES)
		_exit(WORKER_EXIT_USAGE);
	/* The one layout with extra descriptors: the ingest child's. */
	if (nextra != 0 && (nextra != WORKER_INGEST_EXTRA || ntables != 0 ||
	    zygote))
		_exit(WORKER_EXIT_USAGE);
	map_tables();
	for (i = 0; i < ntables; i++)
		total += tables[i].len;
#ifdef VEIL_INGEST_KINDS
	if (nextra == WORKER_INGEST_EXTRA) {
		map_output();
		total += out_len;
		warm_crypto();
	}
#else
	if (nextra != 0)
		_exit(WORKER_EXIT_USAGE);
#endif

	memset(&co, 0, sizeof(co));
	co.keep_fds = WORKER_FD_TABLE0 + ntables + nextra;
	co.netns_fd = netns;
	if (netns != -1 && netns != co.keep_fds)	/* spawner's layout */
		_exit(WORKER_EXIT_USAGE);
	co.memory_bytes = memory > 0 ? memory + total + WORKER_BASE_AS : 0;
#if defined(__SANITIZE_ADDRESS__)
	co.memory_bytes = 0;	/* ASan's shadow needs terabytes of AS */
#endif
	co.cpu_seconds = cpu;
	co.zygote = zygote;
	if (!zygote)
		arm_cpu_timer(cpu_ms);
	if (confine_self(&co, &level, &step) == -1) {
		wlog("confinement failed at %s: %s", step, strerror(errno));
		_exit(WORKER_EXIT_CONFINE);
	}
	if (zygote) {
		/* Returns in each child, which then confines itself for
		 * its job: its own CPU timer first (not inherited). */
		confine_serve(&co);
		arm_cpu_timer(cpu_ms);
		if (confine_child(&co, &step) == -1) {
			wlog("confinement failed at %s: %s", step,
			    strerror(errno));
			_exit(WORKER_EXIT_CONFINE);
		}
	}

	/* Untrusted from here on. */
	if (frame_read(WORKER_FD_JOB, WORKER_MAX_JOB, &buf, &len, &err) != 0) {
		wlog("job frame: %s", err.msg);
		_exit(WORKER_EXIT_JOB);
	}
	msgpack_unpacked_init(&up);
	if (frame_unpack(buf, len, &up, &err) != 0) {
		wlog("job frame: %s", err.msg);
		_exit(WORKER_EXIT_JOB);
	}
	job = &up.data;
	names = frame_get(job, "tables");
	if (frame_get_str(job, "kind", &kind, &klen) != 0 || names == NULL ||
	    names->type != MSGPACK_OBJECT_ARRAY ||
	    names->via.array.size != (uint32_t)ntables) {
		wlog("job frame: kind or tables missing");
		_exit(WORKER_EXIT_JOB);
	}
	for (i = 0; i < ntables; i++) {
		const msgpack_object *n = &names->via.array.ptr[i];

		if (n->type != MSGPACK_OBJECT_STR || n->via.str.size == 0 ||
		    n->via.str.size >= sizeof(tables[i].name)) {
			wlog("job frame: bad table name %d", i);
			_exit(WORKER_EXIT_JOB);
		}
		memcpy(tables[i].name, n->via.str.ptr, n->via.str.size);
		/* A Lua job checks float values and category codes as it
		 * first reads them (table_open_lazy(), rt_colview(), the
		 * kernels' own checks, table_corrupt()): one pass over a
		 * column, not two, and none over a column it never reads. */
		if ((klen == 3 && memcmp(kind, "lua", 3) == 0 ?
		    table_open_lazy : table_open)(tables[i].map,
		    tables[i].len, &tables[i].t, &err) != 0) {
			wlog("table %s: %s", tables[i].name, err.msg);
			_exit(WORKER_EXIT_TABLE);
		}
	}
	if (klen == 8 && memcmp(kind, "describe", 8) == 0)
		run_describe();
	else if (klen == 3 && memcmp(kind, "lua", 3) == 0)
		run_lua(job);
#ifdef VEIL_INGEST_KINDS
	else if (klen == 5 && memcmp(kind, "check", 5) == 0)
		run_check(job);
	else if (klen == 6 && memcmp(kind, "ingest", 6) == 0)
		run_ingest(job);
#endif
	else
		fail("input", "unknown job kind");
	msgpack_unpacked_destroy(&up);
	free(buf);
	return WORKER_EXIT_OK;
}
