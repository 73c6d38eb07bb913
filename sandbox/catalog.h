/*
 * catalog.h: the exchange's catalog, one SQLite database in WAL mode at
 * HOME/veil.db: parties, data sets, grants, jobs, results, budget charges
 * and the audit chain. The schema is versioned (PRAGMA user_version) and
 * upgraded by numbered migrations when a daemon opens an older file.
 *
 * Each thread opens its own handle. Every state change that must be
 * atomic is one function here running one transaction (BEGIN IMMEDIATE):
 * in particular catalog_finish_job() commits the budget charge, the audit
 * record, the stored result and the job's end together, or nothing.
 */
#ifndef VEIL_CATALOG_H
#define VEIL_CATALOG_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "error.h"

#define CATALOG_VERSION		2
#define CATALOG_TOKEN_LEN	43	/* base64url of 32 random bytes */

enum catalog_role {
	ROLE_NONE = 0,
	ROLE_OPERATOR,
	ROLE_PROVIDER,
	ROLE_BUYER,
	ROLE_AUDITOR,
};

struct catalog;

/*
 * Creates an exchange in home (which must not hold one yet): the
 * directory (0750), keys/ (0700), datasets/, uploads/, the catalog, and
 * the operator party, whose new token is written to token (at least
 * CATALOG_TOKEN_LEN + 1 bytes). Returns 0 or a VEIL_E_* code.
 */
int	 catalog_create(const char *home, char *token, size_t tokenlen,
	    struct veil_err *err);

/* Opens HOME/veil.db (migrating it to CATALOG_VERSION if older). */
struct catalog *catalog_open(const char *home, struct veil_err *err);
void	 catalog_close(struct catalog *);
/* The raw handle, for the daemon's queries. */
struct sqlite3 *catalog_db(struct catalog *);

/* A new random token and its SHA-256 (for storage). */
int	 catalog_new_token(char *token, size_t len, unsigned char hash[32]);
void	 catalog_hash_token(const char *token, size_t len,
	    unsigned char hash[32]);

const char *catalog_role_name(enum catalog_role);
enum catalog_role catalog_role_parse(const char *s, size_t len);

/*
 * Appends an audit record in the current transaction (the caller holds
 * one): hash = SHA-256(prev hash || seq || time || actor || action ||
 * object || detail).
 */
int	 catalog_audit(struct catalog *, const char *actor, const char *action,
	    const char *object, const char *detail);

/* Recomputes the audit chain; *bad = first bad seq, or 0. */
int	 catalog_audit_verify(struct catalog *, int64_t *records, int64_t *bad,
	    struct veil_err *err);

/* Transactions: BEGIN IMMEDIATE (retrying while busy), COMMIT, ROLLBACK. */
/*
 * A prepared statement for sql, which must be a string literal (the
 * cache knows texts by address); hand it back with catalog_done(), which
 * resets it and clears its bindings, never with sqlite3_finalize(). NULL
 * if it does not prepare (sqlite3_errmsg says why).
 */
struct sqlite3_stmt	*catalog_stmt(struct catalog *, const char *sql);
void	 catalog_done(struct catalog *, struct sqlite3_stmt *);
int	 catalog_begin(struct catalog *);
/*
 * From now on catalog_begin() takes mu, and the commit or rollback gives
 * it back: the connections of one process that share mu never meet as
 * SQLite writers (whose busy handler waits by sleeping). Other processes
 * still meet them through SQLite's locks.
 */
void	 catalog_share_lock(struct catalog *, pthread_mutex_t *mu);
/*
 * A transaction whose commit is not fsynced by itself, for changes that
 * nothing is released on until a later durable commit (on any
 * connection: the WAL is one sequence) has made them durable too. Ends
 * with catalog_commit() or catalog_rollback().
 */
int	 catalog_begin_nosync(struct catalog *);
/*
 * Commits; unless the transaction began with catalog_begin_nosync(), it
 * and every commit before it are on disk when this returns (fdatasync
 * of the WAL; a failed fsync aborts the process). Returns 0 or VEIL_E_IO
 * (the transaction is still open: roll it back).
 */
int	 catalog_commit(struct catalog *);
/* How many times this connection has fsynced the WAL (for tests). */
uint64_t catalog_syncs(const struct catalog *);
void	 catalog_rollback(struct catalog *);

#endif /* VEIL_CATALOG_H */
