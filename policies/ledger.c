/*
 * ledger.c: the budget ledger in SQLite (see ledger.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <sqlite3.h>

#include "ledger.h"

struct ledger {
	sqlite3		*db;
};

static const char schema_sql[] =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE IF NOT EXISTS budget ("
    "  dataset TEXT NOT NULL,"
    "  buyer TEXT NOT NULL,"		/* '*': the data set's total */
    "  total INTEGER NOT NULL CHECK (total >= 0),"
    "  spent INTEGER NOT NULL DEFAULT 0 CHECK (spent >= 0),"
    "  PRIMARY KEY (dataset, buyer));"
    "CREATE TABLE IF NOT EXISTS charge ("
    "  id INTEGER PRIMARY KEY,"
    "  dataset TEXT NOT NULL,"
    "  buyer TEXT NOT NULL,"
    "  job TEXT NOT NULL,"
    "  epsilon INTEGER NOT NULL,"	/* nano-epsilons */
    "  at INTEGER NOT NULL);";

int
ledger_parse(const char *s, int64_t *out)
{
	int64_t whole = 0, frac = 0, scale = LEDGER_NANO;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (INT64_MAX / LEDGER_NANO - 9) / 10)
			return -1;
		whole = whole * 10 + (*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return -1;	/* finer than a nano-epsilon */
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (*p != '\0')
		return -1;
	*out = whole * LEDGER_NANO + frac;
	return 0;
}

void
ledger_format(int64_t nano, char *buf, size_t len)
{
	char frac[16];
	int i;

	snprintf(frac, sizeof(frac), "%09lld",
	    (long long)(llabs(nano) % LEDGER_NANO));
	for (i = 8; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	if (strcmp(frac, "0") == 0)
		snprintf(buf, len, "%s%lld", nano < 0 ? "-" : "",
		    (long long)(llabs(nano) / LEDGER_NANO));
	else
		snprintf(buf, len, "%s%lld.%s", nano < 0 ? "-" : "",
		    (long long)(llabs(nano) / LEDGER_NANO), frac);
}

struct ledger *
ledger_open(const char *path, struct veil_err *err)
{
	struct ledger *l;
	char *msg = NULL;
	int rc, tries;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		veil_seterr(err, VEIL_E_NOMEM, "ledger: out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		veil_seterr(err, VEIL_E_IO, "ledger %s: %s", path,
		    sqlite3_errmsg(l->db));
		ledger_close(l);
		return NULL;
	}
	sqlite3_busy_timeout(l->db, 30000);
	/*
	 * Processes opening a new ledger at once race to switch it to WAL,
	 * and SQLite reports that race as SQLITE_BUSY without calling the
	 * busy handler: retry for as long as the handler would wait.
	 */
	for (tries = 0; (rc = sqlite3_exec(l->db, schema_sql, NULL, NULL,
	    &msg)) == SQLITE_BUSY && tries < 3000; tries++) {
		sqlite3_free(msg);
		msg = NULL;
		usleep(10000);
	}
	if (rc != SQLITE_OK) {
		veil_seterr(err, VEIL_E_IO, "ledger %s: %s", path,
		    msg != NULL ? msg : "cannot create tables");
		sqlite3_free(msg);
		ledger_close(l);
		return NULL;
	}
	return l;
}

void
ledger_close(struct ledger *l)
{
	if (l == NULL)
		return;
	sqlite3_close(l->db);
	free(l);
}

