/*
 * test_hierarchy.c: generalization hierarchies (hierarchy.c): the
 * interval, mask and date constructors and their accessors, table
 * hierarchies built row by row and read from CSV files (tests/data and
 * the Adult hierarchies in ../shared/data/adult), lookup and cell bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hierarchy.h"

#define WHAT	"t.lua: column 4 (age)"

/* Fails unless msg contains every one of the (NULL-ended) texts. */
static void
expect_msg(const struct veil_err *err, int code, ...)
{
	const char *want;
	va_list ap;

	assert_int_equal(err->code, code);
	va_start(ap, code);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (strstr(err->msg, want) == NULL) {
			va_end(ap);
			fail_msg("error \"%s\" does not mention \"%s\"",
			    err->msg, want);
		}
	va_end(ap);
}

/* What every hierarchy that is not a table answers about tables. */
static void
check_not_table(const struct hierarchy *h)
{
	size_t len = 99;

	assert_int_equal(hierarchy_nleaves(h), 0);
	assert_int_equal(hierarchy_find(h, "1", 1), -1);
	assert_null(hierarchy_cell(h, 0, 0, &len));
	assert_int_equal(len, 0);
}

/* {====== interval, mask, date */

static void
test_interval(void **state)
{
	static const double ok[] = { 5, 10, 20 }, frac[] = { 0.25, 0.5, 1.5 };
	static const struct {
		double		 w[3];
		size_t		 n;
		int		 integral;
		const char	*want;
	} bad[] = {
		{ { 0 }, 0, 1, "hierarchy: expected 1 to 30 levels, got 0" },
		{ { 0, 5 }, 2, 1, "hierarchy.interval[1]: expected a positive "
		    "integer, got 0" },
		{ { -5, 5 }, 2, 0, "hierarchy.interval[1]: expected a positive "
		    "number, got -5" },
		{ { 5, 2.5 }, 2, 1, "hierarchy.interval[2]: expected a positive "
		    "integer, got 2.5" },
		{ { 1e16 }, 1, 0, "hierarchy.interval[1]: expected a positive "
		    "number, got 1e+16" },
		{ { NAN }, 1, 0, "hierarchy.interval[1]: expected a positive" },
		{ { INFINITY }, 1, 0, "hierarchy.interval[1]: expected a "
		    "positive" },
		{ { 10, 5 }, 2, 1, "hierarchy.interval[2]: width 5 must be a "
		    "larger multiple of the width below (10)" },
		{ { 5, 5 }, 2, 1, "hierarchy.interval[2]: width 5 must be" },
		{ { 5, 10, 25 }, 3, 1, "hierarchy.interval[3]: width 25 must "
		    "be" },
		{ { 0.5, 1.25 }, 2, 0, "hierarchy.interval[2]: width 1.25 "
		    "must be" },
	};
	struct hierarchy *h;
	struct veil_err err;
	const double *w;
	double many[HIER_MAX_LEVELS];
	size_t i, n;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_new_interval(ok, 3, 1, WHAT, &err));
	assert_int_equal(hierarchy_kind(h), HIER_INTERVAL);
	assert_int_equal(hierarchy_nlevels(h), 5);
	assert_non_null(w = hierarchy_widths(h, &n));
	assert_int_equal(n, 3);
	assert_true(w[0] == 5 && w[1] == 10 && w[2] == 20);
	assert_true(w != ok);		/* a copy */
	hierarchy_masks(h, &n);
	assert_int_equal(n, 0);
	hierarchy_dates(h, &n);
	assert_int_equal(n, 0);
	check_not_table(h);
	hierarchy_free(h);

	assert_non_null(h = hierarchy_new_interval(frac, 3, 0, WHAT, &err));
	assert_int_equal(hierarchy_nlevels(h), 5);
	hierarchy_free(h);
	assert_null(hierarchy_new_interval(frac, 3, 1, WHAT, &err));
	expect_msg(&err, VEIL_E_SCHEMA, WHAT ": hierarchy.interval[1]: "
	    "expected a positive integer, got 0.25", NULL);

	/* the most levels there may be, and one more */
	for (i = 0; i < HIER_MAX_LEVELS; i++)
		many[i] = ldexp(1, (int)i);
	assert_non_null(h = hierarchy_new_interval(many, HIER_MAX_LEVELS - 2,
	    1, WHAT, &err));
	assert_int_equal(hierarchy_nlevels(h), HIER_MAX_LEVELS);
	hierarchy_free(h);
	veil_err_clear(&err);
	assert_null(hierarchy_new_interval(many, HIER_MAX_LEVELS - 1, 1,
	    WHAT, &err));
	expect_msg(&err, VEIL_E_SCHEMA, WHAT ": hierarchy: expected 1 to 30 "
	    "levels, got 31", NULL);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		veil_err_clear(&err);
		if (hierarchy_new_interval(bad[i].w, bad[i].n,
		    bad[i].integral, WHAT, &err) != NULL)
			fail_msg("case %zu accepted", i);
		expect_msg(&err, VEIL_E_SCHEMA, WHAT ": ", bad[i].want, NULL);
	}
	/* err may be NULL */
	assert_null(hierarchy_new_interval(ok, 0, 1, WHAT, NULL));
}

