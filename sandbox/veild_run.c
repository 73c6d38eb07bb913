/*
 * veild_run.c: the runner threads. Each has its own catalog handle and
 * sampler. They take checks and ingestions from the task queue, and jobs
 * from the catalog (queued jobs live there, so they survive a restart);
 * every job runs in its own veil-worker, forked by the runner's fork
 * server for the job's data set (spawner.h). A job's end, its budget charge,
 * its audit record and its released result commit in one transaction;
 * the event loop makes ended jobs visible at its next tick.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "confine.h"
#include "dp.h"
#include "frame.h"
#include "ingestor.h"
#include "jobspec.h"
#include "ledger.h"
#include "policy.h"
#include "release.h"
#include "sampler.h"
#include "spawner.h"
#include "veild.h"

#define INGEST_MEMORY	(4ull << 30)
#define INGEST_CPU_MS	600000
#define INGEST_WALL_MS	900000
#define ZYGOTE_MAX_JOBS	1000

struct job {
	int64_t		 id, dataset, buyer, eps;
	char		*source;
	char		*policy;
	char		 name[65];
	char		 buyer_name[72];
	char		 state[16];	/* the data set's */
	int		 level;		/* its classification */
};

struct runner {
	struct veild	*d;
	struct catalog	*cat;
	struct sampler	*smp;
	/*
	 * A fork server with the table and limits of the last job (the
	 * likely next): each job on them is a child forked from it, which
	 * costs a tenth of an exec'd worker's start and confinement. A job
	 * on another data set or with other limits starts another server;
	 * a server is retired after ZYGOTE_MAX_JOBS children, so that
	 * children do not share one address-space layout for ever.
	 */
	struct spawner_zygote *zyg;
	int64_t		 zyg_ds;
	struct spawner_limits zyg_lim;
	/* finish() claims the next job in its own transaction. */
	int		 want_next, have_next;
	struct job	 next;
	/* The last job's policy, parsed (a policy is a Lua data file:
	 * loading it cost a small job more than its catalog work). */
	struct policy	*pol;
	char		*pol_text;
	int		 pol_level;
};

static void
zygote_drop(struct runner *rn)
{
	spawner_zygote_free(rn->zyg);
	rn->zyg = NULL;
}

/*
 * A child of the runner's fork server for this job's data set and
 * limits, starting a server if there is none fit; NULL if that fails
 * (the job then gets a worker of its own, started cold).
 */
static struct spawner *
zygote_child(struct runner *rn, int64_t dataset, int fd,
    const struct spawner_limits *lim)
{
	struct spawner *sp;
	struct veil_err err;
	int fresh = 0;

	if (rn->zyg != NULL && (rn->zyg_ds != dataset ||
	    rn->zyg_lim.memory_bytes != lim->memory_bytes ||
	    rn->zyg_lim.cpu_ms != lim->cpu_ms ||
	    rn->zyg_lim.wall_ms != lim->wall_ms ||
	    rn->zyg_lim.output_bytes != lim->output_bytes ||
	    spawner_zygote_broken(rn->zyg) ||
	    spawner_zygote_jobs(rn->zyg) >= ZYGOTE_MAX_JOBS))
		zygote_drop(rn);
	if (rn->zyg == NULL) {
		if ((rn->zyg = spawner_zygote_start(rn->d->worker, NULL, &fd, 1,
		    lim, &err)) == NULL) {
			fprintf(stderr, "veild: fork server: %s\n", err.msg);
			return NULL;
		}
		rn->zyg_ds = dataset;
		rn->zyg_lim = *lim;
		fresh = 1;
	}
	if ((sp = spawner_zygote_fork(rn->zyg, &err)) == NULL) {
		/* A server that never served may not start at all (it
		 * could not confine itself): the cold worker says why. */
		if (!fresh)
			fprintf(stderr, "veild: %s\n", err.msg);
		zygote_drop(rn);
	}
	return sp;
}

void
veild_table_path(const struct veild *d, const char *name, char *buf,
    size_t len)
{
	snprintf(buf, len, "%s/datasets/%s.vt", d->home, name);
}

static void
notify(struct veild *d)
{
	uint64_t one = 1;

	(void)!write(d->notify_fd, &one, sizeof(one));
}

