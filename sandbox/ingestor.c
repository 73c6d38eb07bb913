/*
 * ingestor.c: the parent's side of the ingest child (see ingestor.h).
 * Whatever the worker says is untrusted: its texts are made printable
 * before they reach err, its numbers are checked against what was asked,
 * and its table is sealed, hashed and validated here.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "frame.h"
#include "ingestor.h"
#include "table.h"
#include "utf8.h"
#include "worker_proto.h"

#define SEALS		(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | \
			 F_SEAL_WRITE)
#define RESULT_MAX	(64u << 10)	/* result frame bytes */

/* errno as text, without strerror()'s shared buffer. */
static const char *
errtext(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

/*
 * Copies untrusted text into dst: control bytes become '?', and so do
 * bytes of a text that is not valid UTF-8.
 */
static void
clean(char *dst, size_t dstlen, const char *p, size_t len)
{
	int utf8 = utf8_valid(p, len);
	size_t i;

	if (dstlen == 0)
		return;
	if (len > dstlen - 1)
		len = dstlen - 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		dst[i] = c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80) ?
		    '?' : (char)c;
	}
	dst[len] = '\0';
	/* Cutting may have split a sequence: drop its head. */
	while (len > 0 && ((unsigned char)dst[len - 1] & 0x80) &&
	    !utf8_valid(dst, len))
		dst[--len] = '\0';
}

/* The job frame: length header, then {kind, tables = {}, schema, ...}. */
static int
pack_job(msgpack_sbuffer *sb, const char *kind, const char *schema,
    size_t slen, const char *policy, size_t plen, const unsigned char *key,
    size_t keylen, struct veil_err *err)
{
	msgpack_packer pk;
	size_t n;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	/* room for the header, filled in below */
	if (msgpack_sbuffer_write(sb, "\0\0\0\0", FRAME_HDR) != 0)
		return veil_seterr(err, VEIL_E_NOMEM, "ingest: out of memory");
	msgpack_pack_map(&pk, key != NULL ? 5 : 4);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, kind);
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 0);
	frame_pack_cstr(&pk, "schema");
	msgpack_pack_str(&pk, slen);
	msgpack_pack_str_body(&pk, schema, slen);
	frame_pack_cstr(&pk, "policy");
	msgpack_pack_str(&pk, plen);
	msgpack_pack_str_body(&pk, policy, plen);
	if (key != NULL) {
		frame_pack_cstr(&pk, "key");
		msgpack_pack_bin(&pk, keylen);
		msgpack_pack_bin_body(&pk, key, keylen);
	}
	if (sb->data == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "ingest: out of memory");
	n = sb->size - FRAME_HDR;
	sb->data[0] = (char)(n >> 24);
	sb->data[1] = (char)(n >> 16);
	sb->data[2] = (char)(n >> 8);
	sb->data[3] = (char)n;
	return 0;
}

/* The worker's message, or its first log line, made printable. */
static void
worker_text(const struct spawner_outcome *o, char *buf, size_t len)
{
	const char *p = NULL, *nl;
	size_t n = 0;

	buf[0] = '\0';
	if (frame_get_str(&o->frame.data, "message", &p, &n) != 0 &&
	    o->log != NULL) {
		p = o->log;
		n = (nl = strchr(p, '\n')) != NULL ? (size_t)(nl - p) :
		    strlen(p);
	}
	if (p != NULL)
		clean(buf, len, p, n);
}

/*
 * How the worker ended, as a VEIL_E_* code with err set. A result frame
 * that is "ok" gives 0.
 */