static void
test_mask(void **state)
{
	static const int64_t ok[] = { 1, 2, 3, 5 };
	static const struct {
		int64_t		 m[3];
		size_t		 n;
		const char	*want;
	} bad[] = {
		{ { 1 }, 0, "hierarchy: expected 1 to 30 levels, got 0" },
		{ { 0 }, 1, "hierarchy.mask[1]: expected increasing character "
		    "counts from 1 to 1024, got 0" },
		{ { -3 }, 1, "hierarchy.mask[1]: expected increasing" },
		{ { 1, 1025 }, 2, "hierarchy.mask[2]: expected increasing "
		    "character counts from 1 to 1024, got 1025" },
		{ { 2, 2 }, 2, "hierarchy.mask[2]: expected increasing" },
		{ { 1, 3, 2 }, 3, "hierarchy.mask[3]: expected increasing "
		    "character counts from 1 to 1024, got 2" },
	};
	static const int64_t top[] = { 1, 1024 };
	struct hierarchy *h;
	struct veil_err err;
	const int64_t *m;
	size_t i, n;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_new_mask(ok, 4, WHAT, &err));
	assert_int_equal(hierarchy_kind(h), HIER_MASK);
	assert_int_equal(hierarchy_nlevels(h), 6);
	assert_non_null(m = hierarchy_masks(h, &n));
	assert_int_equal(n, 4);
	assert_memory_equal(m, ok, sizeof(ok));
	hierarchy_widths(h, &n);
	assert_int_equal(n, 0);
	hierarchy_dates(h, &n);
	assert_int_equal(n, 0);
	check_not_table(h);
	hierarchy_free(h);
	assert_non_null(h = hierarchy_new_mask(top, 2, WHAT, &err));
	hierarchy_free(h);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		veil_err_clear(&err);
		if (hierarchy_new_mask(bad[i].m, bad[i].n, WHAT, &err) != NULL)
			fail_msg("case %zu accepted", i);
		expect_msg(&err, VEIL_E_SCHEMA, WHAT ": ", bad[i].want, NULL);
	}
}

