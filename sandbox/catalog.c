/*
 * catalog.c: the exchange catalog (SQLite, WAL) and its migrations.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "catalog.h"

/*
 * Prepared statements, kept for the connection's life and found by the
 * address of their SQL text: every caller passes a string literal, so
 * one address is one text. Parsing and planning a statement cost more
 * than running most of veild's; a job's life runs about fifteen.
 */
#define STMT_CACHE	96

struct catalog {
	sqlite3		*db;
	struct {
		const char	*sql;
		sqlite3_stmt	*st;
	}		 stmts[STMT_CACHE];
	int		 nstmts;
	int		 nosync;	/* in a catalog_begin_nosync() */
	int		 dir_synced;	/* the home directory, once */
	uint64_t	 syncs;		/* WAL fsyncs done */
	char		 wal[PATH_MAX];	/* HOME/veil.db-wal */
	char		 home[PATH_MAX];
	pthread_mutex_t	*wlock;		/* shared by the process's writers */
	int		 locked;	/* holds *wlock */
};

/*
 * Migration n brings user_version from n-1 to n. Never edit a shipped
 * migration: add the next one.
 */
static const char *const migrations[] = {
	/* 1: the first catalog. */
	"CREATE TABLE party ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  role TEXT NOT NULL CHECK (role IN"
	"    ('operator','provider','buyer','auditor')),"
	"  token_hash BLOB NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE dataset ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  provider INTEGER NOT NULL REFERENCES party(id),"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('pending','approved','revoked')),"
	"  rows INTEGER NOT NULL,"
	"  columns INTEGER NOT NULL,"
	"  digest TEXT NOT NULL,"
	"  schema TEXT NOT NULL,"
	"  policy TEXT NOT NULL,"
	"  mode TEXT NOT NULL,"
	"  eps_total INTEGER NOT NULL,"	/* nano-epsilons */
	"  eps_job INTEGER NOT NULL,"
	"  level INTEGER NOT NULL,"	/* highest classification */
	"  key BLOB NOT NULL,"		/* pseudonymization key */
	"  created INTEGER NOT NULL,"
	"  approved INTEGER,"
	"  approved_by INTEGER REFERENCES party(id));"
	"CREATE TABLE upload ("
	"  id INTEGER PRIMARY KEY,"
	"  provider INTEGER NOT NULL REFERENCES party(id),"
	"  name TEXT NOT NULL UNIQUE,"	/* one upload per name at a time */
	"  schema TEXT NOT NULL,"
	"  policy TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  received INTEGER NOT NULL DEFAULT 0,"
	"  committing INTEGER NOT NULL DEFAULT 0,"
	"  level INTEGER NOT NULL DEFAULT 0,"	/* from the check */
	"  created INTEGER NOT NULL);"
	"CREATE TABLE grant_ ("
	"  dataset INTEGER NOT NULL REFERENCES dataset(id),"
	"  buyer INTEGER NOT NULL REFERENCES party(id),"
	"  eps INTEGER NOT NULL,"
	"  purpose TEXT NOT NULL DEFAULT '',"
	"  expires INTEGER,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (dataset, buyer));"
	"CREATE TABLE job ("
	"  id INTEGER PRIMARY KEY,"
	"  dataset INTEGER NOT NULL REFERENCES dataset(id),"
	"  buyer INTEGER NOT NULL REFERENCES party(id),"
	"  source TEXT NOT NULL,"
	"  eps INTEGER NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('queued','running','done','failed','refused')),"
	"  error TEXT,"
	"  submitted INTEGER NOT NULL,"
	"  finished INTEGER,"
	"  published INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX job_state ON job(state, id);"
	"CREATE INDEX job_unpublished ON job(published) WHERE published = 0;"
	"CREATE TABLE result ("
	"  job INTEGER PRIMARY KEY REFERENCES job(id),"
	"  body BLOB NOT NULL,"		/* msgpack: the released results */
	"  stats BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE charge ("
	"  job INTEGER PRIMARY KEY REFERENCES job(id),"
	"  dataset INTEGER NOT NULL REFERENCES dataset(id),"
	"  buyer INTEGER NOT NULL REFERENCES party(id),"
	"  eps INTEGER NOT NULL,"
	"  time INTEGER NOT NULL);"
	"CREATE INDEX charge_ds ON charge(dataset, buyer);"
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  detail TEXT NOT NULL,"
	"  hash BLOB NOT NULL);",
	/*
	 * 2: what each buyer has spent of each data set, kept by a trigger
	 * in the transaction that inserts the charge, so that a budget check
	 * reads one row instead of summing a ledger that grows by one row
	 * per job. Charges become append-only: the sum can never drift.
	 */
	"CREATE TABLE spend ("
	"  dataset INTEGER NOT NULL REFERENCES dataset(id),"
	"  buyer INTEGER NOT NULL REFERENCES party(id),"
	"  eps INTEGER NOT NULL,"
	"  PRIMARY KEY (dataset, buyer)) WITHOUT ROWID;"
	"INSERT INTO spend SELECT dataset, buyer, sum(eps) FROM charge"
	"  GROUP BY dataset, buyer;"
	"CREATE TRIGGER charge_spend AFTER INSERT ON charge BEGIN"
	"  INSERT INTO spend (dataset, buyer, eps)"
	"    VALUES (NEW.dataset, NEW.buyer, NEW.eps)"
	"    ON CONFLICT (dataset, buyer) DO UPDATE SET eps = eps + NEW.eps;"
	"END;"
	"CREATE TRIGGER charge_no_update BEFORE UPDATE ON charge BEGIN"
	"  SELECT RAISE(ABORT, 'charges are append-only');"
	"END;"
	"CREATE TRIGGER charge_no_delete BEFORE DELETE ON charge BEGIN"
	"  SELECT RAISE(ABORT, 'charges are append-only');"
	"END;",
};
#define NMIGRATIONS	(sizeof(migrations) / sizeof(migrations[0]))