static int
judge(const struct spawner_outcome *o, struct veil_err *err)
{
	char text[VEIL_ERR_MSGLEN];

	worker_text(o, text, sizeof(text));
	switch (o->status) {
	case SPAWN_FINISHED:
		return 0;
	case SPAWN_ERROR:
		if (o->exit_code != 0)	/* it refused our job frame */
			break;
		if (strcmp(o->class, "input") == 0)
			return veil_seterr(err, VEIL_E_PARSE, "%s", text[0] ?
			    text : "ingest: the input was refused");
		if (strcmp(o->class, "output") == 0)
			return veil_seterr(err, VEIL_E_LIMIT, "ingest: %s",
			    text);
		break;
	case SPAWN_MEMORY:
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: over the "
		    "memory limit%s%s", text[0] ? ": " : "", text);
	case SPAWN_CPU:
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: over the CPU "
		    "limit");
	case SPAWN_WALL:
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: over the "
		    "wall-clock limit");
	default:
		break;
	}
	if (o->signal != 0)
		return veil_seterr(err, VEIL_E_INTERNAL, "ingest: worker: %s "
		    "(signal %d)%s%s", spawner_status_name(o->status),
		    o->signal, text[0] ? ": " : "", text);
	return veil_seterr(err, VEIL_E_INTERNAL, "ingest: worker: %s%s%s",
	    spawner_status_name(o->status), text[0] ? ": " : "", text);
}

/* Runs one job to its end; 0 with *o filled (spawner_outcome_free). */
static int
run_job(const char *worker, const int *xfds, size_t nextra,
    const msgpack_sbuffer *job, const struct spawner_limits *lim,
    struct spawner_outcome *o, struct veil_err *err)
{
	struct spawner *sp;
	int r;

	if ((sp = spawner_start_ex(worker, NULL, NULL, 0, xfds, nextra,
	    job->data, job->size, lim, err)) == NULL)
		return err != NULL && err->code != 0 ? err->code : VEIL_E_IO;
	r = spawner_wait(sp, o);
	spawner_free(sp);
	if (r != 0)
		return veil_seterr(err, r, "ingest: waiting for the worker "
		    "failed");
	return 0;
}

/* A str result of at most len - 1 bytes, made printable. */
static int
get_text(const msgpack_object *res, const char *key, char *buf, size_t len)
{
	const char *p;
	size_t n;

	if (frame_get_str(res, key, &p, &n) != 0 || n >= len)
		return -1;
	clean(buf, len, p, n);
	return 0;
}

static void
reset(struct ingestor_result *out)
{
	memset(out, 0, sizeof(*out));
}

/* After a failure: nothing but the confinement the worker reported. */
static void
reset_failed(struct ingestor_result *out)
{
	unsigned int c = out->confinement;

	reset(out);
	out->confinement = c;
}

int
ingestor_check(const char *worker, const char *schema, size_t slen,
    const char *policy, size_t plen, struct ingestor_result *out,
    struct veil_err *err)
{
	struct spawner_limits lim;
	struct spawner_outcome o;
	msgpack_sbuffer job;
	uint64_t u, lv;
	int r;

	reset(out);
	veil_err_clear(err);
	if (worker == NULL || (schema == NULL && slen > 0) ||
	    (policy == NULL && plen > 0))
		return veil_seterr(err, VEIL_E_INVALID, "ingest: bad "
		    "arguments");
	if (slen + plen > WORKER_MAX_JOB - 4096)
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: schema and "
		    "policy texts over %u bytes", WORKER_MAX_JOB - 4096);
	if ((r = pack_job(&job, "check", schema, slen, policy, plen, NULL, 0,
	    err)) != 0) {
		msgpack_sbuffer_destroy(&job);
		return r;
	}
	memset(&lim, 0, sizeof(lim));
	lim.memory_bytes = INGESTOR_CHECK_MEMORY;
	lim.cpu_ms = INGESTOR_CHECK_CPU_MS;
	lim.wall_ms = INGESTOR_CHECK_WALL_MS;
	lim.output_bytes = RESULT_MAX;
	r = run_job(worker, NULL, 0, &job, &lim, &o, err);
	msgpack_sbuffer_destroy(&job);
	if (r != 0)
		return r;
	out->confinement = o.confinement;
	if ((r = judge(&o, err)) == 0) {
		if (frame_get_uint(o.results, "level", &lv) != 0 ||
		    lv > 9 ||
		    frame_get_uint(o.results, "columns", &u) != 0 ||
		    u > TABLE_MAX_COLS ||
		    get_text(o.results, "name", out->name,
		    sizeof(out->name)) != 0 ||
		    get_text(o.results, "mode", out->mode,
		    sizeof(out->mode)) != 0 ||
		    get_text(o.results, "unit", out->unit,
		    sizeof(out->unit)) != 0)
			r = veil_seterr(err, VEIL_E_INTERNAL, "ingest: the "
			    "worker's check result is malformed");
		else {
			out->columns = (uint32_t)u;
			out->level = (int)lv;
		}
	}
	spawner_outcome_free(&o);
	if (r != 0)
		reset_failed(out);
	return r;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