void
veild_task_push(struct veild *d, struct task *t)
{
	pthread_mutex_lock(&d->mu);
	t->next = NULL;
	*d->tasks_tail = t;
	d->tasks_tail = &t->next;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void
veild_jobs_kick(struct veild *d)
{
	pthread_mutex_lock(&d->mu);
	d->job_hint++;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
}

void
veild_task_free(struct task *t)
{
	msgpack_sbuffer_destroy(&t->result);
	free(t);
}

static void
task_done(struct veild *d, struct task *t)
{
	pthread_mutex_lock(&d->mu);
	t->next = NULL;
	*d->done_tail = t;
	d->done_tail = &t->next;
	pthread_mutex_unlock(&d->mu);
	notify(d);
}

static int
task_fail(struct task *t, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
task_fail(struct task *t, int code, const char *fmt, ...)
{
	va_list ap;

	t->code = code;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* {====== table memfds */

void
veild_memfd_drop(struct veild *d, int64_t id)
{
	size_t i;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->nmemfds; i++)
		if (d->memfds[i].id == id) {
			close(d->memfds[i].fd);
			d->memfds[i] = d->memfds[--d->nmemfds];
			break;
		}
	pthread_mutex_unlock(&d->mu);
}

/* A sealed memfd holding the data set's table (a descriptor of the
 * caller's own: close it). Read from disk once, then shared. */
static int
table_memfd(struct veild *d, int64_t id, const char *name)
{
	struct memfd_ent *ne;
	struct stat sb;
	char path[PATH_MAX];
	void *buf = NULL;
	size_t i, got = 0;
	ssize_t n;
	int fd = -1, mfd = -1, r = -1;

	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->nmemfds; i++)
		if (d->memfds[i].id == id) {
			r = fcntl(d->memfds[i].fd, F_DUPFD_CLOEXEC, 0);
			pthread_mutex_unlock(&d->mu);
			return r;
		}
	pthread_mutex_unlock(&d->mu);
	veild_table_path(d, name, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) != 0 || (buf = malloc((size_t)sb.st_size + 1)) ==
	    NULL)
		goto out;
	while (got < (size_t)sb.st_size) {
		if ((n = read(fd, (char *)buf + got, (size_t)sb.st_size -
		    got)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			goto out;
		}
		got += (size_t)n;
	}
	if ((mfd = spawner_sealed_memfd(name, buf, got)) == -1)
		goto out;
	pthread_mutex_lock(&d->mu);
	for (i = 0; i < d->nmemfds; i++)
		if (d->memfds[i].id == id)
			break;
	if (i == d->nmemfds && (ne = realloc(d->memfds, (d->nmemfds + 1) *
	    sizeof(*ne))) != NULL) {
		d->memfds = ne;
		d->memfds[d->nmemfds].id = id;
		d->memfds[d->nmemfds].fd = mfd;
		d->nmemfds++;
		r = fcntl(mfd, F_DUPFD_CLOEXEC, 0);
		mfd = -1;
	} else if (i < d->nmemfds)
		r = fcntl(d->memfds[i].fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&d->mu);
 out:
	if (fd != -1)
		close(fd);
	if (mfd != -1)
		close(mfd);
	free(buf);
	return r;
}

/* }====== */

/* {====== checks and ingestion */

static int
load_upload(struct runner *rn, struct task *t, char **schema, char **policy,
    char *name, int64_t *size, int *level)
{
	sqlite3_stmt *st;

	*schema = *policy = NULL;
	if ((st = catalog_stmt(rn->cat, "SELECT schema, policy, "
	    "name, size, level FROM upload WHERE id = ?")) == NULL)
		return task_fail(t, RPC_INTERNAL, "catalog: %s",
		    sqlite3_errmsg(catalog_db(rn->cat)));
	sqlite3_bind_int64(st, 1, t->upload);
	if (sqlite3_step(st) != SQLITE_ROW) {
		catalog_done(rn->cat, st);
		return task_fail(t, RPC_NOT_FOUND, "upload %lld is gone",
		    (long long)t->upload);
	}
	*schema = strdup((const char *)sqlite3_column_text(st, 0));
	*policy = strdup((const char *)sqlite3_column_text(st, 1));
	snprintf(name, 65, "%s", (const char *)sqlite3_column_text(st, 2));
	*size = sqlite3_column_int64(st, 3);
	*level = sqlite3_column_int(st, 4);
	catalog_done(rn->cat, st);
	if (*schema == NULL || *policy == NULL)
		return task_fail(t, RPC_INTERNAL, "out of memory");
	return 0;
}

static void
drop_upload(struct runner *rn, struct task *t)
{
	sqlite3_stmt *st;
	char path[PATH_MAX];

	if (sqlite3_prepare_v2(catalog_db(rn->cat), "DELETE FROM upload WHERE "
	    "id = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, t->upload);
		(void)sqlite3_step(st);
		catalog_done(rn->cat, st);
	}
	snprintf(path, sizeof(path), "%s/uploads/%lld.csv", rn->d->home,
	    (long long)t->upload);
	(void)unlink(path);
}

static int
map_ingest_error(struct task *t, int r, const struct veil_err *err)
{
	t->code = r == VEIL_E_LIMIT ? RPC_TOO_LARGE : r == VEIL_E_PARSE ||
	    r == VEIL_E_SCHEMA || r == VEIL_E_TYPE || r == VEIL_E_RANGE ||
	    r == VEIL_E_LUA ? RPC_BAD_REQUEST : RPC_INTERNAL;
	snprintf(t->msg, sizeof(t->msg), "%s", err->msg[0] ? err->msg :
	    veil_strerror(r));
	return t->code;
}

static void
run_check(struct runner *rn, struct task *t)
{
	struct ingestor_result res;
	struct veil_err err;
	msgpack_packer pk;
	char *schema, *policy, name[65];
	sqlite3_stmt *st;
	int64_t size;
	int r, level;

	memset(&res, 0, sizeof(res));
	veil_err_clear(&err);
	if (load_upload(rn, t, &schema, &policy, name, &size, &level) != 0)
		goto out;
	if ((r = ingestor_check(rn->d->ingest, schema, strlen(schema), policy,
	    strlen(policy), &res, &err)) != 0) {
		map_ingest_error(t, r, &err);
		drop_upload(rn, t);
		goto out;
	}
	/* The schema's classification level reaches the daemon only from
	 * this confined check; the ingest uses it. */
	if ((st = catalog_stmt(rn->cat, "UPDATE upload SET level = "
	    "? WHERE id = ?")) == NULL) {
		task_fail(t, RPC_INTERNAL, "catalog: %s",
		    sqlite3_errmsg(catalog_db(rn->cat)));
		drop_upload(rn, t);
		goto out;
	}
	sqlite3_bind_int(st, 1, res.level);
	sqlite3_bind_int64(st, 2, t->upload);
	r = sqlite3_step(st);
	catalog_done(rn->cat, st);
	if (r != SQLITE_DONE) {
		task_fail(t, RPC_INTERNAL, "catalog: %s",
		    sqlite3_errmsg(catalog_db(rn->cat)));
		drop_upload(rn, t);
		goto out;
	}
	msgpack_packer_init(&pk, &t->result, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "upload");
	msgpack_pack_int64(&pk, t->upload);
	frame_pack_cstr(&pk, "name");
	frame_pack_cstr(&pk, name);
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, res.mode);
	frame_pack_cstr(&pk, "columns");
	msgpack_pack_uint32(&pk, res.columns);
 out:
	ingestor_result_free(&res);
	free(schema);
	free(policy);
}

/* Writes the table durably under its final name (via a temporary). */
static int
write_table(struct veild *d, const char *name, const void *buf, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], dir[PATH_MAX];
	const char *p = buf;
	size_t off = 0;
	ssize_t n;
	int fd, dfd;

	veild_table_path(d, name, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			(void)unlink(tmp);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		(void)unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/datasets", d->home);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

static void
run_ingest(struct runner *rn, struct task *t)
{
	struct ingestor_result res;
	struct spawner_limits lim;
	struct veil_err err;
	struct policy *pol = NULL;
	sqlite3_stmt *st = NULL;
	msgpack_packer pk;
	unsigned char key[32];
	char *schema = NULL, *policy = NULL, name[65], path[PATH_MAX];
	char detail[128];
	int64_t size, eps_total = 0, eps_job = 0;
	int fd = -1, r, written = 0, level;

	memset(&res, 0, sizeof(res));
	veil_err_clear(&err);
	if (load_upload(rn, t, &schema, &policy, name, &size, &level) != 0)
		goto out;
	snprintf(path, sizeof(path), "%s/uploads/%lld.csv", rn->d->home,
	    (long long)t->upload);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		task_fail(t, RPC_INTERNAL, "upload file: %s", strerror(errno));
		goto out;
	}
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		task_fail(t, RPC_INTERNAL, "no randomness for a key");
		goto out;
	}
	memset(&lim, 0, sizeof(lim));
	lim.memory_bytes = INGEST_MEMORY;
	lim.cpu_ms = INGEST_CPU_MS;
	lim.wall_ms = INGEST_WALL_MS;
	if ((r = ingestor_run(rn->d->ingest, fd, (uint64_t)size, schema,
	    strlen(schema), policy, strlen(policy), key, sizeof(key), &lim,
	    &res, &err)) != 0) {
		map_ingest_error(t, r, &err);
		drop_upload(rn, t);
		goto out;
	}
	/*
	 * The policy's numbers are needed here, in the daemon: its text
	 * has just been vetted by the confined child, and the loader runs
	 * it in an empty Lua state under instruction and memory caps.
	 */
	if (policy_load_buffer(policy, strlen(policy), "policy.lua", &pol,
	    &err) != 0 || (policy_apply_level(pol, level), 0) ||
	    (pol->mode == POLICY_DP && (ledger_parse(
	    pol->eps_total, &eps_total) != 0 || ledger_parse(pol->eps_job,
	    &eps_job) != 0))) {
		task_fail(t, RPC_BAD_REQUEST, "%s", err.msg[0] ? err.msg :
		    "policy.lua: epsilon finer than 1e-9");
		drop_upload(rn, t);
		goto out;
	}
	if (write_table(rn->d, name, res.table, res.len) != 0) {
		task_fail(t, RPC_INTERNAL, "cannot store the table: %s",
		    strerror(errno));
		goto out;
	}
	written = 1;
	/* The data set appears with its row, all at once; a crash before
	 * the commit leaves only a table file, removed at the next start. */
	if (catalog_begin(rn->cat) != 0)
		goto dbfail;
	if ((st = catalog_stmt(rn->cat, "INSERT INTO dataset (name, "
	    "provider, state, rows, columns, digest, schema, policy, mode, "
	    "eps_total, eps_job, key, created, level) VALUES (?, ?, 'pending', "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) == NULL)
		goto dbfail;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, t->party);
	sqlite3_bind_int64(st, 3, (int64_t)res.rows);
	sqlite3_bind_int64(st, 4, res.columns);
	sqlite3_bind_text(st, 5, res.digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, schema, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, policy, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, policy_mode_name(pol->mode), -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, eps_total);
	sqlite3_bind_int64(st, 10, eps_job);
	sqlite3_bind_blob(st, 11, key, sizeof(key), SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, (int64_t)time(NULL));
	sqlite3_bind_int(st, 13, level);
	r = sqlite3_step(st);
	catalog_done(rn->cat, st);
	st = NULL;
	if (r == SQLITE_CONSTRAINT) {
		catalog_rollback(rn->cat);
		task_fail(t, RPC_EXISTS, "a data set named '%s' exists", name);
		goto out;
	}
	snprintf(detail, sizeof(detail), "%llu rows, %u columns, sha256 %s",
	    (unsigned long long)res.rows, res.columns, res.digest);
	if (r != SQLITE_DONE)
		goto dbfail;
	{
		sqlite3_stmt *del;

		if (sqlite3_prepare_v2(catalog_db(rn->cat), "DELETE FROM upload "
		    "WHERE id = ?", -1, &del, NULL) != SQLITE_OK)
			goto dbfail;
		sqlite3_bind_int64(del, 1, t->upload);
		r = sqlite3_step(del);
		sqlite3_finalize(del);
		if (r != SQLITE_DONE)
			goto dbfail;
	}
	{
		char actor[72] = "provider";
		sqlite3_stmt *who;

		if (sqlite3_prepare_v2(catalog_db(rn->cat), "SELECT name FROM "
		    "party WHERE id = ?", -1, &who, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(who, 1, t->party);
			if (sqlite3_step(who) == SQLITE_ROW)
				snprintf(actor, sizeof(actor), "%s",
				    (const char *)sqlite3_column_text(who, 0));
			sqlite3_finalize(who);
		}
		if (catalog_audit(rn->cat, actor, "dataset.register", name,
		    detail) != 0)
			goto dbfail;
	}
	if (catalog_commit(rn->cat) != 0)
		goto dbfail;
	written = 0;
	(void)unlink(path);
	msgpack_packer_init(&pk, &t->result, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	frame_pack_cstr(&pk, "dataset");
	frame_pack_cstr(&pk, name);
	frame_pack_cstr(&pk, "state");
	frame_pack_cstr(&pk, "pending");
	frame_pack_cstr(&pk, "rows");
	msgpack_pack_uint64(&pk, res.rows);
	frame_pack_cstr(&pk, "columns");
	msgpack_pack_uint32(&pk, res.columns);
	frame_pack_cstr(&pk, "digest");
	frame_pack_cstr(&pk, res.digest);
	goto out;
 dbfail:
	task_fail(t, RPC_INTERNAL, "catalog: %s",
	    sqlite3_errmsg(catalog_db(rn->cat)));
	catalog_rollback(rn->cat);
 out:
	if (written) {
		veild_table_path(rn->d, name, path, sizeof(path));
		(void)unlink(path);
	}
	if (t->code != 0)	/* whatever failed, the upload is over */
		drop_upload(rn, t);
	explicit_bzero(key, sizeof(key));
	if (fd != -1)
		close(fd);
	policy_free(pol);
	ingestor_result_free(&res);
	free(schema);
	free(policy);
}

/* }====== */

/* {====== jobs */


static void
job_free(struct job *j)
{
	free(j->source);
	free(j->policy);
}

/*
 * Inside a transaction: takes the oldest queued job into *j. Returns 1 if
 * one was claimed, 0 if none, -1 on error (the caller rolls back).
 */
static int
claim_txn(struct runner *rn, struct job *j)
{
	sqlite3_stmt *st;
	int got = 0, r;

	memset(j, 0, sizeof(*j));
	if ((st = catalog_stmt(rn->cat, "SELECT j.id, j.dataset, j.buyer, j.source, "
	    "j.eps, s.name, s.policy, s.state, p.name, s.level FROM job j JOIN dataset "
	    "s ON s.id = j.dataset JOIN party p ON p.id = j.buyer WHERE "
	    "j.state = 'queued' ORDER BY j.id LIMIT 1")) == NULL)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW) {
		j->id = sqlite3_column_int64(st, 0);
		j->dataset = sqlite3_column_int64(st, 1);
		j->buyer = sqlite3_column_int64(st, 2);
		j->source = strdup((const char *)sqlite3_column_text(st, 3));
		j->eps = sqlite3_column_int64(st, 4);
		snprintf(j->name, sizeof(j->name), "%s",
		    (const char *)sqlite3_column_text(st, 5));
		j->policy = strdup((const char *)sqlite3_column_text(st, 6));
		snprintf(j->state, sizeof(j->state), "%s",
		    (const char *)sqlite3_column_text(st, 7));
		snprintf(j->buyer_name, sizeof(j->buyer_name), "%s",
		    (const char *)sqlite3_column_text(st, 8));
		j->level = sqlite3_column_int(st, 9);
		got = 1;
	}
	catalog_done(rn->cat, st);
	if (!got)
		return 0;
	if (j->source == NULL || j->policy == NULL ||
	    (st = catalog_stmt(rn->cat, "UPDATE job SET state = 'running', "
	    "attempts = attempts + 1 WHERE id = ?")) == NULL) {
		job_free(j);
		return -1;
	}
	sqlite3_bind_int64(st, 1, j->id);
	r = sqlite3_step(st);
	catalog_done(rn->cat, st);
	if (r != SQLITE_DONE) {
		job_free(j);
		return -1;
	}
	return 1;
}

/*
 * Takes the oldest queued job in a transaction of its own: 1 if one was
 * claimed, 0 if none. Not fsynced: lost in a crash, the job is simply
 * queued again; its finish() commit, which is, carries the claim with it.
 */
static int
claim(struct runner *rn, struct job *j)
{
	int got;

	if (catalog_begin_nosync(rn->cat) != 0)
		return 0;
	if ((got = claim_txn(rn, j)) < 0) {
		catalog_rollback(rn->cat);
		return 0;
	}
	if (catalog_commit(rn->cat) != 0) {
		catalog_rollback(rn->cat);
		if (got)
			job_free(j);
		return 0;
	}
	return got;
}

/*
 * The job's end, in one transaction: under dp the charge (checked
 * against the data set's total and the buyer's grant once more), the
 * result if there is one, the job's state and the audit record.
 * state: done, failed or refused; error: the class, or NULL.
 *
 * Not fsynced here: nothing of it shows before the publication tick
 * (veild_tick), whose commit is fsynced and, the WAL being one
 * sequence, makes every job end before it durable first. One fsync per
 * tick, not one per job, and no runner waits on the disk.
 *
 * With rn->want_next, the same transaction claims the runner's next job
 * into rn->next (rn->have_next): one transaction per job, not two.
 */
static int
finish(struct runner *rn, struct job *j, const char *state,
    const char *error, int charge, const msgpack_sbuffer *body,
    const msgpack_sbuffer *stats)
{
	sqlite3 *db = catalog_db(rn->cat);
	sqlite3_stmt *st;
	int64_t now = (int64_t)time(NULL), ds_spent = 0, b_spent = 0;
	int64_t total = 0, grant = 0;
	char detail[160], ebuf[32];
	int r;

	if (catalog_begin_nosync(rn->cat) != 0)
		return -1;
	if (charge && j->eps > 0) {
		if ((st = catalog_stmt(rn->cat, "SELECT s.eps_total, coalesce(g.eps, "
		    "0), (SELECT coalesce(sum(eps), 0) FROM spend WHERE "
		    "dataset = ?1), (SELECT coalesce(sum(eps), 0) FROM spend "
		    "WHERE dataset = ?1 AND buyer = ?2) FROM dataset s LEFT JOIN "
		    "grant_ g ON g.dataset = s.id AND g.buyer = ?2 WHERE s.id = "
		    "?1")) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, j->dataset);
		sqlite3_bind_int64(st, 2, j->buyer);
		if (sqlite3_step(st) == SQLITE_ROW) {
			total = sqlite3_column_int64(st, 0);
			grant = sqlite3_column_int64(st, 1);
			ds_spent = sqlite3_column_int64(st, 2);
			b_spent = sqlite3_column_int64(st, 3);
		}
		catalog_done(rn->cat, st);
		if (ds_spent + j->eps > total || b_spent + j->eps > grant) {
			/* The grant shrank or the budget went meanwhile:
			 * nothing is released, nothing charged. */
			state = "refused";
			error = "budget";
			body = NULL;
			charge = 0;
		} else {
			if ((st = catalog_stmt(rn->cat, "INSERT INTO charge (job, "
			    "dataset, buyer, eps, time) VALUES (?, ?, ?, ?, ?)")) == NULL)
				goto fail;
			sqlite3_bind_int64(st, 1, j->id);
			sqlite3_bind_int64(st, 2, j->dataset);
			sqlite3_bind_int64(st, 3, j->buyer);
			sqlite3_bind_int64(st, 4, j->eps);
			sqlite3_bind_int64(st, 5, now);
			r = sqlite3_step(st);
			catalog_done(rn->cat, st);
			if (r != SQLITE_DONE)
				goto fail;
		}
	} else
		charge = 0;
	if (body != NULL) {
		if ((st = catalog_stmt(rn->cat, "INSERT INTO result (job, body, stats, "
		    "created) VALUES (?, ?, ?, ?)")) == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, j->id);
		sqlite3_bind_blob(st, 2, body->data, (int)body->size,
		    SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, stats->data, (int)stats->size,
		    SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		r = sqlite3_step(st);
		catalog_done(rn->cat, st);
		if (r != SQLITE_DONE)
			goto fail;
	}
	if ((st = catalog_stmt(rn->cat, "UPDATE job SET state = ?, error = ?, "
	    "finished = ? WHERE id = ? AND state = 'running'")) == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (error != NULL)
		sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, j->id);
	r = sqlite3_step(st);
	catalog_done(rn->cat, st);
	if (r != SQLITE_DONE || sqlite3_changes(db) != 1)
		goto fail;
	ledger_format(charge ? j->eps : 0, ebuf, sizeof(ebuf));
	snprintf(detail, sizeof(detail), "job %lld for %s: %s%s%s, epsilon %s",
	    (long long)j->id, j->buyer_name, state, error ? " " : "",
	    error ? error : "", ebuf);
	if (catalog_audit(rn->cat, "veild", body != NULL ? "release" :
	    "job.end", j->name, detail) != 0)
		goto fail;
	if (rn->want_next && (rn->have_next = claim_txn(rn, &rn->next)) < 0) {
		rn->have_next = 0;
		goto fail;
	}
	if (catalog_commit(rn->cat) != 0) {
		if (rn->have_next)
			job_free(&rn->next);
		rn->have_next = 0;
		goto fail;
	}
	return 0;
 fail:
	fprintf(stderr, "veild: job %lld: catalog: %s\n", (long long)j->id,
	    sqlite3_errmsg(db));
	catalog_rollback(rn->cat);
	return -1;
}

static int
still_approved(struct runner *rn, int64_t id)
{
	sqlite3_stmt *st;
	int r = 0;

	if ((st = catalog_stmt(rn->cat, "SELECT 1 FROM dataset "
	    "WHERE id = ? AND state = 'approved'")) == NULL)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	r = sqlite3_step(st) == SQLITE_ROW;
	catalog_done(rn->cat, st);
	return r;
}

static const char *
status_class(const struct spawner_outcome *o)
{
	switch (o->status) {
	case SPAWN_ERROR:
		return o->class[0] ? o->class : "error";
	case SPAWN_CPU:
		return "cpu";
	case SPAWN_MEMORY:
		return "memory";
	case SPAWN_WALL:
		return "wall";
	case SPAWN_SANDBOX:
		return "sandbox";
	case SPAWN_OUTPUT:
		return "output";
	case SPAWN_MALFORMED:
		return "malformed";
	case SPAWN_CRASHED:
		return "crashed";
	default:
		return "internal";
	}
}

/* The policy of j, from the cache or parsed into it; NULL on error. */
static struct policy *
job_policy(struct runner *rn, const struct job *j)
{
	struct policy *p;
	struct veil_err err;
	char *text;

	if (rn->pol != NULL && rn->pol_level == j->level &&
	    strcmp(rn->pol_text, j->policy) == 0)
		return rn->pol;
	if (policy_load_buffer(j->policy, strlen(j->policy), "policy.lua", &p,
	    &err) != 0)
		return NULL;
	if ((text = strdup(j->policy)) == NULL) {
		policy_free(p);
		return NULL;
	}
	policy_apply_level(p, j->level);
	policy_free(rn->pol);
	free(rn->pol_text);
	rn->pol = p;
	rn->pol_text = text;
	rn->pol_level = j->level;
	return p;
}

static void
run_job(struct runner *rn, struct job *j)
{
	struct policy *p = NULL;
	struct spawner *sp = NULL;
	struct spawner_outcome out;
	struct spawner_limits lim;
	struct dp_params dpp;
	struct veil_err err;
	msgpack_sbuffer frame, body, stats;
	msgpack_packer bpk, spk;
	char conf[128];
	int fd = -1, have_out = 0, r;
	const msgpack_object *wst;

	msgpack_sbuffer_init(&frame);
	msgpack_sbuffer_init(&body);
	msgpack_sbuffer_init(&stats);
	veil_err_clear(&err);
	if (strcmp(j->state, "approved") != 0) {
		(void)finish(rn, j, "refused", "dataset not approved", 0, NULL,
		    NULL);
		goto out;
	}
	if ((p = job_policy(rn, j)) == NULL ||
	    jobspec_frame(&frame, j->source, strlen(j->source), p, 0) != 0) {
		(void)finish(rn, j, "failed", "internal", 0, NULL, NULL);
		goto out;
	}
	jobspec_limits(p, &lim);
	if ((fd = table_memfd(rn->d, j->dataset, j->name)) == -1) {
		/* Revoked since the claim, its table gone; or a disk error. */
		if (still_approved(rn, j->dataset)) {
			fprintf(stderr, "veild: job %lld: cannot read the table "
			    "of %s\n", (long long)j->id, j->name);
			(void)finish(rn, j, "failed", "internal", 0, NULL, NULL);
		} else
			(void)finish(rn, j, "refused", "dataset not approved", 0,
			    NULL, NULL);
		goto out;
	}
	if ((sp = zygote_child(rn, j->dataset, fd, &lim)) != NULL &&
	    spawner_submit(sp, frame.data, frame.size, &err) != 0) {
		/* It died before it took its job: how is in its wait. */
		fprintf(stderr, "veild: job %lld: %s\n", (long long)j->id,
		    err.msg);
		spawner_free(sp);
		sp = NULL;
		zygote_drop(rn);
	}
	if ((sp == NULL && (sp = spawner_start_fds(rn->d->worker, NULL, &fd, 1,
	    frame.data, frame.size, &lim, &err)) == NULL) ||
	    spawner_wait(sp, &out) != 0) {
		fprintf(stderr, "veild: job %lld: cannot run a worker: %s\n",
		    (long long)j->id, err.msg);
		(void)finish(rn, j, "failed", "internal", 0, NULL, NULL);
		goto out;
	}
	have_out = 1;
	if (out.status != SPAWN_FINISHED) {
		/* Under dp a failing job pays too: failures are not a free
		 * channel. Its text is withheld on real data. */
		(void)finish(rn, j, "failed", status_class(&out),
		    p->mode == POLICY_DP, NULL, NULL);
		goto out;
	}
	msgpack_packer_init(&bpk, &body, msgpack_sbuffer_write);
	if (p->mode == POLICY_DP) {
		memset(&dpp, 0, sizeof(dpp));
		dpp.eps_job = j->eps;
		dpp.delta = p->delta;
		dpp.noise = p->noise;
		dpp.m = p->max_rows_per_unit;
		dpp.smp = rn->smp;
		r = dp_release(out.results, &dpp, &bpk, &err);
	} else
		r = release_results(out.results, p, &bpk, &err);
	if (r != 0) {
		(void)finish(rn, j, r == VEIL_E_REFUSED ? "refused" : "failed",
		    "release", p->mode == POLICY_DP, NULL, NULL);
		goto out;
	}
	/* Stats: exact counts and timings only where nothing is protected. */
	msgpack_packer_init(&spk, &stats, msgpack_sbuffer_write);
	wst = frame_get(&out.frame.data, "stats");
	msgpack_pack_map(&spk, p->mode == POLICY_NONE && wst != NULL ? 2 : 1);
	frame_pack_cstr(&spk, "confinement");
	frame_pack_cstr(&spk, confine_describe(out.confinement, conf,
	    sizeof(conf)));
	if (p->mode == POLICY_NONE && wst != NULL) {
		frame_pack_cstr(&spk, "worker");
		msgpack_pack_object(&spk, *wst);
	}
	(void)finish(rn, j, "done", NULL, p->mode == POLICY_DP, &body, &stats);
 out:
	if (have_out)
		spawner_outcome_free(&out);
	spawner_free(sp);
	if (fd != -1)
		close(fd);
	msgpack_sbuffer_destroy(&frame);
	msgpack_sbuffer_destroy(&body);
	msgpack_sbuffer_destroy(&stats);
}

/* }====== */

static void *
runner_main(void *arg)
{
	struct runner *rn = arg;
	struct veild *d = rn->d;
	struct task *t;
	struct timespec ts;
	struct job j;
	uint64_t seen = (uint64_t)-1, revoked = 0;
	int stop, drop;

	for (;;) {
		pthread_mutex_lock(&d->mu);
		while (!d->stopping && d->tasks == NULL && d->job_hint == seen &&
		    d->revoked == revoked) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) != 0)
				break;	/* look at the catalog anyway */
		}
		if (d->stopping) {
			pthread_mutex_unlock(&d->mu);
			break;
		}
		if ((t = d->tasks) != NULL) {
			d->tasks = t->next;
			if (d->tasks == NULL)
				d->tasks_tail = &d->tasks;
		}
		seen = d->job_hint;
		drop = d->revoked != revoked;
		revoked = d->revoked;
		pthread_mutex_unlock(&d->mu);
		/* A revoked table must not stay mapped in a fork server. */
		if (drop)
			zygote_drop(rn);
		if (t != NULL) {
			if (t->kind == TASK_CHECK)
				run_check(rn, t);
			else
				run_ingest(rn, t);
			task_done(d, t);
			continue;
		}
		stop = 0;
		while (!stop && claim(rn, &j)) {
			/* Each job's end claims the next, until there is
			 * none or something else is to be done. */
			do {
				rn->want_next = !stop;
				rn->have_next = 0;
				run_job(rn, &j);
				rn->want_next = 0;
				job_free(&j);
				pthread_mutex_lock(&d->mu);
				d->finished++;
				stop = d->stopping || d->tasks != NULL;
				drop = d->revoked != revoked;
				revoked = d->revoked;
				pthread_mutex_unlock(&d->mu);
				if (drop)
					zygote_drop(rn);
				j = rn->next;	/* claimed: run even if stopping */
			} while (rn->have_next);
		}
	}
	zygote_drop(rn);
	policy_free(rn->pol);
	free(rn->pol_text);
	sampler_free(rn->smp);
	catalog_close(rn->cat);
	free(rn);
	return NULL;
}