static int
exec_sql(sqlite3 *db, const char *sql, struct veil_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		veil_seterr(err, VEIL_E_IO, "catalog: %s", msg ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		return VEIL_E_IO;
	}
	return 0;
}

static int
migrate(sqlite3 *db, struct veil_err *err)
{
	sqlite3_stmt *st;
	char sql[64];
	int v = 0, r;
	size_t i;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return veil_seterr(err, VEIL_E_IO, "catalog: %s",
		    sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > (int)NMIGRATIONS)
		return veil_seterr(err, VEIL_E_CORRUPT, "catalog: version %d "
		    "is newer than this veild understands (%d)", v,
		    (int)NMIGRATIONS);
	for (i = (size_t)v; i < NMIGRATIONS; i++) {
		if ((r = exec_sql(db, "BEGIN IMMEDIATE", err)) != 0)
			return r;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", i + 1);
		if ((r = exec_sql(db, migrations[i], err)) != 0 ||
		    (r = exec_sql(db, sql, err)) != 0) {
			(void)exec_sql(db, "ROLLBACK", NULL);
			return r;
		}
		if ((r = exec_sql(db, "COMMIT", err)) != 0)
			return r;
	}
	return 0;
}

struct catalog *
catalog_open(const char *home, struct veil_err *err)
{
	struct catalog *c;
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/veil.db", home) >=
	    sizeof(path)) {
		veil_seterr(err, VEIL_E_INVALID, "%s: path too long", home);
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		veil_seterr(err, VEIL_E_IO, "%s: %s", path, c->db ?
		    sqlite3_errmsg(c->db) : "cannot open");
		catalog_close(c);
		return NULL;
	}
	sqlite3_busy_timeout(c->db, 30000);
	if ((size_t)snprintf(c->home, sizeof(c->home), "%s", home) >=
	    sizeof(c->home) || (size_t)snprintf(c->wal, sizeof(c->wal),
	    "%s/veil.db-wal", home) >= sizeof(c->wal)) {
		veil_seterr(err, VEIL_E_INVALID, "%s: path too long", home);
		catalog_close(c);
		return NULL;
	}
	/*
	 * synchronous NORMAL: SQLite itself fsyncs the WAL only before a
	 * checkpoint; catalog_commit() fsyncs it after every durable commit
	 * (see wal_sync), catalog_begin_nosync()'s commits are not. The
	 * pragma is never switched per transaction: switching it cost a
	 * small job more than its own statements.
	 */
	if (exec_sql(c->db, "PRAGMA journal_mode = WAL;"
	    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", err) !=
	    0 || migrate(c->db, err) != 0) {
		catalog_close(c);
		return NULL;
	}
	return c;
}

