/*
 * test_mock.c: `veil mock` end to end, as a data buyer runs it. Its output
 * for the example schemas must load back through `veil inspect`, be the
 * same bytes for the same seed, keep every value inside the schema's
 * declared types, ranges, values and hierarchies (checked here value by
 * value against the loaded schema), give privacy units several
 * consecutive rows, and leave required columns filled. Usage and write
 * errors must give their exit codes and one line on standard error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "datefmt.h"
#include "hierarchy.h"
#include "ingest.h"
#include "schema.h"

#define MAXCOLS		32

static char tmpdir[] = "/tmp/veil-test-mock-XXXXXX";

/* What check_csv saw. */
struct seen {
	uint64_t	rows;
	uint64_t	nulls[MAXCOLS];
	uint64_t	units;		/* distinct privacy units */
	uint64_t	max_run;	/* most consecutive rows of one unit */
};

/*
 * Runs "veil ARGS" with standard output and error in tmpdir/stdout and
 * tmpdir/stderr; returns its exit status.
 */
static int
veil(const char *fmt, ...)
{
	char args[2048], cmd[4096];
	const char *b = getenv("VEIL_BUILD");
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/veil %s >%s/stdout 2>%s/stderr",
	    b ? b : "build", args, tmpdir, tmpdir);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The contents of tmpdir/name, NUL-terminated; the caller frees it. */
static char *
slurp(const char *name, size_t *lenp)
{
	char path[256], *p;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(fp = fopen(path, "rb"));
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	assert_true((n = ftell(fp)) >= 0);
	rewind(fp);
	assert_non_null(p = malloc((size_t)n + 1));
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	if (lenp != NULL)
		*lenp = (size_t)n;
	return p;
}

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static int
same_files(const char *a, const char *b)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cmp -s %s/%s %s/%s", tmpdir, a, tmpdir, b);
	return system(cmd) == 0;
}