static void
test_date(void **state)
{
	static const enum hier_date my[] = { HIER_D_MONTH, HIER_D_YEAR },
	    all[] = { HIER_D_MONTH, HIER_D_QUARTER, HIER_D_YEAR,
	    HIER_D_DECADE };
	static const struct {
		enum hier_date	 d[3];
		size_t		 n;
		const char	*want;
	} bad[] = {
		{ { HIER_D_MONTH }, 0, "hierarchy: expected 1 to 30 levels, "
		    "got 0" },
		{ { HIER_D_YEAR, HIER_D_MONTH }, 2, "hierarchy[2]: expected "
		    "date levels in coarsening order among month, quarter, "
		    "year, decade" },
		{ { HIER_D_QUARTER, HIER_D_QUARTER }, 2, "hierarchy[2]: "
		    "expected date levels" },
		{ { 0 }, 1, "hierarchy[1]: expected date levels" },
		{ { HIER_D_MONTH, (enum hier_date)5 }, 2, "hierarchy[2]: "
		    "expected date levels" },
	};
	struct hierarchy *h;
	struct veil_err err;
	const enum hier_date *d;
	size_t i, n;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_new_date(my, 2, WHAT, &err));
	assert_int_equal(hierarchy_kind(h), HIER_DATE);
	assert_int_equal(hierarchy_nlevels(h), 4);
	assert_non_null(d = hierarchy_dates(h, &n));
	assert_int_equal(n, 2);
	assert_int_equal(d[0], HIER_D_MONTH);
	assert_int_equal(d[1], HIER_D_YEAR);
	hierarchy_widths(h, &n);
	assert_int_equal(n, 0);
	hierarchy_masks(h, &n);
	assert_int_equal(n, 0);
	check_not_table(h);
	hierarchy_free(h);
	assert_non_null(h = hierarchy_new_date(all, 4, WHAT, &err));
	assert_int_equal(hierarchy_nlevels(h), 6);
	hierarchy_free(h);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		veil_err_clear(&err);
		if (hierarchy_new_date(bad[i].d, bad[i].n, WHAT, &err) != NULL)
			fail_msg("case %zu accepted", i);
		expect_msg(&err, VEIL_E_SCHEMA, WHAT ": ", bad[i].want, NULL);
	}
}

static void
test_date_names(void **state)
{
	(void)state;
	assert_int_equal(hierarchy_date_level("month"), HIER_D_MONTH);
	assert_int_equal(hierarchy_date_level("quarter"), HIER_D_QUARTER);
	assert_int_equal(hierarchy_date_level("year"), HIER_D_YEAR);
	assert_int_equal(hierarchy_date_level("decade"), HIER_D_DECADE);
	assert_int_equal(hierarchy_date_level("week"), 0);
	assert_int_equal(hierarchy_date_level("Month"), 0);
	assert_int_equal(hierarchy_date_level("month "), 0);
	assert_int_equal(hierarchy_date_level(""), 0);
	assert_string_equal(hierarchy_date_name(HIER_D_MONTH), "month");
	assert_string_equal(hierarchy_date_name(HIER_D_QUARTER), "quarter");
	assert_string_equal(hierarchy_date_name(HIER_D_YEAR), "year");
	assert_string_equal(hierarchy_date_name(HIER_D_DECADE), "decade");
	assert_string_equal(hierarchy_date_name((enum hier_date)0), "?");
	assert_string_equal(hierarchy_date_name((enum hier_date)5), "?");
	hierarchy_free(NULL);
}

/* }====== */

/* {====== tables */

/* Adds a row given as one string, cells separated by ';'. */
static int
add_row(struct hierarchy *h, const char *row, uint64_t line,
    struct veil_err *err)
{
	const char *cells[HIER_MAX_LEVELS + 2];
	size_t lens[HIER_MAX_LEVELS + 2], n = 0;
	const char *p = row, *e;

	for (;;) {
		assert_true(n < HIER_MAX_LEVELS + 2);
		e = strchr(p, ';');
		cells[n] = p;
		lens[n++] = e != NULL ? (size_t)(e - p) : strlen(p);
		if (e == NULL)
			break;
		p = e + 1;
	}
	return hierarchy_table_add(h, cells, lens, n, "rows", line, err);
}