void
catalog_close(struct catalog *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nstmts; i++)
		sqlite3_finalize(c->stmts[i].st);
	sqlite3_close_v2(c->db);
	free(c);
}

sqlite3_stmt *
catalog_stmt(struct catalog *c, const char *sql)
{
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < c->nstmts; i++)
		if (c->stmts[i].sql == sql)
			return c->stmts[i].st;
	if (sqlite3_prepare_v3(c->db, sql, -1, c->nstmts < STMT_CACHE ?
	    SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) != SQLITE_OK)
		return NULL;
	if (c->nstmts < STMT_CACHE) {
		c->stmts[c->nstmts].sql = sql;
		c->stmts[c->nstmts++].st = st;
	}
	return st;
}

void
catalog_done(struct catalog *c, sqlite3_stmt *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < c->nstmts; i++)
		if (c->stmts[i].st == st) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			return;
		}
	sqlite3_finalize(st);	/* the cache was full */
}

struct sqlite3 *
catalog_db(struct catalog *c)
{
	return c->db;
}

void
catalog_hash_token(const char *token, size_t len, unsigned char hash[32])
{
	unsigned int n = 32;

	if (EVP_Digest(token, len, hash, &n, EVP_sha256(), NULL) != 1)
		memset(hash, 0, 32);
}

int
catalog_new_token(char *token, size_t len, unsigned char hash[32])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	size_t i, o = 0;
	uint32_t v;

	if (len < CATALOG_TOKEN_LEN + 1 ||
	    getrandom(raw, 32, 0) != 32)
		return -1;
	raw[32] = 0;
	for (i = 0; i < 33; i += 3) {
		v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    raw[i + 2];
		token[o++] = b64[v >> 18 & 63];
		token[o++] = b64[v >> 12 & 63];
		token[o++] = b64[v >> 6 & 63];
		token[o++] = b64[v & 63];
	}
	token[CATALOG_TOKEN_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	catalog_hash_token(token, CATALOG_TOKEN_LEN, hash);
	return 0;
}

static const char *const role_names[] = {
	"none", "operator", "provider", "buyer", "auditor",
};

const char *
catalog_role_name(enum catalog_role r)
{
	return (unsigned)r <= ROLE_AUDITOR ? role_names[r] : "none";
}

enum catalog_role
catalog_role_parse(const char *s, size_t len)
{
	int i;

	for (i = ROLE_OPERATOR; i <= ROLE_AUDITOR; i++)
		if (strlen(role_names[i]) == len &&
		    memcmp(role_names[i], s, len) == 0)
			return (enum catalog_role)i;
	return ROLE_NONE;
}

void
catalog_share_lock(struct catalog *c, pthread_mutex_t *mu)
{
	c->wlock = mu;
}

/* Runs one cached statement that returns no rows. */
static int
run1(struct catalog *c, const char *sql)
{
	sqlite3_stmt *st;
	int r;

	if ((st = catalog_stmt(c, sql)) == NULL)
		return VEIL_E_IO;
	r = sqlite3_step(st);
	catalog_done(c, st);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : VEIL_E_IO;
}

static void
unlock(struct catalog *c)
{
	if (c->locked) {
		c->locked = 0;
		pthread_mutex_unlock(c->wlock);
	}
}