static int
count_lines(const char *p)
{
	int n = 0;

	for (; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* The number after "key": in column col of `veil inspect --json`. */
static double
json_num(const char *json, const char *col, const char *key)
{
	char pat[128];
	const char *p, *next;

	snprintf(pat, sizeof(pat), "{\"name\":\"%s\"", col);
	assert_non_null(p = strstr(json, pat));
	next = strstr(p + 1, "{\"name\":");
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	assert_non_null(p = strstr(p, pat));
	assert_true(next == NULL || p < next);
	return strtod(p + strlen(pat), NULL);
}

static int
all_digits(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return len > 0;
}

static int
is_table(const struct schema_column *col)
{
	return col->hier != NULL && hierarchy_kind(col->hier) == HIER_TABLE;
}

/* At most two decimals, no exponent. */
static int
two_decimals(const char *p, size_t len)
{
	const char *dot = memchr(p, '.', len);

	if (memchr(p, 'e', len) != NULL)
		return 0;
	return dot == NULL || (size_t)(p + len - dot) <= 3;
}

/* Asserts that one non-empty field fits its column, as the schema says. */
static void
check_value(const struct schema *s, size_t ci, const char *p, size_t len)
{
	const struct schema_column *col = &s->cols[ci];
	char buf[64];
	int64_t iv;
	int32_t d;
	double dv;
	size_t i;
	int ok;

	switch (col->type) {
	case VEIL_T_INT:
		assert_int_equal(ingest_parse_int(p, len, &iv), 0);
		if (col->has_range) {
			assert_true(iv >= col->ilo);
			assert_true(iv <= col->ihi);
		} else if ((int)ci != s->unit_col) {
			assert_true(iv >= 0 && iv <= 100);
		}
		/* canonical, so that hierarchy look-ups match */
		snprintf(buf, sizeof(buf), "%lld", (long long)iv);
		assert_true(strlen(buf) == len && memcmp(buf, p, len) == 0);
		if (is_table(col))
			assert_true(hierarchy_find(col->hier, p, len) >= 0);
		break;
	case VEIL_T_FLOAT:
		assert_int_equal(ingest_parse_float(p, len, &dv), 0);
		assert_true(dv >= (col->has_range ? col->flo : 0));
		assert_true(dv <= (col->has_range ? col->fhi : 1000));
		/* exact digits only for ranges too narrow or too wide */
		if (!col->has_range || (col->fhi - col->flo >= 1 &&
		    col->flo > -1e15 && col->fhi < 1e15))
			assert_true(two_decimals(p, len));
		break;
	case VEIL_T_BOOL:
		assert_true((len == 4 && memcmp(p, "true", 4) == 0) ||
		    (len == 5 && memcmp(p, "false", 5) == 0));
		break;
	case VEIL_T_DATE:
		assert_int_equal(datefmt_parse(p, len, &d), 0);
		if (col->has_range) {
			assert_true(d >= col->ilo && d <= col->ihi);
		} else {
			assert_true(d >= datefmt_days(2000, 1, 1));
			assert_true(d <= datefmt_days(2025, 12, 31));
		}
		if (is_table(col))
			assert_true(hierarchy_find(col->hier, p, len) >= 0);
		break;
	case VEIL_T_CATEGORY:
		if (col->nvalues > 0) {
			for (ok = 0, i = 0; i < col->nvalues && !ok; i++)
				ok = strlen(col->values[i]) == len &&
				    memcmp(col->values[i], p, len) == 0;
			assert_true(ok);
		} else if (is_table(col))
			assert_true(hierarchy_find(col->hier, p, len) >= 0);
		else if (col->role != VEIL_R_IDENTIFIER)
			assert_true(len == 2 && p[0] == 'c' && p[1] >= '1' &&
			    p[1] <= '5');
		break;
	default:
		if ((int)ci == s->unit_col) {
			assert_true(len >= 7 && p[0] == 'U');
			assert_true(all_digits(p + 1, len - 1));
		} else if (is_table(col))
			assert_true(hierarchy_find(col->hier, p, len) >= 0);
		else if (col->hier != NULL &&
		    hierarchy_kind(col->hier) == HIER_MASK) {
			const int64_t *m;
			size_t n;

			m = hierarchy_masks(col->hier, &n);
			assert_int_equal(len, (size_t)m[n - 1]);
			assert_true(all_digits(p, len));
		} else if (col->text || col->role == VEIL_R_TEXT)
			assert_true(len > 10 &&
			    memcmp(p, "mock note ", 10) == 0);
		break;
	}
}

/*
 * Reads tmpdir/name as the schema at schema_path says, checks every field
 * and the unit runs, and counts what it saw.
 */
static void
check_csv(const char *name, const char *schema_path, struct seen *sn)
{
	struct schema *s = NULL;
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	char path[256], prev[64] = "";
	uint64_t run = 0;
	size_t nf, i;
	int fd, r;

	memset(sn, 0, sizeof(*sn));
	veil_err_clear(&err);
	assert_int_equal(schema_load_file(schema_path, &s, &err), 0);
	assert_true(s->ncols <= MAXCOLS);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_non_null(rd = csv_open_fd(fd, path, s->delimiter, NULL, &err));
	/* the header: the schema's names, in the schema's order */
	assert_int_equal(csv_next(rd, &f, &nf, &err), 1);
	assert_int_equal(nf, s->ncols);
	for (i = 0; i < nf; i++) {
		assert_int_equal(f[i].len, strlen(s->cols[i].name));
		assert_memory_equal(f[i].p, s->cols[i].name, f[i].len);
	}
	while ((r = csv_next(rd, &f, &nf, &err)) == 1) {
		assert_int_equal(nf, s->ncols);
		sn->rows++;
		for (i = 0; i < nf; i++) {
			if (f[i].len == 0) {
				/* never "": that would not be a null */
				assert_false(f[i].quoted);
				assert_false(s->cols[i].required);
				sn->nulls[i]++;
				continue;
			}
			check_value(s, i, f[i].p, f[i].len);
		}
		if (s->unit_col < 0)
			continue;
		f = &f[s->unit_col];
		assert_true(f->len < sizeof(prev));
		if (strlen(prev) == f->len && memcmp(prev, f->p, f->len) == 0) {
			if (++run > sn->max_run)
				sn->max_run = run;
			continue;
		}
		/* a new unit: never one seen before (units are consecutive) */
		if (f->p[0] == 'U')
			assert_true(sn->units == 0 || strlen(prev) < f->len ||
			    (strlen(prev) == f->len &&
			    memcmp(prev, f->p, f->len) < 0));
		memcpy(prev, f->p, f->len);
		prev[f->len] = '\0';
		sn->units++;
		run = 1;
		if (sn->max_run == 0)
			sn->max_run = 1;
	}
	assert_int_equal(r, 0);
	csv_close(rd);
	close(fd);
	schema_free(s);
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_clinic(void **state)
{
	const char *schema = "examples/clinic/schema.lua";
	struct seen sn;
	char *out, *json;
	size_t i;

	(void)state;
	assert_int_equal(veil("mock --schema %s --rows 2000 --out %s/c.csv",
	    schema, tmpdir), 0);
	out = slurp("stdout", NULL);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(veil("inspect --json --data %s/c.csv --schema %s",
	    tmpdir, schema), 0);
	json = slurp("stdout", NULL);
	assert_non_null(strstr(json, "\"rows\":2000,"));
	assert_true(json_num(json, "cost", "min") >= 0);
	assert_true(json_num(json, "cost", "max") <= 100000);
	assert_non_null(strstr(json, "\"name\":\"visit_date\""));
	free(json);

	check_csv("c.csv", schema, &sn);
	assert_int_equal(sn.rows, 2000);
	/* 1 to 5 rows per patient: about 3 on average */
	assert_true(sn.units < 2000 && sn.units >= 400);
	assert_true(sn.max_run >= 2 && sn.max_run <= 5);
	/* patient_id, sex, ..., cost are required; the rest are ~5% null */
	for (i = 0; i < 13; i++)
		if (i >= 1 && (i <= 4 || i == 12))
			assert_true(sn.nulls[i] >= 40 && sn.nulls[i] <= 170);
		else
			assert_int_equal(sn.nulls[i], 0);
}

static void
test_adult(void **state)
{
	static const char *const schemas[] = {
		"examples/adult/schema.lua",
		"examples/adult/schema_sensitive.lua",
	};
	struct seen sn;
	char *json, *csv;
	size_t i, j;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(veil("mock --schema %s --rows 2000 --seed 5 "
		    "--out %s/a.csv", schemas[i], tmpdir), 0);
		assert_int_equal(veil("inspect --json --data %s/a.csv "
		    "--schema %s", tmpdir, schemas[i]), 0);
		json = slurp("stdout", NULL);
		assert_non_null(strstr(json, "\"rows\":2000,"));
		assert_true(json_num(json, "age", "min") >= 17);
		assert_true(json_num(json, "age", "max") <= 90);
		free(json);
		/* the schema's delimiter */
		csv = slurp("a.csv", NULL);
		assert_int_equal(strncmp(csv, "sex;age;race;", 13), 0);
		free(csv);
		check_csv("a.csv", schemas[i], &sn);
		assert_int_equal(sn.rows, 2000);
		assert_int_equal(sn.units, 0);	/* unit = "@row" */
		for (j = 0; j < 9; j++)
			assert_true(sn.nulls[j] > 0 && sn.nulls[j] < 200);
	}
}

static void
test_deterministic(void **state)
{
	const char *schema = "examples/clinic/schema.lua";

	(void)state;
	assert_int_equal(veil("mock --schema %s --rows 500 --seed 7 --out "
	    "%s/d1.csv", schema, tmpdir), 0);
	assert_int_equal(veil("mock --rows 500 --out %s/d2.csv --seed 7 "
	    "--schema %s", tmpdir, schema), 0);
	assert_true(same_files("d1.csv", "d2.csv"));
	assert_int_equal(veil("mock --schema %s --rows 500 --seed 8 --out "
	    "%s/d3.csv", schema, tmpdir), 0);
	assert_false(same_files("d1.csv", "d3.csv"));
	/* the default seed is 1; standard output gets the same bytes */
	assert_int_equal(veil("mock --schema %s --rows 500 --out %s/d4.csv",
	    schema, tmpdir), 0);
	assert_int_equal(veil("mock --schema %s --rows 500 --seed 1",
	    schema), 0);
	assert_true(same_files("d4.csv", "stdout"));
	assert_false(same_files("d1.csv", "d4.csv"));
}

static void
test_usage(void **state)
{
	static const struct {
		const char	*args;
		const char	*says;
	} bad[] = {
		{ "--rows 10", "--schema is required" },
		{ "--schema examples/clinic/schema.lua", "--rows is required" },
		{ "--schema examples/clinic/schema.lua --rows 0", "--rows" },
		{ "--schema examples/clinic/schema.lua --rows abc", "\"abc\"" },
		{ "--schema examples/clinic/schema.lua --rows -3", "--rows" },
		{ "--schema examples/clinic/schema.lua --rows 100000001",
		  "--rows" },
		{ "--schema examples/clinic/schema.lua --rows 10 --seed x",
		  "--seed" },
		{ "--schema examples/clinic/schema.lua --rows 10 --frob",
		  "unknown option --frob" },
		{ "--schema examples/clinic/schema.lua --rows 10 --json",
		  "unknown option" },
		{ "--schema examples/clinic/schema.lua --rows",
		  "needs a value" },
		{ "--schema examples/clinic/schema.lua --rows 10 extra",
		  "\"extra\"" },
		{ "--schema examples/none.lua --rows 10", "none.lua" },
	};
	char *out, *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(veil("mock %s", bad[i].args), 2);
		out = slurp("stdout", NULL);
		err = slurp("stderr", NULL);
		assert_string_equal(out, "");
		assert_int_equal(count_lines(err), 1);
		if (strstr(err, bad[i].says) == NULL)
			fail_msg("mock %s: \"%s\" not in: %s", bad[i].args,
			    bad[i].says, err);
		free(out);
		free(err);
	}
}

static void
test_out(void **state)
{
	struct stat st;
	char *csv, *err;
	size_t len;

	(void)state;
	assert_int_equal(veil("mock --schema examples/clinic/schema.lua "
	    "--rows 3 --out %s/o.csv", tmpdir), 0);
	csv = slurp("o.csv", &len);
	assert_int_equal(count_lines(csv), 4);
	assert_int_equal(strncmp(csv, "patient_id,name,id_number,", 26), 0);
	assert_int_equal(csv[len - 1], '\n');
	free(csv);
	/* a file that cannot be created, and a full device: exit 1 */
	assert_int_equal(veil("mock --schema examples/clinic/schema.lua "
	    "--rows 3 --out %s/no/such/dir.csv", tmpdir), 1);
	err = slurp("stderr", NULL);
	assert_non_null(strstr(err, "dir.csv"));
	free(err);
	if (stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
		assert_int_equal(veil("mock --schema "
		    "examples/clinic/schema.lua --rows 50000 --out /dev/full"),
		    1);
		err = slurp("stderr", NULL);
		assert_non_null(strstr(err, "write error"));
		free(err);
		assert_int_equal(stat("/dev/full", &st), 0);
		assert_true(S_ISCHR(st.st_mode));	/* not unlinked */
	}
}

/*
 * Corners: quoting in names and values, an int unit, int and date table
 * hierarchies with leaves outside the range, ranges
 * narrower than 0.01 and as wide as a double, full int64 ranges.
 */
static void
test_corners(void **state)
{
	char path[256], *json;
	struct seen sn;
	size_t i;

	(void)state;
	write_file("edge.lua",
	    "return { name = 'edge', unit = 'uid', columns = {\n"
	    "{ name = 'a;b', type = 'string', role = 'quasi',"
	    "  hierarchy = { mask = {2, 4} } },\n"
	    "{ name = 'uid', type = 'int', role = 'identifier',"
	    "  action = 'pseudonymize', range = {10, 12} },\n"
	    "{ name = 'n', type = 'int', role = 'quasi', range = {5, 8},"
	    "  hierarchy = { rows = { {'5','lo','*'}, {'6','lo','*'},"
	    "  {'7','lo','*'}, {'8','hi','*'}, {'100','hi','*'},"
	    "  {'-3','hi','*'} } } },\n"
	    "{ name = 'tiny', type = 'float', role = 'insensitive',"
	    "  range = {0.001, 0.004} },\n"
	    "{ name = 'huge', type = 'float', role = 'insensitive',"
	    "  range = {-1.7976931348623157e308, 1.7976931348623157e308} },\n"
	    "{ name = 'cat', type = 'category', role = 'sensitive',"
	    "  values = {'a,b', 'say \"hi\"', ' sp '} },\n"
	    "{ name = 'dh', type = 'date', role = 'quasi',"
	    "  range = {'2020-01-01', '2020-12-31'}, hierarchy = { rows = {"
	    "  {'2019-05-05','old','*'}, {'2020-02-29','new','*'},"
	    "  {'2020-07-01','new','*'} } } },\n"
	    "{ name = 'sh', type = 'string', role = 'quasi',"
	    "  hierarchy = { rows = { {'x,1','X'}, {'y\"2','X'} } } },\n"
	    "{ name = 'ch', type = 'category', role = 'quasi',"
	    "  hierarchy = { rows = { {'p','P'}, {'q','P'} } } },\n"
	    "{ name = 'cm', type = 'category', role = 'quasi' },\n"
	    "{ name = 't', type = 'text', role = 'text', required = true },\n"
	    "{ name = 'b', type = 'bool', role = 'sensitive' },\n"
	    "{ name = 'd', type = 'date', role = 'quasi' },\n"
	    "{ name = 'i', type = 'int', role = 'quasi' },\n"
	    "{ name = 'big', type = 'int', role = 'quasi',"
	    "  range = {-9223372036854775807 - 1, 9223372036854775807} },\n"
	    "{ name = 'f', type = 'float', role = 'quasi' },\n"
	    "} }\n");
	snprintf(path, sizeof(path), "%s/edge.lua", tmpdir);
	assert_int_equal(veil("mock --schema %s --rows 3000 --seed 9 --out "
	    "%s/e.csv", path, tmpdir), 0);
	assert_int_equal(veil("inspect --json --data %s/e.csv --schema %s",
	    tmpdir, path), 0);
	json = slurp("stdout", NULL);
	assert_non_null(strstr(json, "\"rows\":3000,"));
	assert_true(json_num(json, "n", "min") == 5);
	assert_true(json_num(json, "n", "max") == 8);
	assert_non_null(strstr(json, "\"name\":\"dh\",\"type\":\"date\","
	    "\"role\":\"quasi\",\"treatment\":\"\",\"nulls\":"));
	free(json);
	check_csv("e.csv", path, &sn);
	assert_int_equal(sn.rows, 3000);
	assert_true(sn.units > 1 && sn.max_run <= 5);
	assert_int_equal(sn.nulls[1], 0);	/* the unit */
	assert_int_equal(sn.nulls[10], 0);	/* required */
	for (i = 0; i < 16; i++)
		if (i != 1 && i != 10)
			assert_true(sn.nulls[i] > 0);

	/* one nullable column: a null would be a blank line, so none */
	write_file("one.lua", "return { name = 'one', unit = '@row', "
	    "columns = { { name = 'x', type = 'int', role = 'quasi' } } }\n");
	snprintf(path, sizeof(path), "%s/one.lua", tmpdir);
	assert_int_equal(veil("mock --schema %s --rows 1000 --out %s/one.csv",
	    path, tmpdir), 0);
	assert_int_equal(veil("inspect --json --data %s/one.csv --schema %s",
	    tmpdir, path), 0);
	json = slurp("stdout", NULL);
	assert_non_null(strstr(json, "\"rows\":1000,"));
	free(json);

	/* no leaf of the hierarchy lies in the range: nothing to draw */
	write_file("empty.lua", "return { name = 'e', unit = '@row', "
	    "columns = { { name = 'x', type = 'int', role = 'quasi', "
	    "range = {0, 2000000}, hierarchy = { rows = { {'-5', '*'} } } } } "
	    "}\n");
	snprintf(path, sizeof(path), "%s/empty.lua", tmpdir);
	assert_int_equal(veil("mock --schema %s --rows 10", path), 2);
	json = slurp("stderr", NULL);
	assert_non_null(strstr(json, "column 1 (x)"));
	free(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clinic),
		cmocka_unit_test(test_adult),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_out),
		cmocka_unit_test(test_corners),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