/* Builds a table from rows; returns it finished, or NULL with err set. */
static struct hierarchy *
build(const char *const *rows, size_t n, struct veil_err *err)
{
	struct hierarchy *h;
	size_t i;

	assert_non_null(h = hierarchy_table_new());
	for (i = 0; i < n; i++)
		if (add_row(h, rows[i], i + 1, err) != 0) {
			hierarchy_free(h);
			return NULL;
		}
	if (hierarchy_table_finish(h, "rows", err) != 0) {
		hierarchy_free(h);
		return NULL;
	}
	return h;
}

static void
expect_cell(const struct hierarchy *h, size_t row, int level,
    const char *want)
{
	const char *p;
	size_t len;

	if ((p = hierarchy_cell(h, row, level, &len)) == NULL)
		fail_msg("no cell at row %zu level %d", row, level);
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		fail_msg("row %zu level %d is \"%.*s\", want \"%s\"", row,
		    level, (int)len, p, want);
}

static void
test_table(void **state)
{
	static const char *const rows[] = {
		"a;ab;*", "b;ab;*", "c;cd;*", "d;cd;*", "ab;x;*",
	};
	struct hierarchy *h;
	struct veil_err err;
	size_t len, n;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = build(rows, 5, &err));
	assert_int_equal(hierarchy_kind(h), HIER_TABLE);
	assert_int_equal(hierarchy_nlevels(h), 3);
	assert_int_equal(hierarchy_nleaves(h), 5);
	hierarchy_widths(h, &n);
	assert_int_equal(n, 0);
	hierarchy_masks(h, &n);
	assert_int_equal(n, 0);
	hierarchy_dates(h, &n);
	assert_int_equal(n, 0);

	assert_int_equal(hierarchy_find(h, "a", 1), 0);
	assert_int_equal(hierarchy_find(h, "d", 1), 3);
	/* "ab" is a leaf (row 5) as well as a level-1 value */
	assert_int_equal(hierarchy_find(h, "ab", 2), 4);
	assert_int_equal(hierarchy_find(h, "abc", 2), 4);	/* len counts */
	assert_int_equal(hierarchy_find(h, "cd", 2), -1);	/* level 1 */
	assert_int_equal(hierarchy_find(h, "e", 1), -1);
	assert_int_equal(hierarchy_find(h, "", 0), -1);
	assert_int_equal(hierarchy_find(h, "*", 1), -1);

	expect_cell(h, 0, 0, "a");
	expect_cell(h, 2, 1, "cd");
	expect_cell(h, 4, 1, "x");
	expect_cell(h, 4, 2, "*");
	/* out of range rows and levels */
	len = 7;
	assert_null(hierarchy_cell(h, 5, 0, &len));
	assert_int_equal(len, 0);
	len = 7;
	assert_null(hierarchy_cell(h, 0, 3, &len));
	assert_int_equal(len, 0);
	len = 7;
	assert_null(hierarchy_cell(h, 0, -1, &len));
	assert_int_equal(len, 0);
	assert_null(hierarchy_cell(h, SIZE_MAX, 0, &len));
	assert_null(hierarchy_cell(h, 0, HIER_MAX_LEVELS, &len));
	hierarchy_free(h);
}

/* A leaf and its root alone: the smallest table there is. */
static void
test_table_two_levels(void **state)
{
	static const char *const rows[] = { "only;*" };
	struct hierarchy *h;
	struct veil_err err;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = build(rows, 1, &err));
	assert_int_equal(hierarchy_nlevels(h), 2);
	assert_int_equal(hierarchy_nleaves(h), 1);
	assert_int_equal(hierarchy_find(h, "only", 4), 0);
	expect_cell(h, 0, 1, "*");
	hierarchy_free(h);
}

