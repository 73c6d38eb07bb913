/*
 * test_ledger.c: the budget ledger. Exact nano-epsilon arithmetic;
 * charges that would overspend are refused whole; and concurrent
 * processes hammering one SQLite ledger never spend more than it holds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ledger.h"

static char dir[] = "/tmp/veil-test-ledger-XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_decimals(void **state)
{
	int64_t v;
	char buf[32];

	(void)state;
	assert_int_equal(ledger_parse("0.1", &v), 0);
	assert_int_equal(v, 100000000);
	assert_int_equal(ledger_parse("5", &v), 0);
	assert_int_equal(v, 5 * LEDGER_NANO);
	assert_int_equal(ledger_parse("0.000000001", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ledger_parse("0.0000000001", &v), -1);
	assert_int_equal(ledger_parse("-1", &v), -1);
	assert_int_equal(ledger_parse("1e3", &v), -1);
	assert_int_equal(ledger_parse("", &v), -1);
	assert_int_equal(ledger_parse("99999999999999", &v), -1);
	/* ten charges of 0.1 make exactly 1: no floating point drift */
	ledger_format(10 * 100000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1");
	ledger_format(1250000000LL, buf, sizeof(buf));
	assert_string_equal(buf, "1.25");
	ledger_format(1, buf, sizeof(buf));
	assert_string_equal(buf, "0.000000001");
}

static void
test_charges(void **state)
{
	struct ledger *l;
	struct veil_err err;
	char path[256];
	int64_t dl, bl, left;
	int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/a.db", dir);
	assert_non_null(l = ledger_open(path, &err));
	/* data set total 1, buyer sub-budget 0.5 */
	for (i = 0; i < 5; i++)
		assert_int_equal(ledger_charge(l, "ds", "b1", LEDGER_NANO,
		    LEDGER_NANO / 2, LEDGER_NANO / 10, "j", &dl, &bl, &err), 0);
	assert_int_equal(bl, 0);
	assert_int_equal(dl, LEDGER_NANO / 2);
	assert_int_equal(ledger_charge(l, "ds", "b1", LEDGER_NANO,
	    LEDGER_NANO / 2, 1, "j", &dl, &bl, &err), VEIL_E_REFUSED);
	assert_non_null(strstr(err.msg, "buyer 'b1' has 0 of its 0.5"));
	/* another buyer: up to the data set's total, not beyond */
	for (i = 0; i < 5; i++)
		assert_int_equal(ledger_charge(l, "ds", "b2", LEDGER_NANO,
		    LEDGER_NANO, LEDGER_NANO / 10, "j", &dl, &bl, &err), 0);
	assert_int_equal(dl, 0);
	assert_int_equal(ledger_charge(l, "ds", "b2", LEDGER_NANO,
	    LEDGER_NANO, LEDGER_NANO / 10, "j", &dl, &bl, &err),
	    VEIL_E_REFUSED);
	assert_non_null(strstr(err.msg, "data set 'ds' has 0 of its 1"));
	assert_int_equal(ledger_left(l, "ds", LEDGER_ALL, &left, &err), 0);
	assert_int_equal(left, 0);
	assert_int_equal(ledger_left(l, "nope", LEDGER_ALL, &left, &err), 0);
	assert_int_equal(left, -1);
	/* bad charges */
	assert_int_equal(ledger_charge(l, "ds", LEDGER_ALL, 1, 1, 1, "j", &dl,
	    &bl, &err), VEIL_E_INVALID);
	ledger_close(l);
	/* it persists */
	assert_non_null(l = ledger_open(path, &err));
	assert_int_equal(ledger_left(l, "ds", "b1", &left, &err), 0);
	assert_int_equal(left, 0);
	ledger_close(l);
}

#define PROCS	8
#define TRIES	40

static void
test_concurrent(void **state)
{
	struct ledger *l;
	struct veil_err err;
	sqlite3 *db;
	sqlite3_stmt *st;
	char path[256];
	int64_t dl, bl, spent = -1, charges = -1;
	pid_t pids[PROCS];
	int i, k, st_, ok, total_ok = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/c.db", dir);
	/* 8 processes x 40 tries of 0.1 against a total of 10: 100 fit */
	for (i = 0; i < PROCS; i++) {
		if ((pids[i] = fork()) == 0) {
			ok = 0;
			if ((l = ledger_open(path, &err)) == NULL)
				_exit(255);
			for (k = 0; k < TRIES; k++)
				if (ledger_charge(l, "ds", i % 2 ? "x" : "y",
				    10 * LEDGER_NANO, 10 * LEDGER_NANO,
				    LEDGER_NANO / 10, "job", &dl, &bl,
				    &err) == 0)
					ok++;
			ledger_close(l);
			_exit(ok);
		}
		assert_true(pids[i] > 0);
	}
	for (i = 0; i < PROCS; i++) {
		assert_int_equal(waitpid(pids[i], &st_, 0), pids[i]);
		assert_true(WIFEXITED(st_));
		assert_int_not_equal(WEXITSTATUS(st_), 255);
		total_ok += WEXITSTATUS(st_);
	}
	assert_int_equal(total_ok, 100);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT spent FROM "
	    "budget WHERE dataset = 'ds' AND buyer = '*'), (SELECT count(*) "
	    "FROM charge)", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	spent = sqlite3_column_int64(st, 0);
	charges = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(spent, 10 * LEDGER_NANO);
	assert_int_equal(charges, 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decimals),
		cmocka_unit_test(test_charges),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