int
catalog_begin(struct catalog *c)
{
	int r;

	/*
	 * Writers of one process queue on a mutex, not on SQLite's busy
	 * handler, which polls by sleeping (up to 100 ms a nap): under
	 * load the naps, not the work, made a job's latency.
	 */
	if (c->wlock != NULL && !c->locked) {
		pthread_mutex_lock(c->wlock);
		c->locked = 1;
	}
	if ((r = run1(c, "BEGIN IMMEDIATE")) != 0)
		unlock(c);
	return r;
}

/*
 * Makes every commit so far durable: fdatasync of the WAL, which is one
 * sequence for all connections, so it covers other connections' commits
 * before this one too (and the home directory once, for the WAL's own
 * entry). With synchronous = NORMAL this is what FULL would have done at
 * this commit. A failed fsync is not retried: the kernel may have
 * dropped the pages it could not write, and a later success would lie
 * (PostgreSQL's "fsyncgate"). The process stops; restarting recovers
 * from what is on disk.
 */
static void
wal_sync(struct catalog *c)
{
	int fd;

	if ((fd = open(c->wal, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fdatasync(fd) != 0)
		goto fatal;
	close(fd);
	c->syncs++;
	if (!c->dir_synced) {
		if ((fd = open(c->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
		    -1 || fsync(fd) != 0)
			goto fatal;
		close(fd);
		c->dir_synced = 1;
	}
	return;
 fatal:
	fprintf(stderr, "catalog: cannot make %s durable: %s; stopping, so "
	    "that nothing unsynced is served\n", c->wal, strerror(errno));
	abort();
}

/*
 * A transaction whose commit is not fsynced: the next durable commit on
 * any connection (the WAL is one sequence) makes it durable with its own.
 */
int
catalog_begin_nosync(struct catalog *c)
{
	int r;

	if ((r = catalog_begin(c)) == 0)
		c->nosync = 1;
	return r;
}

uint64_t
catalog_syncs(const struct catalog *c)
{
	return c->syncs;
}

int
catalog_commit(struct catalog *c)
{
	int r;

	if ((r = run1(c, "COMMIT")) == 0) {
		if (!c->nosync)
			wal_sync(c);
		c->nosync = 0;
		unlock(c);
	}
	return r;
}

void
catalog_rollback(struct catalog *c)
{
	if (!sqlite3_get_autocommit(c->db))
		(void)run1(c, "ROLLBACK");
	c->nosync = 0;
	unlock(c);
}

static void
hash_record(const unsigned char prev[32], int64_t seq, int64_t t,
    const char *actor, const char *action, const char *object,
    const char *detail, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const char *f[4] = { actor, action, object, detail };
	unsigned char num[16];
	unsigned int n = 32;
	uint32_t l;
	int i;

	for (i = 0; i < 8; i++) {
		num[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
		num[8 + i] = (unsigned char)((uint64_t)t >> (56 - 8 * i));
	}
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		memset(out, 0, 32);
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_DigestUpdate(ctx, prev, 32);
	EVP_DigestUpdate(ctx, num, sizeof(num));
	/* Each field length-prefixed: no two records hash alike. */
	for (i = 0; i < 4; i++) {
		unsigned char lb[4];

		l = (uint32_t)strlen(f[i]);
		lb[0] = (unsigned char)(l >> 24);
		lb[1] = (unsigned char)(l >> 16);
		lb[2] = (unsigned char)(l >> 8);
		lb[3] = (unsigned char)l;
		EVP_DigestUpdate(ctx, lb, 4);
		EVP_DigestUpdate(ctx, f[i], l);
	}
	EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

int
catalog_audit(struct catalog *c, const char *actor, const char *action,
    const char *object, const char *detail)
{
	sqlite3_stmt *st;
	unsigned char prev[32], h[32];
	int64_t seq = 1, t = (int64_t)time(NULL);
	int r;

	memset(prev, 0, sizeof(prev));
	if ((st = catalog_stmt(c, "SELECT seq, hash FROM audit ORDER BY "
	    "seq DESC LIMIT 1")) == NULL)
		return VEIL_E_IO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(prev, sqlite3_column_blob(st, 1), 32);
	}
	catalog_done(c, st);
	hash_record(prev, seq, t, actor, action, object, detail, h);
	if ((st = catalog_stmt(c, "INSERT INTO audit VALUES "
	    "(?,?,?,?,?,?,?)")) == NULL)
		return VEIL_E_IO;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, t);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 7, h, 32, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : VEIL_E_IO;
	catalog_done(c, st);
	return r;
}

int
catalog_audit_verify(struct catalog *c, int64_t *records, int64_t *bad,
    struct veil_err *err)
{
	sqlite3_stmt *st;
	unsigned char prev[32], h[32];
	int64_t seq, expect = 1;
	int r;

	*records = 0;
	*bad = 0;
	memset(prev, 0, sizeof(prev));
	if (sqlite3_prepare_v2(c->db, "SELECT seq, time, actor, action, "
	    "object, detail, hash FROM audit ORDER BY seq", -1, &st, NULL) !=
	    SQLITE_OK)
		return veil_seterr(err, VEIL_E_IO, "catalog: %s",
		    sqlite3_errmsg(c->db));
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		hash_record(prev, seq, sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (const char *)sqlite3_column_text(st, 3),
		    (const char *)sqlite3_column_text(st, 4),
		    (const char *)sqlite3_column_text(st, 5), h);
		(*records)++;
		if (seq != expect || sqlite3_column_bytes(st, 6) != 32 ||
		    memcmp(h, sqlite3_column_blob(st, 6), 32) != 0) {
			*bad = seq;
			break;
		}
		memcpy(prev, h, 32);
		expect++;
	}
	sqlite3_finalize(st);
	return 0;
}

int
catalog_create(const char *home, char *token, size_t tokenlen,
    struct veil_err *err)
{
	static const char *const dirs[] = { "keys", "datasets", "uploads" };
	struct catalog *c;
	sqlite3_stmt *st;
	unsigned char hash[32];
	char path[PATH_MAX], dbpath[PATH_MAX];
	size_t i;
	int r;

	/* 0750: the socket (0660) is reachable by the exchange's group;
	 * everything inside is the daemon's alone. */
	if (mkdir(home, 0750) != 0 && errno != EEXIST)
		return veil_seterr(err, VEIL_E_IO, "%s: %s", home,
		    strerror(errno));
	snprintf(dbpath, sizeof(dbpath), "%s/veil.db", home);
	if (access(dbpath, F_OK) == 0)
		return veil_seterr(err, VEIL_E_INVALID, "%s already holds an "
		    "exchange (veil.db exists)", home);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", home, dirs[i]);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return veil_seterr(err, VEIL_E_IO, "%s: %s", path,
			    strerror(errno));
	}
	if ((c = catalog_open(home, err)) == NULL)
		return err->code ? err->code : VEIL_E_IO;
	(void)chmod(dbpath, 0600);
	if (catalog_new_token(token, tokenlen, hash) != 0) {
		catalog_close(c);
		return veil_seterr(err, VEIL_E_IO, "no randomness for a token");
	}
	r = VEIL_E_IO;
	if (catalog_begin(c) != 0)
		goto fail;
	if (sqlite3_prepare_v2(c->db, "INSERT INTO party (name, role, "
	    "token_hash, created) VALUES ('operator', 'operator', ?, ?)", -1,
	    &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : VEIL_E_IO;
	sqlite3_finalize(st);
	if (r == 0)
		r = catalog_audit(c, "operator", "init", home, "");
	if (r == 0 && catalog_commit(c) == 0) {
		catalog_close(c);
		return 0;
	}
 fail:
	veil_seterr(err, VEIL_E_IO, "catalog: %s", sqlite3_errmsg(c->db));
	catalog_rollback(c);
	catalog_close(c);
	return VEIL_E_IO;
}
