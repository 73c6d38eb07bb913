/*
 * test_catalog.c: the exchange catalog. Creating an exchange (twice is
 * refused), tokens stored only as hashes, the migrations (a catalog
 * newer than the code is refused, an old one is brought up to date), and
 * the audit chain: every change to a record, its order or its removal is
 * found by catalog_audit_verify().
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog.h"

static char base[] = "/tmp/veil-test-catalog-XXXXXX";
static int nhome;

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(base) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* A new exchange; its path in home, the operator token in token. */
static void
new_home(char *home, size_t len, char *token)
{
	struct veil_err err;

	snprintf(home, len, "%s/ex%d", base, nhome++);
	assert_int_equal(catalog_create(home, token, CATALOG_TOKEN_LEN + 1,
	    &err), 0);
}

static void
exec_sql(struct catalog *c, const char *sql)
{
	assert_int_equal(sqlite3_exec(catalog_db(c), sql, NULL, NULL, NULL),
	    SQLITE_OK);
}

static void
test_create(void **state)
{
	struct veil_err err;
	struct catalog *c;
	struct stat sb;
	sqlite3_stmt *st;
	unsigned char h[32];
	char home[256], path[300], token[CATALOG_TOKEN_LEN + 1];
	char again[CATALOG_TOKEN_LEN + 1];

	(void)state;
	new_home(home, sizeof(home), token);
	assert_int_equal(strlen(token), CATALOG_TOKEN_LEN);
	snprintf(path, sizeof(path), "%s/keys", home);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/veil.db", home);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	/* A second init over it is refused and changes nothing. */
	assert_int_not_equal(catalog_create(home, again, sizeof(again), &err),
	    0);
	assert_non_null(strstr(err.msg, "already holds an exchange"));

	assert_non_null(c = catalog_open(home, &err));
	/* Only the hash is kept: the token itself is nowhere in the row. */
	catalog_hash_token(token, strlen(token), h);
	assert_int_equal(sqlite3_prepare_v2(catalog_db(c), "SELECT role, "
	    "token_hash FROM party WHERE name = 'operator'", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0),
	    "operator");
	assert_int_equal(sqlite3_column_bytes(st, 1), 32);
	assert_memory_equal(sqlite3_column_blob(st, 1), h, 32);
	sqlite3_finalize(st);
	catalog_close(c);
}

static void
test_tokens(void **state)
{
	unsigned char h1[32], h2[32], h[32];
	char t1[CATALOG_TOKEN_LEN + 1], t2[CATALOG_TOKEN_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(catalog_new_token(t1, sizeof(t1), h1), 0);
	assert_int_equal(catalog_new_token(t2, sizeof(t2), h2), 0);
	assert_string_not_equal(t1, t2);
	for (i = 0; i < CATALOG_TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
		    "mnopqrstuvwxyz0123456789-_", t1[i]));
	catalog_hash_token(t1, strlen(t1), h);
	assert_memory_equal(h, h1, 32);
	assert_memory_not_equal(h1, h2, 32);
	assert_int_equal(catalog_new_token(t1, CATALOG_TOKEN_LEN, h), -1);
	assert_int_equal(catalog_role_parse("buyer", 5), ROLE_BUYER);
	assert_int_equal(catalog_role_parse("buyers", 6), ROLE_NONE);
	assert_string_equal(catalog_role_name(ROLE_AUDITOR), "auditor");
}