/* Before finish, nothing can be looked up. */
static void
test_table_unfinished(void **state)
{
	struct hierarchy *h;
	struct veil_err err;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_table_new());
	assert_int_equal(hierarchy_nleaves(h), 0);
	assert_int_equal(add_row(h, "a;*", 1, &err), 0);
	assert_int_equal(hierarchy_nleaves(h), 1);
	assert_int_equal(hierarchy_find(h, "a", 1), -1);
	assert_int_equal(hierarchy_table_finish(h, "rows", &err), 0);
	assert_int_equal(hierarchy_find(h, "a", 1), 0);
	hierarchy_free(h);

	assert_non_null(h = hierarchy_table_new());
	assert_int_equal(hierarchy_table_finish(h, "empty.csv", &err),
	    VEIL_E_SCHEMA);
	expect_msg(&err, VEIL_E_SCHEMA, "empty.csv: hierarchy is empty", NULL);
	hierarchy_free(h);
}

static void
test_table_errors(void **state)
{
	static const struct {
		const char	*rows[4];
		size_t		 n;
		const char	*want[2];
	} cases[] = {
		/* not a tree: x goes to p and to q */
		{ { "a;x;p;*", "b;x;q;*" }, 2, { "rows: level 1 value \"x\" "
		    "generalizes to two different values at level 2 (rows 1 "
		    "and 2): not a tree" } },
		{ { "a;x;p;*", "b;y;p;*", "c;y;q;*" }, 3, { "level 1 value "
		    "\"y\"", "(rows 2 and 3)" } },
		{ { "a;m;*", "b;n;*", "c;m;*", "d;n;ALL" }, 4,
		    { "rows: level 1 value \"n\" generalizes", "not a tree" } },
		/* more than one root */
		{ { "a;*", "b;ALL" }, 2, { "rows: rows 1 and 2 end in "
		    "different roots; the last level must be a single value" } },
		{ { "a;x;*", "b;x;*", "c;y;ALL" }, 3, { "rows 1 and 3 end in "
		    "different roots" } },
		/* duplicate leaves */
		{ { "a;*", "b;*", "a;*" }, 3, { "rows: value \"a\" appears on "
		    "rows 1 and 3" } },
		{ { "a;x;*", "a;y;*" }, 2, { "value \"a\" appears on rows 1 "
		    "and 2" } },
		/* ragged rows, bad first rows, bad cells */
		{ { "a;x;*", "b;*" }, 2, { "rows:2: 2 levels, the first line "
		    "has 3" } },
		{ { "a;*", "b;x;*" }, 2, { "rows:2: 3 levels, the first line "
		    "has 2" } },
		{ { "a" }, 1, { "rows:1: a hierarchy line needs 2 to 32 values "
		    "(the original, then each level up to the root), got 1" } },
		{ { "a;;*" }, 1, { "rows:1: value 2 is empty, too long or not "
		    "UTF-8" } },
		{ { ";*" }, 1, { "rows:1: value 1 is empty" } },
		{ { "a;*", "\xff;*" }, 2, { "rows:2: value 1 is empty, too "
		    "long or not UTF-8" } },
		{ { "a;*", "b;\xc3" }, 2, { "rows:2: value 2 is empty" } },
	};
	struct hierarchy *h;
	struct veil_err err;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		veil_err_clear(&err);
		if ((h = build(cases[i].rows, cases[i].n, &err)) != NULL) {
			hierarchy_free(h);
			fail_msg("case %zu accepted", i);
		}
		assert_int_equal(err.code, VEIL_E_SCHEMA);
		for (j = 0; j < 2 && cases[i].want[j] != NULL; j++)
			if (strstr(err.msg, cases[i].want[j]) == NULL)
				fail_msg("case %zu: \"%s\" does not mention "
				    "\"%s\"", i, err.msg, cases[i].want[j]);
	}
}