sha256_hex(const void *p, size_t n, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
		return -1;
	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0x0f];
	}
	hex[64] = '\0';
	return 0;
}

/*
 * The worker has been reaped: only outfd refers to the memfd now. Cut it
 * to the table, seal it, map it read-only, and check every byte.
 */
static int
take_table(int outfd, uint64_t out_bytes, const msgpack_object *res,
    struct ingestor_result *out, struct veil_err *err)
{
	struct table *t = NULL;
	struct veil_err terr;
	char want[65], ebuf[128];
	const char *p;
	uint64_t rows, cols, bytes;
	size_t n, i;
	void *map;
	int r;

	if (frame_get_uint(res, "rows", &rows) != 0 ||
	    frame_get_uint(res, "columns", &cols) != 0 ||
	    frame_get_uint(res, "bytes", &bytes) != 0 ||
	    frame_get_str(res, "digest", &p, &n) != 0 || n != 64 ||
	    bytes == 0 || bytes > out_bytes || bytes > SIZE_MAX ||
	    cols > TABLE_MAX_COLS)
		return veil_seterr(err, VEIL_E_INTERNAL, "ingest: the worker's "
		    "ingest result is malformed");
	for (i = 0; i < 64; i++)
		if (hexval(p[i]) < 0)
			return veil_seterr(err, VEIL_E_INTERNAL, "ingest: the "
			    "worker's digest is malformed");
	memcpy(want, p, 64);
	want[64] = '\0';
	if (ftruncate(outfd, (off_t)bytes) == -1 ||
	    fcntl(outfd, F_ADD_SEALS, SEALS) == -1)
		return veil_seterr(err, VEIL_E_IO, "ingest: sealing the "
		    "output: %s", errtext(errno, ebuf, sizeof(ebuf)));
	map = mmap(NULL, (size_t)bytes, PROT_READ, MAP_SHARED, outfd, 0);
	if (map == MAP_FAILED)
		return veil_seterr(err, errno == ENOMEM ? VEIL_E_NOMEM :
		    VEIL_E_IO, "ingest: mapping the output: %s",
		    errtext(errno, ebuf, sizeof(ebuf)));
	if (sha256_hex(map, (size_t)bytes, out->digest) != 0)
		r = veil_seterr(err, VEIL_E_INTERNAL, "ingest: SHA-256 failed");
	else if (strcmp(out->digest, want) != 0)
		r = veil_seterr(err, VEIL_E_CORRUPT, "ingest: the table's "
		    "SHA-256 is not the one the worker reported");
	else if ((r = table_open(map, (size_t)bytes, &t, &terr)) != 0)
		r = veil_seterr(err, VEIL_E_CORRUPT, "ingest: the worker's "
		    "table is invalid: %s", terr.msg);
	else if (table_nrows(t) != rows || table_ncols(t) != cols)
		r = veil_seterr(err, VEIL_E_CORRUPT, "ingest: the worker's "
		    "table is not what it reported");
	table_free(t);
	if (r != 0) {
		munmap(map, (size_t)bytes);
		out->digest[0] = '\0';
		return r;
	}
	out->table = map;
	out->len = (size_t)bytes;
	out->rows = rows;
	out->columns = (uint32_t)cols;
	return 0;
}