static void
test_versions(void **state)
{
	struct veil_err err;
	struct catalog *c;
	sqlite3_stmt *st;
	char home[256], token[CATALOG_TOKEN_LEN + 1];

	(void)state;
	new_home(home, sizeof(home), token);
	assert_non_null(c = catalog_open(home, &err));
	assert_int_equal(sqlite3_prepare_v2(catalog_db(c), "PRAGMA "
	    "user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), CATALOG_VERSION);
	sqlite3_finalize(st);
	/* A catalog written by a newer veild is refused, untouched. */
	exec_sql(c, "PRAGMA user_version = 99");
	catalog_close(c);
	assert_null(catalog_open(home, &err));
	assert_non_null(strstr(err.msg, "newer"));

	/* An empty file (version 0) is migrated up to the current one. */
	snprintf(home, sizeof(home), "%s/empty", base);
	assert_int_equal(mkdir(home, 0700), 0);
	assert_non_null(c = catalog_open(home, &err));
	exec_sql(c, "SELECT count(*) FROM job, charge, result, audit");
	catalog_close(c);
}

static int64_t
one_int(struct catalog *c, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(catalog_db(c), sql, -1, &st,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Budgets are read from spend, kept by a trigger: a version-1 catalog's
 * charges are summed into it by the migration, every new charge adds to
 * it in its own transaction (a rolled-back charge adds nothing), and
 * charges cannot be changed or removed behind it.
 */
static void
test_spend(void **state)
{
	struct veil_err err;
	struct catalog *c;
	char home[256], token[CATALOG_TOKEN_LEN + 1];

	(void)state;
	new_home(home, sizeof(home), token);
	assert_non_null(c = catalog_open(home, &err));
	/* Back to version 1, with charges made before spend existed. */
	exec_sql(c, "DROP TRIGGER charge_spend; DROP TRIGGER "
	    "charge_no_update; DROP TRIGGER charge_no_delete; DROP TABLE spend; "
	    "PRAGMA user_version = 1;"
	    "INSERT INTO party VALUES (2, 'p', 'provider', x'02', 0),"
	    " (3, 'b', 'buyer', x'03', 0), (4, 'b2', 'buyer', x'04', 0);"
	    "INSERT INTO dataset (id, name, provider, state, rows, columns, "
	    " digest, schema, policy, mode, eps_total, eps_job, level, key, "
	    " created) VALUES (1, 'd', 2, 'approved', 1, 1, '', '', '', 'dp', "
	    " 100, 10, 1, x'00', 0);"
	    "INSERT INTO job (id, dataset, buyer, source, eps, state, "
	    " submitted) VALUES (1, 1, 3, '', 5, 'done', 0), (2, 1, 3, '', 7, "
	    " 'done', 0), (3, 1, 4, '', 11, 'done', 0), (4, 1, 4, '', 13, "
	    " 'done', 0);"
	    "INSERT INTO charge VALUES (1, 1, 3, 5, 0), (2, 1, 3, 7, 0), "
	    " (3, 1, 4, 11, 0);");
	catalog_close(c);
	assert_non_null(c = catalog_open(home, &err));
	assert_int_equal(one_int(c, "PRAGMA user_version"), CATALOG_VERSION);
	assert_int_equal(one_int(c, "SELECT eps FROM spend WHERE dataset = 1 "
	    "AND buyer = 3"), 12);
	assert_int_equal(one_int(c, "SELECT eps FROM spend WHERE dataset = 1 "
	    "AND buyer = 4"), 11);
	exec_sql(c, "INSERT INTO charge VALUES (4, 1, 4, 13, 0)");
	assert_int_equal(one_int(c, "SELECT eps FROM spend WHERE dataset = 1 "
	    "AND buyer = 4"), 24);
	exec_sql(c, "BEGIN; INSERT INTO job (id, dataset, buyer, source, eps, "
	    "state, submitted) VALUES (5, 1, 3, '', 1, 'done', 0); INSERT INTO "
	    "charge VALUES (5, 1, 3, 1, 0); ROLLBACK");
	assert_int_equal(one_int(c, "SELECT sum(eps) FROM spend WHERE "
	    "dataset = 1"), 36);
	assert_int_not_equal(sqlite3_exec(catalog_db(c), "UPDATE charge SET "
	    "eps = 0 WHERE job = 1", NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(catalog_db(c)), "append-only"));
	assert_int_not_equal(sqlite3_exec(catalog_db(c), "DELETE FROM charge",
	    NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(one_int(c, "SELECT sum(eps) FROM charge"), 36);
	catalog_close(c);
}

/* A shared writers' lock is held exactly from begin to commit/rollback;
 * which commits fsync. */
static void
test_write_lock(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	struct veil_err err;
	uint64_t n;
	struct catalog *c, *c2;
	char home[256], token[CATALOG_TOKEN_LEN + 1];

	(void)state;
	new_home(home, sizeof(home), token);
	assert_non_null(c = catalog_open(home, &err));
	assert_non_null(c2 = catalog_open(home, &err));
	catalog_share_lock(c, &mu);
	catalog_share_lock(c2, &mu);
	assert_int_equal(catalog_begin(c), 0);
	assert_int_equal(pthread_mutex_trylock(&mu), EBUSY);
	assert_int_equal(catalog_commit(c), 0);
	assert_int_equal(pthread_mutex_trylock(&mu), 0);
	pthread_mutex_unlock(&mu);
	assert_int_equal(catalog_begin_nosync(c2), 0);
	assert_int_equal(pthread_mutex_trylock(&mu), EBUSY);
	catalog_rollback(c2);
	assert_int_equal(pthread_mutex_trylock(&mu), 0);
	pthread_mutex_unlock(&mu);
	/* A begin that fails gives the lock back: c2 holds SQLite's lock
	 * without the mutex (as another process would). */
	sqlite3_busy_timeout(catalog_db(c), 0);
	assert_int_equal(sqlite3_exec(catalog_db(c2), "BEGIN IMMEDIATE", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_not_equal(catalog_begin(c), 0);
	assert_int_equal(pthread_mutex_trylock(&mu), 0);
	pthread_mutex_unlock(&mu);
	assert_int_equal(sqlite3_exec(catalog_db(c2), "ROLLBACK", NULL, NULL,
	    NULL), SQLITE_OK);
	/* Durable commits fsync the WAL; nosync ones and rollbacks not. */
	n = catalog_syncs(c);
	assert_int_equal(catalog_begin_nosync(c), 0);
	exec_sql(c, "INSERT INTO party VALUES (9, 'x', 'buyer', x'09', 0)");
	assert_int_equal(catalog_commit(c), 0);
	assert_int_equal(catalog_syncs(c), n);
	assert_int_equal(catalog_begin(c), 0);
	exec_sql(c, "DELETE FROM party WHERE id = 9");
	catalog_rollback(c);
	assert_int_equal(catalog_syncs(c), n);
	assert_int_equal(catalog_begin(c), 0);
	exec_sql(c, "DELETE FROM party WHERE id = 9");
	assert_int_equal(catalog_commit(c), 0);
	assert_int_equal(catalog_syncs(c), n + 1);
	assert_int_equal(one_int(c, "PRAGMA synchronous"), 1);	/* NORMAL */
	catalog_close(c);
	catalog_close(c2);
}

static int64_t
verify(struct catalog *c, int64_t *n)
{
	struct veil_err err;
	int64_t bad = -1;

	assert_int_equal(catalog_audit_verify(c, n, &bad, &err), 0);
	return bad;
}

static void
test_audit_chain(void **state)
{
	struct veil_err err;
	struct catalog *c;
	char home[256], token[CATALOG_TOKEN_LEN + 1], detail[32];
	int64_t n;
	int i;

	(void)state;
	new_home(home, sizeof(home), token);
	assert_non_null(c = catalog_open(home, &err));
	for (i = 0; i < 10; i++) {
		snprintf(detail, sizeof(detail), "job %d", i);
		assert_int_equal(catalog_begin(c), 0);
		assert_int_equal(catalog_audit(c, "acme", "release", "clinic",
		    detail), 0);
		assert_int_equal(catalog_commit(c), 0);
	}
	assert_int_equal(verify(c, &n), 0);
	assert_int_equal(n, 11);	/* init + 10 */

	/* A changed field, anywhere, is found at its record. */
	exec_sql(c, "UPDATE audit SET detail = 'job 99' WHERE seq = 5");
	assert_int_equal(verify(c, &n), 5);
	exec_sql(c, "UPDATE audit SET detail = 'job 3' WHERE seq = 5");
	assert_int_equal(verify(c, &n), 0);
	exec_sql(c, "UPDATE audit SET actor = 'mallory' WHERE seq = 2");
	assert_int_equal(verify(c, &n), 2);
	exec_sql(c, "UPDATE audit SET actor = 'acme' WHERE seq = 2");
	exec_sql(c, "UPDATE audit SET time = time + 1 WHERE seq = 8");
	assert_int_equal(verify(c, &n), 8);
	exec_sql(c, "UPDATE audit SET time = time - 1 WHERE seq = 8");
	assert_int_equal(verify(c, &n), 0);
	/* Fields cannot trade bytes: "ab"+"c" is not "a"+"bc". */
	exec_sql(c, "UPDATE audit SET action = 'releasec', object = 'linic' "
	    "WHERE seq = 6");
	assert_int_equal(verify(c, &n), 6);
	exec_sql(c, "UPDATE audit SET action = 'release', object = 'clinic' "
	    "WHERE seq = 6");
	/* A removed record breaks the chain where it was. */
	exec_sql(c, "DELETE FROM audit WHERE seq = 7");
	assert_int_equal(verify(c, &n), 8);
	catalog_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_spend),
		cmocka_unit_test(test_write_lock),
		cmocka_unit_test(test_audit_chain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