/* Width limits of a row: cell length and the number of levels. */
static void
test_table_limits(void **state)
{
	const char *cells[HIER_MAX_LEVELS + 1];
	size_t lens[HIER_MAX_LEVELS + 1], i;
	struct hierarchy *h;
	struct veil_err err;
	char *big;

	(void)state;
	assert_non_null(big = malloc(4097));
	memset(big, 'v', 4097);
	for (i = 0; i <= HIER_MAX_LEVELS; i++) {
		cells[i] = "*";
		lens[i] = 1;
	}

	/* 4096 bytes is the longest value */
	assert_non_null(h = hierarchy_table_new());
	cells[0] = big;
	lens[0] = 4096;
	veil_err_clear(&err);
	assert_int_equal(hierarchy_table_add(h, cells, lens, 2, "w", 1, &err),
	    0);
	lens[0] = 4097;
	assert_int_equal(hierarchy_table_add(h, cells, lens, 2, "w", 2, &err),
	    VEIL_E_SCHEMA);
	expect_msg(&err, VEIL_E_SCHEMA, "w:2: value 1 is empty, too long",
	    NULL);
	assert_int_equal(hierarchy_table_finish(h, "w", &err), 0);
	assert_int_equal(hierarchy_find(h, big, 4096), 0);
	assert_int_equal(hierarchy_find(h, big, 4095), -1);
	hierarchy_free(h);

	/* 32 levels is the most; 33 is refused */
	assert_non_null(h = hierarchy_table_new());
	cells[0] = "leaf";
	lens[0] = 4;
	assert_int_equal(hierarchy_table_add(h, cells, lens, HIER_MAX_LEVELS,
	    "w", 1, &err), 0);
	assert_int_equal(hierarchy_table_finish(h, "w", &err), 0);
	assert_int_equal(hierarchy_nlevels(h), HIER_MAX_LEVELS);
	hierarchy_free(h);
	assert_non_null(h = hierarchy_table_new());
	veil_err_clear(&err);
	assert_int_equal(hierarchy_table_add(h, cells, lens,
	    HIER_MAX_LEVELS + 1, "w", 7, &err), VEIL_E_SCHEMA);
	expect_msg(&err, VEIL_E_SCHEMA, "w:7: a hierarchy line needs 2 to 32 "
	    "values", "got 33", NULL);
	hierarchy_free(h);
	free(big);
}

/* HIER_MAX_LEAVES rows are taken; one more is refused. */
static void
test_table_too_many(void **state)
{
	const char *cells[2] = { "v", "*" };
	size_t lens[2] = { 1, 1 }, i;
	struct hierarchy *h;
	struct veil_err err;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_table_new());
	for (i = 0; i < HIER_MAX_LEAVES; i++)
		if (hierarchy_table_add(h, cells, lens, 2, "many", i + 1,
		    &err) != 0)
			fail_msg("row %zu: %s", i + 1, err.msg);
	assert_int_equal(hierarchy_nleaves(h), HIER_MAX_LEAVES);
	assert_int_equal(hierarchy_table_add(h, cells, lens, 2, "many",
	    HIER_MAX_LEAVES + 1, &err), VEIL_E_LIMIT);
	expect_msg(&err, VEIL_E_LIMIT, "many:1000001: more than 1000000 "
	    "values", NULL);
	assert_int_equal(hierarchy_nleaves(h), HIER_MAX_LEAVES);
	hierarchy_free(h);
}

/* Enough rows to grow the arena, the cells and the hash table. */
static void
test_table_large(void **state)
{
	char leaf[32], mid[32];
	const char *cells[3];
	size_t lens[3], i, len;
	struct hierarchy *h;
	struct veil_err err;
	const char *p;
	long row;

	(void)state;
	veil_err_clear(&err);
	assert_non_null(h = hierarchy_table_new());
	for (i = 0; i < 5000; i++) {
		snprintf(leaf, sizeof(leaf), "value-%zu", i);
		snprintf(mid, sizeof(mid), "group-%zu", i / 10);
		cells[0] = leaf;
		cells[1] = mid;
		cells[2] = "*";
		lens[0] = strlen(leaf);
		lens[1] = strlen(mid);
		lens[2] = 1;
		assert_int_equal(hierarchy_table_add(h, cells, lens, 3, "big",
		    i + 1, &err), 0);
	}
	assert_int_equal(hierarchy_table_finish(h, "big", &err), 0);
	assert_int_equal(hierarchy_nleaves(h), 5000);
	for (i = 0; i < 5000; i++) {
		snprintf(leaf, sizeof(leaf), "value-%zu", i);
		row = hierarchy_find(h, leaf, strlen(leaf));
		assert_int_equal(row, (long)i);
		snprintf(mid, sizeof(mid), "group-%zu", i / 10);
		assert_non_null(p = hierarchy_cell(h, i, 1, &len));
		assert_int_equal(len, strlen(mid));
		assert_memory_equal(p, mid, len);
	}
	assert_int_equal(hierarchy_find(h, "value-5000", 10), -1);
	assert_int_equal(hierarchy_find(h, "group-1", 7), -1);
	hierarchy_free(h);
}