static int
exec1(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Creates the row if new; reads total and spent. */
static int
row(sqlite3 *db, const char *ds, const char *buyer, int64_t total,
    int64_t *tp, int64_t *sp)
{
	sqlite3_stmt *st = NULL;
	int rv = -1;

	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO budget (dataset, "
	    "buyer, total) VALUES (?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, ds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buyer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, total);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT total, spent FROM budget WHERE "
	    "dataset = ? AND buyer = ?", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, ds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buyer, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out;
	*tp = sqlite3_column_int64(st, 0);
	*sp = sqlite3_column_int64(st, 1);
	rv = 0;
 out:
	sqlite3_finalize(st);
	return rv;
}

static int
spend(sqlite3 *db, const char *ds, const char *buyer, int64_t eps)
{
	sqlite3_stmt *st = NULL;
	int rv = -1;

	if (sqlite3_prepare_v2(db, "UPDATE budget SET spent = spent + ? "
	    "WHERE dataset = ? AND buyer = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, eps);
	sqlite3_bind_text(st, 2, ds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, buyer, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1)
		rv = 0;
	sqlite3_finalize(st);
	return rv;
}

int
ledger_charge(struct ledger *l, const char *ds, const char *buyer,
    int64_t ds_total, int64_t buyer_total, int64_t eps, const char *job,
    int64_t *ds_left, int64_t *buyer_left, struct veil_err *err)
{
	sqlite3_stmt *st = NULL;
	int64_t dt, dsp, bt, bsp;
	char a[32], b[32], c[32];
	int rv = VEIL_E_IO;

	if (eps < 0 || strcmp(buyer, LEDGER_ALL) == 0)
		return veil_seterr(err, VEIL_E_INVALID, "ledger: bad charge");
	/* IMMEDIATE: the write lock first, so that check and spend are one */
	if (exec1(l->db, "BEGIN IMMEDIATE") != 0)
		return veil_seterr(err, VEIL_E_IO, "ledger: %s",
		    sqlite3_errmsg(l->db));
	if (row(l->db, ds, LEDGER_ALL, ds_total, &dt, &dsp) != 0 ||
	    row(l->db, ds, buyer, buyer_total, &bt, &bsp) != 0)
		goto fail;
	if (dsp + eps > dt || bsp + eps > bt) {
		ledger_format(eps, a, sizeof(a));
		if (dsp + eps > dt) {
			ledger_format(dt - dsp, b, sizeof(b));
			ledger_format(dt, c, sizeof(c));
			veil_seterr(err, VEIL_E_REFUSED, "budget exhausted: data "
			    "set '%s' has %s of its %s epsilon left, the job "
			    "needs %s", ds, b, c, a);
		} else {
			ledger_format(bt - bsp, b, sizeof(b));
			ledger_format(bt, c, sizeof(c));
			veil_seterr(err, VEIL_E_REFUSED, "budget exhausted: buyer "
			    "'%s' has %s of its %s epsilon on '%s' left, the job "
			    "needs %s", buyer, b, c, ds, a);
		}
		(void)exec1(l->db, "ROLLBACK");
		return VEIL_E_REFUSED;
	}
	if (spend(l->db, ds, LEDGER_ALL, eps) != 0 ||
	    spend(l->db, ds, buyer, eps) != 0)
		goto fail;
	if (sqlite3_prepare_v2(l->db, "INSERT INTO charge (dataset, buyer, "
	    "job, epsilon, at) VALUES (?, ?, ?, ?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, ds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buyer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, job, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, eps);
	sqlite3_bind_int64(st, 5, (int64_t)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if (exec1(l->db, "COMMIT") != 0)
		goto fail;
	*ds_left = dt - dsp - eps;
	*buyer_left = bt - bsp - eps;
	return 0;
 fail:
	veil_seterr(err, rv, "ledger: %s", sqlite3_errmsg(l->db));
	sqlite3_finalize(st);
	(void)exec1(l->db, "ROLLBACK");
	return rv;
}

int
ledger_left(struct ledger *l, const char *ds, const char *buyer,
    int64_t *left, struct veil_err *err)
{
	sqlite3_stmt *st = NULL;
	int rv = VEIL_E_IO;

	*left = -1;
	if (sqlite3_prepare_v2(l->db, "SELECT total - spent FROM budget WHERE "
	    "dataset = ? AND buyer = ?", -1, &st, NULL) != SQLITE_OK)
		return veil_seterr(err, rv, "ledger: %s", sqlite3_errmsg(l->db));
	sqlite3_bind_text(st, 1, ds, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buyer, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*left = sqlite3_column_int64(st, 0);
		/* FALLTHROUGH */
	case SQLITE_DONE:
		rv = 0;
		break;
	default:
		veil_seterr(err, rv, "ledger: %s", sqlite3_errmsg(l->db));
	}
	sqlite3_finalize(st);
	return rv;
}