int
veild_runners_start(struct veild *d)
{
	struct veil_err err;
	struct runner *rn;
	int i;

	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	d->tasks_tail = &d->tasks;
	d->done_tail = &d->done;
	d->job_hint = 1;
	if ((d->threads = calloc((size_t)d->nworkers, sizeof(pthread_t))) ==
	    NULL)
		return -1;
	for (i = 0; i < d->nworkers; i++) {
		if ((rn = calloc(1, sizeof(*rn))) == NULL)
			return -1;
		rn->d = d;
		if ((rn->cat = catalog_open(d->home, &err)) == NULL ||
		    (rn->smp = sampler_new()) == NULL) {
			fprintf(stderr, "veild: runner: %s\n", err.msg);
			return -1;
		}
		catalog_share_lock(rn->cat, &d->wmu);
		if (pthread_create(&d->threads[i], NULL, runner_main, rn) != 0)
			return -1;
	}
	return 0;
}

void
veild_runners_stop(struct veild *d)
{
	struct task *t;
	int i;

	pthread_mutex_lock(&d->mu);
	d->stopping = 1;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nworkers; i++)
		pthread_join(d->threads[i], NULL);
	free(d->threads);
	/* Checks and ingestions never started: their clients are told. */
	while ((t = d->tasks) != NULL) {
		d->tasks = t->next;
		t->code = RPC_SHUTTING_DOWN;
		snprintf(t->msg, sizeof(t->msg), "veild is stopping");
		t->next = NULL;
		*d->done_tail = t;
		d->done_tail = &t->next;
	}
	d->tasks_tail = &d->tasks;
}