/* }====== */

/* {====== CSV files */

static void
test_csv_files(void **state)
{
	struct hierarchy *h;
	struct veil_err err;

	(void)state;
	veil_err_clear(&err);
	if ((h = hierarchy_load_csv("tests/data/hier_semicolon.csv",
	    &err)) == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(hierarchy_kind(h), HIER_TABLE);
	assert_int_equal(hierarchy_nlevels(h), 3);
	assert_int_equal(hierarchy_nleaves(h), 3);
	assert_int_equal(hierarchy_find(h, "c", 1), 2);
	expect_cell(h, 2, 1, "y");
	expect_cell(h, 0, 2, "*");
	hierarchy_free(h);

	/* comma, CRLF: no '\r' may stay in the last cell */
	if ((h = hierarchy_load_csv("tests/data/hier_comma_crlf.csv",
	    &err)) == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(hierarchy_nlevels(h), 3);
	assert_int_equal(hierarchy_nleaves(h), 4);
	assert_int_equal(hierarchy_find(h, "4", 1), 3);
	expect_cell(h, 3, 1, "3-4");
	expect_cell(h, 0, 2, "*");
	expect_cell(h, 3, 2, "*");
	hierarchy_free(h);

	if ((h = hierarchy_load_csv("tests/data/hier_tab.csv", &err)) == NULL)
		fail_msg("%s", err.msg);
	assert_int_equal(hierarchy_nleaves(h), 2);
	assert_int_equal(hierarchy_find(h, "blue", 4), 1);
	expect_cell(h, 1, 1, "cold");
	hierarchy_free(h);
}

static void
test_csv_errors(void **state)
{
	static const struct {
		const char	*path;
		int		 code;
		const char	*want;
	} cases[] = {
		{ "tests/data/hier_none.csv", VEIL_E_IO,
		    "tests/data/hier_none.csv: cannot open hierarchy file" },
		{ "tests/data/hier_bad_quote.csv", VEIL_E_PARSE,
		    "tests/data/hier_bad_quote.csv:1: field 2: quoted field "
		    "never closed" },
		{ "tests/data/hier_ragged.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_ragged.csv:2: 2 levels, the first line "
		    "has 3" },
		{ "tests/data/hier_not_tree.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_not_tree.csv: level 1 value \"x\" "
		    "generalizes to two different values at level 2" },
		{ "tests/data/hier_two_roots.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_two_roots.csv: rows 1 and 2 end in "
		    "different roots" },
		{ "tests/data/hier_dup_leaf.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_dup_leaf.csv: value \"a\" appears on rows "
		    "1 and 3" },
		{ "tests/data/hier_empty.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_empty.csv: hierarchy is empty" },
		{ "tests/data/hier_empty_cell.csv", VEIL_E_SCHEMA,
		    "tests/data/hier_empty_cell.csv:1: value 2 is empty" },
		{ "tests/data", VEIL_E_IO, "tests/data: read: " },
	};
	struct hierarchy *h;
	struct veil_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		veil_err_clear(&err);
		if ((h = hierarchy_load_csv(cases[i].path, &err)) != NULL) {
			hierarchy_free(h);
			fail_msg("%s accepted", cases[i].path);
		}
		if (err.code != cases[i].code ||
		    strstr(err.msg, cases[i].want) == NULL)
			fail_msg("%s: got %d \"%s\", want %d \"%s\"",
			    cases[i].path, err.code, err.msg, cases[i].code,
			    cases[i].want);
		/* and with no err at all */
		assert_null(hierarchy_load_csv(cases[i].path, NULL));
	}
}

/*
 * The Adult hierarchies: the level counts of their README ("age 0-4,
 * education 0-3, marital-status, native-country, occupation, workclass
 * 0-2, race, sex, salary-class 0-1"), every leaf found on its own row,
 * every row ending in "*".
 */
static void
test_adult(void **state)
{
	static const struct {
		const char	*name;
		int		 nlevels;
		size_t		 nleaves;	/* 0: not checked */
	} files[] = {
		{ "age", 5, 0 },
		{ "education", 4, 0 },
		{ "marital-status", 3, 7 },
		{ "native-country", 3, 0 },
		{ "occupation", 3, 14 },
		{ "workclass", 3, 8 },
		{ "race", 2, 5 },
		{ "sex", 2, 2 },
		{ "salary-class", 2, 2 },
	};
	char path[256];
	struct hierarchy *h;
	struct veil_err err;
	const char *p;
	size_t i, row, len;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "../shared/data/adult/"
		    "adult_hierarchy_%s.csv", files[i].name);
		veil_err_clear(&err);
		if ((h = hierarchy_load_csv(path, &err)) == NULL)
			fail_msg("%s", err.msg);
		if (hierarchy_nlevels(h) != files[i].nlevels)
			fail_msg("%s: %d levels, want %d", path,
			    hierarchy_nlevels(h), files[i].nlevels);
		assert_true(hierarchy_nleaves(h) > 0);
		if (files[i].nleaves != 0)
			assert_int_equal(hierarchy_nleaves(h),
			    files[i].nleaves);
		for (row = 0; row < hierarchy_nleaves(h); row++) {
			assert_non_null(p = hierarchy_cell(h, row, 0, &len));
			assert_int_equal(hierarchy_find(h, p, len),
			    (long)row);
			expect_cell(h, row, files[i].nlevels - 1, "*");
			assert_null(hierarchy_cell(h, row, files[i].nlevels,
			    &len));
		}
		hierarchy_free(h);
	}

	/* two known lines */
	veil_err_clear(&err);
	if ((h = hierarchy_load_csv("../shared/data/adult/"
	    "adult_hierarchy_age.csv", &err)) == NULL)
		fail_msg("%s", err.msg);
	assert_true(hierarchy_find(h, "39", 2) >= 0);
	row = (size_t)hierarchy_find(h, "39", 2);
	expect_cell(h, row, 1, "35-39");
	expect_cell(h, row, 2, "30-39");
	expect_cell(h, row, 3, "20-39");
	assert_int_equal(hierarchy_find(h, "3", 1) >= 0, 1);
	assert_int_equal(hierarchy_find(h, "35-39", 5), -1);
	hierarchy_free(h);
	if ((h = hierarchy_load_csv("../shared/data/adult/"
	    "adult_hierarchy_education.csv", &err)) == NULL)
		fail_msg("%s", err.msg);
	row = (size_t)hierarchy_find(h, "Bachelors", 9);
	expect_cell(h, row, 1, "Undergraduate");
	expect_cell(h, row, 2, "Higher education");
	hierarchy_free(h);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_date),
		cmocka_unit_test(test_date_names),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_two_levels),
		cmocka_unit_test(test_table_unfinished),
		cmocka_unit_test(test_table_errors),
		cmocka_unit_test(test_table_limits),
		cmocka_unit_test(test_table_large),
		cmocka_unit_test(test_table_too_many),
		cmocka_unit_test(test_csv_files),
		cmocka_unit_test(test_csv_errors),
		cmocka_unit_test(test_adult),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