int
ingestor_run_sized(const char *worker, int csv_fd, uint64_t csv_size,
    const char *schema, size_t slen, const char *policy, size_t plen,
    const unsigned char *key, size_t keylen,
    const struct spawner_limits *lim, uint64_t out_bytes,
    struct ingestor_result *out, struct veil_err *err)
{
	struct spawner_limits l;
	struct spawner_outcome o;
	msgpack_sbuffer job;
	long page = sysconf(_SC_PAGESIZE);
	char ebuf[128];
	int xfds[WORKER_INGEST_EXTRA], outfd = -1, r;

	reset(out);
	veil_err_clear(err);
	if (worker == NULL || csv_fd < 0 || lim == NULL || key == NULL ||
	    (schema == NULL && slen > 0) || (policy == NULL && plen > 0))
		return veil_seterr(err, VEIL_E_INVALID, "ingest: bad "
		    "arguments");
	if (keylen != WORKER_KEY_LEN)
		return veil_seterr(err, VEIL_E_INVALID, "ingest: the key must "
		    "be %d bytes", WORKER_KEY_LEN);
	if (slen + plen > WORKER_MAX_JOB - 4096)
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: schema and "
		    "policy texts over %u bytes", WORKER_MAX_JOB - 4096);
	if (out_bytes == 0) {
		if (csv_size > (UINT64_MAX / 2 - INGESTOR_OUT_BASE) /
		    INGESTOR_OUT_PER_BYTE)
			return veil_seterr(err, VEIL_E_LIMIT, "ingest: the CSV "
			    "is too large");
		out_bytes = INGESTOR_OUT_BASE + INGESTOR_OUT_PER_BYTE *
		    csv_size;
	}
	if (page <= 0)
		page = 4096;
	out_bytes = (out_bytes + (uint64_t)page - 1) / (uint64_t)page *
	    (uint64_t)page;
	if (out_bytes > (uint64_t)INT64_MAX || out_bytes > SIZE_MAX)
		return veil_seterr(err, VEIL_E_LIMIT, "ingest: the CSV is too "
		    "large");

	if ((outfd = memfd_create("veil-ingest-out", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1 ||
	    ftruncate(outfd, (off_t)out_bytes) == -1) {
		r = veil_seterr(err, VEIL_E_IO, "ingest: output memfd: %s",
		    errtext(errno, ebuf, sizeof(ebuf)));
		if (outfd != -1)
			close(outfd);
		return r;
	}
	if ((r = pack_job(&job, "ingest", schema, slen, policy, plen, key,
	    keylen, err)) != 0) {
		msgpack_sbuffer_destroy(&job);
		close(outfd);
		return r;
	}
	l = *lim;
	l.output_bytes = RESULT_MAX;
	xfds[WORKER_FD_CSV - WORKER_FD_TABLE0] = csv_fd;
	xfds[WORKER_FD_OUT - WORKER_FD_TABLE0] = outfd;
	r = run_job(worker, xfds, WORKER_INGEST_EXTRA, &job, &l, &o, err);
	/* the key is in the job: do not leave it in freed memory */
	explicit_bzero(job.data, job.size);
	msgpack_sbuffer_destroy(&job);
	if (r != 0) {
		close(outfd);
		return r;
	}
	out->confinement = o.confinement;
	if ((r = judge(&o, err)) == 0)
		r = take_table(outfd, out_bytes, o.results, out, err);
	spawner_outcome_free(&o);
	close(outfd);
	if (r != 0)
		reset_failed(out);
	return r;
}

int
ingestor_run(const char *worker, int csv_fd, uint64_t csv_size,
    const char *schema, size_t slen, const char *policy, size_t plen,
    const unsigned char *key, size_t keylen,
    const struct spawner_limits *lim, struct ingestor_result *out,
    struct veil_err *err)
{
	return ingestor_run_sized(worker, csv_fd, csv_size, schema, slen,
	    policy, plen, key, keylen, lim, 0, out, err);
}

void
ingestor_result_free(struct ingestor_result *out)
{
	if (out == NULL)
		return;
	if (out->table != NULL)
		munmap(out->table, out->len);
	reset(out);
}
