/*
 * test_ingest.c: CSV -> typed columns. Header matching (any order,
 * unknown, ignored, missing and duplicate columns), the strict scalar
 * parsers (integers, floats with their exact values, dates, bools),
 * declared ranges and category values, UTF-8, empty versus quoted empty
 * fields, required and unit columns, limits; and that the table built
 * holds exactly the expected values, nulls and dictionaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datefmt.h"
#include "ingest.h"
#include "schema.h"
#include "table.h"

/* {====== helpers */

static struct schema *
schema_of(const char *src)
{
	struct schema *s = NULL;
	struct veil_err err;

	veil_err_clear(&err);
	if (schema_load_buffer(src, strlen(src), "t.lua", NULL, &s, &err) != 0)
		fail_msg("schema: %s", err.msg);
	assert_non_null(s);
	return s;
}

struct loaded {
	void		*buf;
	size_t		 len;
	struct table	*t;
	struct ingest_stats st;
};

/* Ingests csv, which must succeed, and opens the table it builds. */
static void
load(const struct schema *s, const char *csv, const struct ingest_opts *o,
    struct loaded *l)
{
	struct table_builder *b = NULL;
	struct veil_err err;
	int r;

	memset(l, 0, sizeof(*l));
	veil_err_clear(&err);
	r = ingest_csv_mem(csv, strlen(csv), "t.csv", s, o, &b, &l->st, &err);
	if (r != 0)
		fail_msg("ingest = %d: %s", r, err.msg);
	assert_non_null(b);
	assert_int_equal(table_builder_finish(b, &l->buf, &l->len, &err), 0);
	table_builder_free(b);
	if (table_open(l->buf, l->len, &l->t, &err) != 0)
		fail_msg("table_open: %s", err.msg);
	assert_int_equal(l->st.rows, table_nrows(l->t));
	assert_int_equal(l->st.bytes, strlen(csv));
}

static void
unload(struct loaded *l)
{
	table_free(l->t);
	free(l->buf);
}

static void
has(const struct veil_err *err, const char *needle)
{
	if (needle != NULL && strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err->msg,
		    needle);
}

/* Ingesting csv must fail with code, and the message hold the needles. */
static void
fails(const struct schema *s, const char *csv, const struct ingest_opts *o,
    int code, const char *n1, const char *n2, const char *n3)
{
	struct table_builder *b = (struct table_builder *)1;
	struct veil_err err;
	int r;

	veil_err_clear(&err);
	r = ingest_csv_mem(csv, strlen(csv), "t.csv", s, o, &b, NULL, &err);
	if (r != code)
		fail_msg("ingest = %d (%s), expected %d", r, err.msg, code);
	assert_int_equal(err.code, code);
	assert_null(b);		/* nothing is half-loaded */
	has(&err, n1);
	has(&err, n2);
	has(&err, n3);
}

/* A one-column schema: name "v", the given Lua column fields. */
static struct schema *
one_col(const char *fields)
{
	char src[1024];

	snprintf(src, sizeof(src), "return { name = \"t\", unit = \"@row\", "
	    "columns = { { name = \"v\", %s } } }", fields);
	return schema_of(src);
}

static const struct table_colview *
col(const struct loaded *l, const char *name)
{
	int i = table_find(l->t, name);

	if (i < 0)
		fail_msg("no column %s", name);
	return table_column(l->t, (unsigned)i);
}

static void
null_at(const struct loaded *l, const char *name, uint64_t row)
{
	if (!table_isnull(col(l, name), row))
		fail_msg("%s[%llu] is not null", name, (unsigned long long)row);
}

static const struct table_colview *
nonnull(const struct loaded *l, const char *name, uint64_t row,
    enum veil_type type)
{
	const struct table_colview *c = col(l, name);

	assert_int_equal(c->type, type);
	if (table_isnull(c, row))
		fail_msg("%s[%llu] is null", name, (unsigned long long)row);
	return c;
}

static int64_t
int_at(const struct loaded *l, const char *name, uint64_t row)
{
	return ((const int64_t *)nonnull(l, name, row, VEIL_T_INT)->data)[row];
}

static double
float_at(const struct loaded *l, const char *name, uint64_t row)
{
	return ((const double *)nonnull(l, name, row,
	    VEIL_T_FLOAT)->data)[row];
}

static int
bool_at(const struct loaded *l, const char *name, uint64_t row)
{
	return ((const uint8_t *)nonnull(l, name, row,
	    VEIL_T_BOOL)->data)[row];
}

static int32_t
date_at(const struct loaded *l, const char *name, uint64_t row)
{
	return ((const int32_t *)nonnull(l, name, row,
	    VEIL_T_DATE)->data)[row];
}

static void
str_at(const struct loaded *l, const char *name, uint64_t row,
    const char *want)
{
	const struct table_colview *c = nonnull(l, name, row, VEIL_T_STRING);
	const char *p;
	size_t len;

	p = table_str(c, row, &len);
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		fail_msg("%s[%llu] = \"%.*s\", expected \"%s\"", name,
		    (unsigned long long)row, (int)len, p, want);
}

/* Checks the category code at row and the text it stands for. */
static void
cat_at(const struct loaded *l, const char *name, uint64_t row,
    uint32_t code, const char *want)
{
	const struct table_colview *c = nonnull(l, name, row,
	    VEIL_T_CATEGORY);
	const char *p;
	size_t len;

	assert_int_equal(((const uint32_t *)c->data)[row], code);
	assert_true(code < c->dict_n);
	p = table_dict(c, code, &len);
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		fail_msg("%s[%llu] = \"%.*s\", expected \"%s\"", name,
		    (unsigned long long)row, (int)len, p, want);
}

/* The whole dictionary of a category column, in code order. */
static void
dict_is(const struct loaded *l, const char *name, size_t n, ...)
{
	const struct table_colview *c = col(l, name);
	const char *p, *want;
	size_t len, i;
	va_list ap;

	assert_int_equal(c->type, VEIL_T_CATEGORY);
	assert_int_equal(c->dict_n, n);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		want = va_arg(ap, const char *);
		p = table_dict(c, (uint32_t)i, &len);
		if (len != strlen(want) || memcmp(p, want, len) != 0)
			fail_msg("%s dictionary[%zu] = \"%.*s\", expected "
			    "\"%s\"", name, i, (int)len, p, want);
	}
	va_end(ap);
}

static int
same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/* }====== */

static const char main_schema[] =
    "return {\n"
    "  name = \"t\", unit = \"id\",\n"
    "  columns = {\n"
    "    { name = \"id\", type = \"string\", role = \"identifier\","
    "      action = \"pseudonymize\" },\n"
    "    { name = \"age\", type = \"int\", role = \"quasi\" },\n"
    "    { name = \"score\", type = \"float\", role = \"insensitive\" },\n"
    "    { name = \"ok\", type = \"bool\", role = \"sensitive\" },\n"
    "    { name = \"day\", type = \"date\", role = \"quasi\" },\n"
    "    { name = \"diag\", type = \"category\", role = \"sensitive\","
    "      values = { \"J45\", \"E11\", \"I10\" } },\n"
    "    { name = \"note\", type = \"text\", role = \"text\" },\n"
    "    { name = \"city\", type = \"string\", role = \"quasi\" },\n"
    "  },\n"
    "}\n";

/* {====== the header */

static void
test_header_any_order(void **state)
{
	static const char *const names[] = { "id", "age", "score", "ok",
	    "day", "diag", "note", "city" };
	static const enum veil_type types[] = { VEIL_T_STRING, VEIL_T_INT,
	    VEIL_T_FLOAT, VEIL_T_BOOL, VEIL_T_DATE, VEIL_T_CATEGORY,
	    VEIL_T_STRING, VEIL_T_STRING };
	static const enum veil_role roles[] = { VEIL_R_IDENTIFIER,
	    VEIL_R_QUASI, VEIL_R_INSENSITIVE, VEIL_R_SENSITIVE, VEIL_R_QUASI,
	    VEIL_R_SENSITIVE, VEIL_R_TEXT, VEIL_R_QUASI };
	const char *csv =
	    "note,city,diag,day,ok,score,age,id\n"
	    "\"hello, world\",Paris,I10,2024-02-29,yes,1.5,42,P1\n"
	    "\"\",,,,,,,P2\r\n"
	    ",\"\",J45,1970-01-01,F,-0.25,-7,P3\n"
	    "\"multi\nline\",Z\xc3\xbcrich,E11,1969-12-31,TRUE,1e3,+5,\"P4\"";
	struct schema *s = schema_of(main_schema);
	const struct table_colview *c;
	struct loaded l;
	unsigned int i;

	(void)state;
	load(s, csv, NULL, &l);
	assert_int_equal(table_ncols(l.t), 8);
	assert_int_equal(table_nrows(l.t), 4);
	assert_int_equal(l.st.rows, 4);
	assert_int_equal(l.st.delimiter, ',');
	for (i = 0; i < 8; i++) {	/* the schema's order, not the CSV's */
		c = table_column(l.t, i);
		assert_string_equal(c->name, names[i]);
		assert_int_equal(c->type, types[i]);
		assert_int_equal(c->role, roles[i]);
		/* the unit column; declared category domains */
		assert_int_equal(c->flags, i == 0 ? TABLE_F_UNIT :
		    i == 5 ? TABLE_F_DECLARED : 0);
	}

	str_at(&l, "id", 0, "P1");
	str_at(&l, "id", 1, "P2");
	str_at(&l, "id", 2, "P3");
	str_at(&l, "id", 3, "P4");
	assert_null(col(&l, "id")->nulls);

	assert_int_equal(int_at(&l, "age", 0), 42);
	null_at(&l, "age", 1);
	assert_int_equal(int_at(&l, "age", 2), -7);
	assert_int_equal(int_at(&l, "age", 3), 5);

	assert_true(float_at(&l, "score", 0) == 1.5);
	null_at(&l, "score", 1);
	assert_true(float_at(&l, "score", 2) == -0.25);
	assert_true(float_at(&l, "score", 3) == 1000.0);

	assert_int_equal(bool_at(&l, "ok", 0), 1);
	null_at(&l, "ok", 1);
	assert_int_equal(bool_at(&l, "ok", 2), 0);
	assert_int_equal(bool_at(&l, "ok", 3), 1);

	assert_int_equal(date_at(&l, "day", 0), 19782);
	null_at(&l, "day", 1);
	assert_int_equal(date_at(&l, "day", 2), 0);
	assert_int_equal(date_at(&l, "day", 3), -1);

	dict_is(&l, "diag", 3, "J45", "E11", "I10");
	cat_at(&l, "diag", 0, 2, "I10");
	null_at(&l, "diag", 1);
	cat_at(&l, "diag", 2, 0, "J45");
	cat_at(&l, "diag", 3, 1, "E11");

	str_at(&l, "note", 0, "hello, world");
	str_at(&l, "note", 1, "");		/* quoted "": empty text */
	assert_false(table_isnull(col(&l, "note"), 1));
	null_at(&l, "note", 2);			/* empty: null */
	str_at(&l, "note", 3, "multi\nline");

	str_at(&l, "city", 0, "Paris");
	null_at(&l, "city", 1);
	str_at(&l, "city", 2, "");
	assert_false(table_isnull(col(&l, "city"), 2));
	str_at(&l, "city", 3, "Z\xc3\xbcrich");
	unload(&l);
	schema_free(s);
}

static const char ab_schema[] =
    "return { name = \"t\", unit = \"@row\", %s columns = {"
    "  { name = \"a\", type = \"int\", role = \"quasi\" },"
    "  { name = \"b\", type = \"string\", role = \"quasi\" } } }";

static struct schema *
ab(const char *extra)
{
	char src[1024];

	snprintf(src, sizeof(src), ab_schema, extra);
	return schema_of(src);
}

static void
test_unknown_column(void **state)
{
	struct schema *s;
	struct loaded l;

	(void)state;
	s = ab("");
	fails(s, "a,extra,b\n1,x,y\n", NULL, VEIL_E_SCHEMA,
	    "t.csv:1: header column 2:", "\"extra\"",
	    "not in the schema t.lua");
	fails(s, "b,a,\n1,2,\n", NULL, VEIL_E_SCHEMA, "header column 3:",
	    "\"\"", "not in the schema");
	/* names are exact: case and spaces matter */
	fails(s, "A,b\n1,x\n", NULL, VEIL_E_SCHEMA, "header column 1:",
	    "\"A\"", NULL);
	fails(s, "a, b\n1,x\n", NULL, VEIL_E_SCHEMA, "header column 2:",
	    "\" b\"", NULL);
	schema_free(s);

	/* listed in ignore: skipped, whatever it holds */
	s = ab("ignore = { \"extra\", \"other\" },");
	load(s, "a,extra,b\n1,not a number \xff,y\n2,,z\n", NULL, &l);
	assert_int_equal(table_ncols(l.t), 2);
	assert_int_equal(table_find(l.t, "extra"), -1);
	assert_int_equal(int_at(&l, "a", 0), 1);
	str_at(&l, "b", 0, "y");
	assert_int_equal(int_at(&l, "a", 1), 2);
	str_at(&l, "b", 1, "z");
	unload(&l);
	/* an ignored column may also be absent */
	load(s, "b,a\nq,3\n", NULL, &l);
	assert_int_equal(int_at(&l, "a", 0), 3);
	unload(&l);
	/* but a column not in the list is still refused */
	fails(s, "a,extra,b,extra2\n1,x,y,z\n", NULL, VEIL_E_SCHEMA,
	    "header column 4:", "\"extra2\"", NULL);
	schema_free(s);

	s = ab("ignore_unknown = true,");
	load(s, "zzz,a,yyy,b,\n1,2,3,4,5\n", NULL, &l);
	assert_int_equal(table_ncols(l.t), 2);
	assert_int_equal(int_at(&l, "a", 0), 2);
	str_at(&l, "b", 0, "4");
	unload(&l);
	/* still missing columns are errors */
	fails(s, "zzz,a\n1,2\n", NULL, VEIL_E_SCHEMA, "\"b\"", "missing",
	    NULL);
	schema_free(s);

	s = ab("ignore_unknown = false,");
	fails(s, "a,b,c\n1,2,3\n", NULL, VEIL_E_SCHEMA, "header column 3:",
	    "\"c\"", NULL);
	schema_free(s);
}

static void
test_missing_column(void **state)
{
	struct schema *s = ab("");

	(void)state;
	fails(s, "a\n1\n", NULL, VEIL_E_SCHEMA, "t.csv",
	    "column \"b\" of the schema is missing from the header", NULL);
	fails(s, "b\nx\n", NULL, VEIL_E_SCHEMA,
	    "column \"a\" of the schema is missing", NULL, NULL);
	schema_free(s);
}

static void
test_duplicate_header(void **state)
{
	struct schema *s = ab("ignore = { \"x\" },");

	(void)state;
	fails(s, "a,b,a\n1,x,2\n", NULL, VEIL_E_PARSE,
	    "t.csv:1: header column 3:", "\"a\" appears twice", NULL);
	fails(s, "b,a,b\n1,x,2\n", NULL, VEIL_E_PARSE,
	    "header column 3:", "\"b\" appears twice", NULL);
	schema_free(s);
}

static void
test_header_utf8_and_empty(void **state)
{
	struct schema *s = ab("ignore_unknown = true,");

	(void)state;
	fails(s, "a,b,\xc3\x28\n1,x,y\n", NULL, VEIL_E_PARSE,
	    "t.csv:1: header column 3:", "invalid UTF-8", "\\xc3(");
	fails(s, "", NULL, VEIL_E_PARSE, "t.csv", "empty file", NULL);
	fails(s, "\n\r\n\n", NULL, VEIL_E_PARSE, "empty file", NULL, NULL);
	schema_free(s);
}

static void
test_header_only_and_bom(void **state)
{
	struct schema *s = ab("");
	struct loaded l;

	(void)state;
	load(s, "a,b\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 0);
	assert_int_equal(table_ncols(l.t), 2);
	unload(&l);
	load(s, "\xef\xbb\xbf" "b,a\r\nx,1\r\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 1);
	assert_int_equal(int_at(&l, "a", 0), 1);
	str_at(&l, "b", 0, "x");
	unload(&l);
	schema_free(s);
}

static void
test_field_count(void **state)
{
	struct schema *s = ab("");

	(void)state;
	fails(s, "a,b\n1,x\n2\n", NULL, VEIL_E_PARSE,
	    "t.csv:3: 1 fields, the header has 2", NULL, NULL);
	fails(s, "a,b\n1,x,z\n", NULL, VEIL_E_PARSE,
	    "t.csv:2: 3 fields, the header has 2", NULL, NULL);
	/* the line is the record's first, after multi-line records */
	fails(s, "a,b\n1,\"x\ny\"\n\n2,z,w\n", NULL, VEIL_E_PARSE,
	    "t.csv:5: 3 fields", NULL, NULL);
	/* a trailing delimiter is one more (empty) field */
	fails(s, "a,b\n1,x,\n", NULL, VEIL_E_PARSE, "t.csv:2: 3 fields",
	    NULL, NULL);
	schema_free(s);
}

/* }====== */

/* {====== scalars */

static void
test_parse_int(void **state)
{
	static const struct {
		const char	*s;
		int64_t		 v;
	} good[] = {
		{ "0", 0 }, { "-0", 0 }, { "+0", 0 }, { "+5", 5 },
		{ "42", 42 }, { "-42", -42 }, { "007", 7 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
		{ "+9223372036854775807", INT64_MAX },
		{ "-9223372036854775807", -INT64_MAX },
		{ "1000000000000000000", INT64_C(1000000000000000000) },
	};
	static const char *const bad[] = {
		"12x", " 12", "12 ", "1.0", "", "-", "+", "--1", "+-1", "1e3",
		"0x10", "1_000", "1,000", "9223372036854775808",
		"-9223372036854775809", "18446744073709551616",
		"99999999999999999999", "999999999999999999999",
		"-99999999999999999999", "\xd9\xa1", "1\n", "\t1", "x",
		"9223372036854775810", "92233720368547758070",
	};
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		if (ingest_parse_int(good[i].s, strlen(good[i].s), &v) != 0)
			fail_msg("\"%s\" refused", good[i].s);
		if (v != good[i].v)
			fail_msg("\"%s\" = %lld", good[i].s, (long long)v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ingest_parse_int(bad[i], strlen(bad[i]), &v) == 0)
			fail_msg("\"%s\" accepted as %lld", bad[i],
			    (long long)v);
	/* the length is what counts, not a NUL */
	assert_int_equal(ingest_parse_int("123", 2, &v), 0);
	assert_int_equal(v, 12);
	assert_int_not_equal(ingest_parse_int("1\0", 2, &v), 0);
}

static void
test_int_column(void **state)
{
	struct schema *s = one_col("type = \"int\", role = \"quasi\"");
	struct loaded l;

	(void)state;
	load(s, "v\n-9223372036854775808\n9223372036854775807\n+5\n\n0\n\"7\"\n"
	    "\"\"\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 6);
	assert_true(int_at(&l, "v", 0) == INT64_MIN);
	assert_true(int_at(&l, "v", 1) == INT64_MAX);
	assert_int_equal(int_at(&l, "v", 2), 5);
	assert_int_equal(int_at(&l, "v", 3), 0);
	assert_int_equal(int_at(&l, "v", 4), 7);
	null_at(&l, "v", 5);		/* quoted "": null for int */
	unload(&l);

	fails(s, "v\n1\n12x\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (v): not an integer", "\"12x\"", NULL);
	fails(s, "v\n\" 12\"\n", NULL, VEIL_E_TYPE, "t.csv:2: column 1 (v):",
	    "\" 12\"", NULL);
	fails(s, "v\n1.0\n", NULL, VEIL_E_TYPE, "t.csv:2:", "\"1.0\"", NULL);
	fails(s, "v\n9223372036854775808\n", NULL, VEIL_E_TYPE,
	    "t.csv:2: column 1 (v): not an integer",
	    "\"9223372036854775808\"", NULL);
	fails(s, "v\n-9223372036854775809\n", NULL, VEIL_E_TYPE, "t.csv:2:",
	    "\"-9223372036854775809\"", NULL);
	schema_free(s);
}

static void
test_parse_float(void **state)
{
	static const struct {
		const char	*s;
		double		 v;
	} good[] = {
		{ "1.5", 1.5 }, { "-0.25", -0.25 }, { "1e3", 1e3 },
		{ ".5", 0.5 }, { "5.", 5.0 }, { "0", 0.0 }, { "+2.5", 2.5 },
		{ "12345678901234567890.5", 12345678901234567890.5 },
		{ "0.1", 0.1 }, { "123.456", 123.456 }, { "1E-3", 1e-3 },
		{ "1e+2", 1e2 }, { "00012.50", 12.5 }, { "-.5", -0.5 },
		{ "0.1e-30", 0.1e-30 },
		{ "1.7976931348623157e308", 1.7976931348623157e308 },
		{ "-1.7976931348623157e308", -1.7976931348623157e308 },
		{ "2.2250738585072014e-308", 2.2250738585072014e-308 },
		{ "2.2250738585072011e-308", 2.2250738585072011e-308 },
		{ "4.9406564584124654e-324", 4.9406564584124654e-324 },
		{ "9007199254740992", 9007199254740992.0 },
		{ "9007199254740993", 9007199254740993.0 },
		{ "9007199254740995", 9007199254740995.0 },
		{ "123456789012345678", 123456789012345678.0 },
		{ "1e22", 1e22 }, { "1e23", 1e23 }, { "2e-22", 2e-22 },
		{ "1e-23", 1e-23 }, { "9007199254740992e22",
		    9007199254740992e22 },
		{ "3.141592653589793238462643383279",
		    3.141592653589793238462643383279 },
		{ "0.000000000000000000000000000001", 1e-30 },
		{ "1000000000000000000000000", 1e24 },
		{ "0.30000000000000004", 0.30000000000000004 },
		{ "8.5e-5", 8.5e-5 }, { "7e-10", 7e-10 },
		{ "1.00000000000000011102230246251565404236316680908203125",
		    1.00000000000000011102230246251565404236316680908203125 },
		{ "0e999999", 0.0 }, { "1e-00000000000000000003", 1e-3 },
	};
	static const char *const bad[] = {
		"nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e", "1e+",
		"1e-", "0x10", "0x1p3", "1,5", " 1", "1 ", "", "-", "+", ".",
		"e5", ".e5", "1.2.3", "1e5.0", "1e5e5", "--1", "+-1", "1e400", "1e-400",
		"-1e400", "1e999999999", "1.5f", "1d", "\xd9\xa1", "1_0",
	};
	double v, ref;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -12345.0;
		if (ingest_parse_float(good[i].s, strlen(good[i].s), &v) != 0)
			fail_msg("\"%s\" refused", good[i].s);
		ref = strtod(good[i].s, NULL);
		if (!same_double(v, good[i].v) || !same_double(v, ref))
			fail_msg("\"%s\" = %.17g (%a), expected %.17g (%a)",
			    good[i].s, v, v, good[i].v, good[i].v);
	}
	v = 1.0;
	assert_int_equal(ingest_parse_float("-0", 2, &v), 0);
	assert_true(v == 0.0 && signbit(v));
	assert_int_equal(ingest_parse_float("-0.0e5", 6, &v), 0);
	assert_true(v == 0.0 && signbit(v));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ingest_parse_float(bad[i], strlen(bad[i]), &v) == 0)
			fail_msg("\"%s\" accepted as %.17g", bad[i], v);
	/* the length is what counts */
	assert_int_equal(ingest_parse_float("1.25x", 4, &v), 0);
	assert_true(v == 1.25);
}

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Random numbers in the accepted grammar, parsed both ways: the result
 * must be the correctly rounded double strtod gives, bit for bit, on the
 * fast path and the slow one alike, or a refusal when strtod overflows.
 */
static void
test_float_vs_strtod(void **state)
{
	uint64_t x = UINT64_C(0x243f6a8885a308d3);
	char s[128];
	size_t n, i, k;
	double v, ref;
	int r;

	(void)state;
	for (i = 0; i < 300000; i++) {
		n = 0;
		if (rnd(&x) % 4 == 0)
			s[n++] = rnd(&x) & 1 ? '-' : '+';
		k = rnd(&x) % (rnd(&x) & 1 ? 6 : 24);
		while (k-- > 0)
			s[n++] = (char)('0' + rnd(&x) % 10);
		if (rnd(&x) % 3 != 0) {
			s[n++] = '.';
			k = rnd(&x) % (rnd(&x) & 1 ? 6 : 24);
			while (k-- > 0)
				s[n++] = (char)('0' + rnd(&x) % 10);
		}
		if (n == 0 || !(s[n - 1] >= '0' && s[n - 1] <= '9') ||
		    (n == 1 && s[0] == '.'))
			s[n++] = (char)('1' + rnd(&x) % 9);
		if (rnd(&x) % 2 == 0) {
			s[n++] = rnd(&x) & 1 ? 'e' : 'E';
			if (rnd(&x) & 1)
				s[n++] = rnd(&x) & 1 ? '-' : '+';
			k = 1 + rnd(&x) % 3;
			while (k-- > 0)
				s[n++] = (char)('0' + rnd(&x) %
				    (rnd(&x) & 1 ? 4 : 10));
		}
		s[n] = '\0';
		ref = strtod(s, NULL);
		r = ingest_parse_float(s, n, &v);
		/* A value that underflows to zero is refused, not zeroed. */
		if (!isfinite(ref) || (ref == 0 && strpbrk(s, "123456789") !=
		    NULL && strpbrk(s, "eE") != NULL &&
		    strcspn(s, "123456789") < strcspn(s, "eE"))) {
			if (r == 0)
				fail_msg("\"%s\" accepted as %.17g", s, v);
			continue;
		}
		if (r != 0)
			fail_msg("\"%s\" refused, strtod gives %.17g", s, ref);
		if (!same_double(v, ref))
			fail_msg("\"%s\" = %.17g (%a), strtod %.17g (%a)", s, v,
			    v, ref, ref);
	}
}

/*
 * Short strings of digits and the bytes a word-at-a-time parse may
 * confuse with them (the neighbours of '0' and '9', '.', NUL, non-ASCII),
 * checked against the grammar [+-]?digits[.digits] (a digit somewhere)
 * and strtod's value.
 */
static void
test_float_short(void **state)
{
	static const char alpha[] = "0123456789..--+/:a \xff\x00\x1e\xbe";
	uint64_t x = 77;
	char s[16];
	size_t n, i, k, dig, dots;
	double v;
	int r, ok, seen = 0;

	(void)state;
	for (i = 0; i < 400000; i++) {
		n = 1 + rnd(&x) % 10;
		for (k = 0; k < n; k++)
			s[k] = rnd(&x) % 3 ? (char)('0' + rnd(&x) % 10) :
			    alpha[rnd(&x) % (sizeof(alpha) - 1)];
		s[n] = '\0';
		k = s[0] == '-' || s[0] == '+';
		for (dig = dots = 0, ok = 1; k < n; k++) {
			if (s[k] >= '0' && s[k] <= '9')
				dig++;
			else if (s[k] == '.' && dots++ == 0)
				continue;
			else
				ok = 0;
		}
		ok = ok && dig > 0;
		r = ingest_parse_float(s, n, &v);
		if ((r == 0) != ok)
			fail_msg("\"%.*s\" (%zu bytes): %s", (int)n, s, n,
			    ok ? "refused" : "accepted");
		if (ok && !same_double(v, strtod(s, NULL)))
			fail_msg("\"%s\" = %.17g, strtod %.17g", s, v,
			    strtod(s, NULL));
		seen += ok;
	}
	assert_true(seen > 10000);
}

static void
test_float_column(void **state)
{
	struct schema *s = one_col("type = \"float\", role = \"insensitive\"");
	struct loaded l;

	(void)state;
	load(s, "v\n0.1e-30\n1.7976931348623157e308\n\n\"-2.5\"\n5.\n", NULL,
	    &l);
	assert_true(same_double(float_at(&l, "v", 0), 0.1e-30));
	assert_true(same_double(float_at(&l, "v", 1), DBL_MAX));
	assert_true(same_double(float_at(&l, "v", 2), -2.5));
	assert_true(same_double(float_at(&l, "v", 3), 5.0));
	assert_int_equal(table_nrows(l.t), 4);
	unload(&l);
	fails(s, "v\n1\nnan\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (v): not a finite decimal number", "\"nan\"",
	    NULL);
	fails(s, "v\n1e400\n", NULL, VEIL_E_TYPE, "t.csv:2: column 1 (v):",
	    "\"1e400\"", NULL);
	fails(s, "v\n\"1,5\"\n", NULL, VEIL_E_TYPE, "t.csv:2:", "\"1,5\"",
	    NULL);
	fails(s, "v\ninf\n", NULL, VEIL_E_TYPE, "t.csv:2:", "\"inf\"", NULL);
	schema_free(s);
}

static void
test_dates(void **state)
{
	static const struct {
		const char	*s;
		int32_t		 d;
	} good[] = {
		{ "1970-01-01", 0 }, { "1969-12-31", -1 },
		{ "2024-02-29", 19782 }, { "2000-02-29", 11016 },
		{ "2024-01-01", 19723 }, { "0001-01-01", -719162 },
		{ "9999-12-31", 2932896 }, { "2023-12-31", 19722 },
	};
	static const char *const bad[] = {
		"2023-02-29", "2024-13-01", "2024-1-01", "2024-01-1",
		"2024/01/01", "0000-01-01", "2024-00-10", "2024-01-00",
		"2024-04-31", "2100-02-29", "1900-02-29", " 2024-01-01",
		"2024-01-01 ", "2024-01-01T00", "24-01-01", "+024-01-01",
		"2024-0a-01", "2024-01-32", "", "20240101", "2024-02-30",
		"-024-01-01", "2024--1-01",
	};
	struct schema *s = one_col("type = \"date\", role = \"quasi\"");
	struct loaded l;
	char out[DATEFMT_LEN + 1];
	int32_t d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (datefmt_parse(good[i].s, strlen(good[i].s), &d) != 0)
			fail_msg("\"%s\" refused", good[i].s);
		if (d != good[i].d)
			fail_msg("\"%s\" = %d, expected %d", good[i].s, (int)d,
			    (int)good[i].d);
		datefmt_format(d, out);
		assert_string_equal(out, good[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (datefmt_parse(bad[i], strlen(bad[i]), &d) == 0)
			fail_msg("\"%s\" accepted as %d", bad[i], (int)d);

	load(s, "v\n2024-02-29\n\n1969-12-31\n\"\"\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 3);
	assert_int_equal(date_at(&l, "v", 0), 19782);
	assert_int_equal(date_at(&l, "v", 1), -1);
	null_at(&l, "v", 2);
	unload(&l);
	fails(s, "v\n2024-02-29\n2023-02-29\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (v): not a date YYYY-MM-DD", "\"2023-02-29\"",
	    NULL);
	fails(s, "v\n2024-13-01\n", NULL, VEIL_E_TYPE, "t.csv:2:",
	    "\"2024-13-01\"", NULL);
	fails(s, "v\n2024-1-01\n", NULL, VEIL_E_TYPE, "t.csv:2:",
	    "\"2024-1-01\"", NULL);
	schema_free(s);
}

static void
test_bools(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "True", "tRuE",
	    "1", "yes", "YES", "Yes", "yEs", "t", "T", "y", "Y" };
	static const char *const no[] = { "false", "FALSE", "False", "fAlSe",
	    "0", "no", "NO", "No", "nO", "f", "F", "n", "N" };
	static const char *const bad[] = { "maybe", "2", "truee", "tru",
	    "", " yes", "yes ", "on", "off", "nope", "-1", "01", "10", "ye",
	    "fals", "t\n", "\"true\"", "\x01" };
	struct schema *s = one_col("type = \"bool\", role = \"sensitive\"");
	char csv[512];
	struct loaded l;
	size_t i, o;
	int v;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		v = -1;
		assert_int_equal(ingest_parse_bool(yes[i], strlen(yes[i]), &v),
		    0);
		assert_int_equal(v, 1);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		v = -1;
		assert_int_equal(ingest_parse_bool(no[i], strlen(no[i]), &v),
		    0);
		assert_int_equal(v, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ingest_parse_bool(bad[i], strlen(bad[i]), &v) == 0)
			fail_msg("\"%s\" accepted as %d", bad[i], v);
	assert_int_not_equal(ingest_parse_bool("yes\0", 4, &v), 0);

	/* through ingestion: every spelling, then a null */
	o = (size_t)snprintf(csv, sizeof(csv), "v\n");
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		o += (size_t)snprintf(csv + o, sizeof(csv) - o, "%s\n%s\n",
		    yes[i], no[i]);
	/* an empty line is blank in a one-column file: quote it */
	snprintf(csv + o, sizeof(csv) - o, "\"\"\n");
	load(s, csv, NULL, &l);
	assert_int_equal(table_nrows(l.t), 2 * 13 + 1);
	for (i = 0; i < 13; i++) {
		assert_int_equal(bool_at(&l, "v", 2 * i), 1);
		assert_int_equal(bool_at(&l, "v", 2 * i + 1), 0);
	}
	null_at(&l, "v", 26);
	unload(&l);
	fails(s, "v\nyes\nmaybe\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (v): not a bool", "\"maybe\"", NULL);
	schema_free(s);
}

/* }====== */

/* {====== declared ranges and values */

static void
test_ranges(void **state)
{
	struct schema *s = schema_of("return { name = \"t\", unit = \"@row\","
	    " columns = {"
	    " { name = \"n\", type = \"int\", role = \"quasi\","
	    "   range = { 0, 120 } },"
	    " { name = \"x\", type = \"float\", role = \"insensitive\","
	    "   range = { -1.5, 2.5 } },"
	    " { name = \"d\", type = \"date\", role = \"quasi\","
	    "   range = { \"2020-01-01\", \"2020-12-31\" } } } }");
	struct loaded l;

	(void)state;
	load(s, "n,x,d\n0,-1.5,2020-01-01\n120,2.5,2020-12-31\n60,0,\n", NULL,
	    &l);
	assert_int_equal(int_at(&l, "n", 0), 0);
	assert_int_equal(int_at(&l, "n", 1), 120);
	assert_true(float_at(&l, "x", 0) == -1.5);
	assert_true(float_at(&l, "x", 1) == 2.5);
	assert_int_equal(date_at(&l, "d", 0), 18262);
	assert_int_equal(date_at(&l, "d", 1), 18627);
	null_at(&l, "d", 2);
	unload(&l);

	fails(s, "n,x,d\n1,0,2020-05-05\n121,0,2020-05-05\n", NULL,
	    VEIL_E_RANGE, "t.csv:3: column 1 (n):", "outside [0, 120]",
	    "\"121\"");
	fails(s, "n,x,d\n-1,0,2020-05-05\n", NULL, VEIL_E_RANGE,
	    "t.csv:2: column 1 (n):", "outside", "\"-1\"");
	fails(s, "d,n,x\n2020-05-05,1,2.5000001\n", NULL, VEIL_E_RANGE,
	    "t.csv:2: column 3 (x):", "outside", "\"2.5000001\"");
	fails(s, "n,x,d\n1,-1.51,2020-05-05\n", NULL, VEIL_E_RANGE,
	    "column 2 (x):", "outside", "\"-1.51\"");
	fails(s, "n,x,d\n1,0,2021-01-01\n", NULL, VEIL_E_RANGE,
	    "t.csv:2: column 3 (d):", "outside", "\"2021-01-01\"");
	fails(s, "n,x,d\n1,0,2019-12-31\n", NULL, VEIL_E_RANGE,
	    "column 3 (d):", "outside", "\"2019-12-31\"");
	/* a type error is still a type error, not a range one */
	fails(s, "n,x,d\nabc,0,2020-05-05\n", NULL, VEIL_E_TYPE,
	    "column 1 (n):", "\"abc\"", NULL);
	schema_free(s);
}

static void
test_categories(void **state)
{
	struct schema *s = one_col("type = \"category\", role = \"quasi\","
	    " values = { \"low\", \"mid\", \"high\" }");
	struct loaded l;

	(void)state;
	load(s, "v\nhigh\nlow\n\nmid\n\"high\"\n\"\"\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 5);
	dict_is(&l, "v", 3, "low", "mid", "high");	/* declared order */
	cat_at(&l, "v", 0, 2, "high");
	cat_at(&l, "v", 1, 0, "low");
	cat_at(&l, "v", 2, 1, "mid");
	cat_at(&l, "v", 3, 2, "high");
	null_at(&l, "v", 4);			/* "" in a category: null */
	unload(&l);

	/* declared values are in the dictionary even when never seen */
	load(s, "v\nmid\n", NULL, &l);
	dict_is(&l, "v", 3, "low", "mid", "high");
	cat_at(&l, "v", 0, 1, "mid");
	unload(&l);

	fails(s, "v\nlow\nextreme\n", NULL, VEIL_E_RANGE,
	    "t.csv:3: column 1 (v): not one of the declared values",
	    "\"extreme\"", NULL);
	fails(s, "v\nHIGH\n", NULL, VEIL_E_RANGE, "t.csv:2:", "\"HIGH\"",
	    NULL);
	fails(s, "v\n\"low \"\n", NULL, VEIL_E_RANGE, "t.csv:2:", "\"low \"",
	    NULL);
	schema_free(s);

	/* without declared values: codes in order of first appearance */
	s = one_col("type = \"category\", role = \"quasi\"");
	load(s, "v\nb\na\nb\n\nc\n", NULL, &l);
	dict_is(&l, "v", 3, "b", "a", "c");
	cat_at(&l, "v", 0, 0, "b");
	cat_at(&l, "v", 1, 1, "a");
	cat_at(&l, "v", 2, 0, "b");
	cat_at(&l, "v", 3, 2, "c");
	unload(&l);
	schema_free(s);
}

/* }====== */

/* {====== strings: UTF-8, empty and quoted empty */

static void
test_utf8_fields(void **state)
{
	struct schema *s = schema_of("return { name = \"t\", unit = \"@row\","
	    " columns = {"
	    " { name = \"k\", type = \"int\", role = \"quasi\" },"
	    " { name = \"name\", type = \"string\", role = \"quasi\" },"
	    " { name = \"c\", type = \"category\", role = \"quasi\" },"
	    " { name = \"t\", type = \"text\", role = \"text\" } } }");
	struct loaded l;

	(void)state;
	load(s, "k,name,c,t\n1,caf\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n",
	    NULL, &l);
	str_at(&l, "name", 0, "caf\xc3\xa9");
	cat_at(&l, "c", 0, 0, "\xe2\x82\xac");
	str_at(&l, "t", 0, "\xf0\x9f\x98\x80");
	unload(&l);

	fails(s, "k,name,c,t\n1,ok,a,b\n2,ab\xff" "cd,a,b\n", NULL,
	    VEIL_E_TYPE, "t.csv:3: column 2 (name): invalid UTF-8",
	    "\"\\xffcd\"", NULL);
	fails(s, "k,name,c,t\n1,x,\xc0\x80,b\n", NULL, VEIL_E_TYPE,
	    "t.csv:2: column 3 (c): invalid UTF-8", "\\xc0\\x80", NULL);
	fails(s, "k,name,c,t\n1,x,a,\"\n\xed\xa0\x80\"\n", NULL, VEIL_E_TYPE,
	    "t.csv:2: column 4 (t): invalid UTF-8", "\\xed\\xa0\\x80", NULL);
	/* columns in another order: the CSV's column number is named */
	fails(s, "t,k,c,name\nb,1,a,\xe2\x82\n", NULL, VEIL_E_TYPE,
	    "t.csv:2: column 4 (name): invalid UTF-8", "\\xe2\\x82", NULL);
	schema_free(s);
}

static void
test_empty_vs_quoted(void **state)
{
	struct schema *s = schema_of("return { name = \"t\", unit = \"@row\","
	    " columns = {"
	    " { name = \"s\", type = \"string\", role = \"quasi\" },"
	    " { name = \"t\", type = \"text\", role = \"text\" },"
	    " { name = \"i\", type = \"int\", role = \"quasi\" },"
	    " { name = \"c\", type = \"category\", role = \"quasi\" },"
	    " { name = \"f\", type = \"float\", role = \"quasi\" },"
	    " { name = \"b\", type = \"bool\", role = \"quasi\" },"
	    " { name = \"d\", type = \"date\", role = \"quasi\" } } }");
	static const char *const others[] = { "i", "c", "f", "b", "d" };
	struct loaded l;
	size_t i;

	(void)state;
	load(s, "s,t,i,c,f,b,d\n"
	    "\"\",\"\",\"\",\"\",\"\",\"\",\"\"\n"
	    ",,,,,,\n"
	    "x,y,1,z,2,1,2000-01-01\n", NULL, &l);
	assert_int_equal(table_nrows(l.t), 3);
	str_at(&l, "s", 0, "");
	str_at(&l, "t", 0, "");
	null_at(&l, "s", 1);
	null_at(&l, "t", 1);
	for (i = 0; i < 5; i++) {
		null_at(&l, others[i], 0);
		null_at(&l, others[i], 1);
	}
	str_at(&l, "s", 2, "x");
	assert_int_equal(int_at(&l, "i", 2), 1);
	dict_is(&l, "c", 1, "z");		/* "" never entered it */
	unload(&l);
	schema_free(s);
}

static void
test_required(void **state)
{
	struct schema *s = schema_of("return { name = \"t\", unit = \"@row\","
	    " columns = {"
	    " { name = \"a\", type = \"int\", role = \"quasi\","
	    "   required = true },"
	    " { name = \"b\", type = \"string\", role = \"quasi\","
	    "   required = false } } }");
	struct loaded l;

	(void)state;
	load(s, "a,b\n1,\n2,x\n", NULL, &l);
	assert_int_equal(int_at(&l, "a", 0), 1);
	null_at(&l, "b", 0);
	assert_null(col(&l, "a")->nulls);
	unload(&l);
	fails(s, "a,b\n1,x\n,y\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (a): a value is required", NULL, NULL);
	fails(s, "b,a\nx,1\ny,\"\"\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 2 (a): a value is required", NULL, NULL);
	schema_free(s);
}

static void
test_unit_nulls(void **state)
{
	struct schema *s = schema_of("return { name = \"t\", unit = \"id\","
	    " columns = {"
	    " { name = \"age\", type = \"int\", role = \"quasi\" },"
	    " { name = \"id\", type = \"string\", role = \"identifier\","
	    "   action = \"pseudonymize\" } } }");
	struct loaded l;

	(void)state;
	assert_int_equal(s->unit_col, 1);
	assert_true(s->cols[1].required);
	load(s, "id,age\nP1,3\nP2,\n", NULL, &l);
	assert_int_equal(col(&l, "id")->flags, TABLE_F_UNIT);
	assert_int_equal(col(&l, "age")->flags, 0);
	str_at(&l, "id", 1, "P2");
	null_at(&l, "age", 1);
	unload(&l);
	fails(s, "id,age\nP1,3\n,4\n", NULL, VEIL_E_TYPE,
	    "t.csv:3: column 1 (id): a value is required", NULL, NULL);
	fails(s, "age,id\n3,P1\n\n4,\n", NULL, VEIL_E_TYPE,
	    "t.csv:4: column 2 (id): a value is required", NULL, NULL);
	schema_free(s);
}

/* }====== */

/* {====== limits, delimiters, descriptors */

static void
test_limits(void **state)
{
	struct schema *s = ab("");
	struct ingest_opts o;
	char csv[512];
	struct loaded l;

	(void)state;
	ingest_opts_default(&o);
	o.limits.max_record = 64;
	snprintf(csv, sizeof(csv), "a,b\n1,x\n2,y\n3,%0100d\n", 7);
	fails(s, csv, &o, VEIL_E_LIMIT, "t.csv:4:", "max_record", "3,0000");
	snprintf(csv, sizeof(csv), "a,b\n1,\"%0100d\"\n", 7);
	fails(s, csv, &o, VEIL_E_LIMIT, "t.csv:2:", "max_record", NULL);
	load(s, "a,b\n1,x\n", &o, &l);
	unload(&l);

	ingest_opts_default(&o);
	o.limits.max_fields = 2;
	fails(s, "a,b\n1,x,y\n", &o, VEIL_E_LIMIT, "t.csv:2: field 3:",
	    "max_fields", NULL);
	ingest_opts_default(&o);
	o.limits.max_rows = 3;
	load(s, "a,b\n1,x\n2,y\n", &o, &l);
	assert_int_equal(table_nrows(l.t), 2);
	unload(&l);
	fails(s, "a,b\n1,x\n2,y\n3,z\n", &o, VEIL_E_LIMIT, "t.csv:4:",
	    "max_rows", NULL);
	ingest_opts_default(&o);
	o.limits.max_record = 0;
	fails(s, "a,b\n1,x\n", &o, VEIL_E_INVALID, "limits", NULL, NULL);
	schema_free(s);
}

/* Without an error record the code alone must still say what is wrong. */
static void
test_code_without_err(void **state)
{
	struct schema *s = ab("");
	struct table_builder *b[4];
	struct ingest_opts o;
	int r[4];

	(void)state;
	r[0] = ingest_csv_mem("a,b\nx,y\n", 8, "t.csv", s, NULL, &b[0], NULL,
	    NULL);
	r[1] = ingest_csv_mem("a\n1\n", 4, "t.csv", s, NULL, &b[1], NULL,
	    NULL);
	ingest_opts_default(&o);
	o.limits.max_record = 0;	/* refused by the reader at open */
	r[2] = ingest_csv_mem("a,b\n1,x\n", 8, "t.csv", s, &o, &b[2], NULL,
	    NULL);
	ingest_opts_default(&o);
	o.delimiter = '|';
	r[3] = ingest_csv_mem("a|b\n1|x\n", 8, "t.csv", s, &o, &b[3], NULL,
	    NULL);
	schema_free(s);
	assert_int_equal(r[0], VEIL_E_TYPE);
	assert_int_equal(r[1], VEIL_E_SCHEMA);
	assert_int_equal(r[2], VEIL_E_INVALID);
	assert_int_equal(r[3], VEIL_E_INVALID);
	assert_null(b[0]);
	assert_null(b[1]);
	assert_null(b[2]);
	assert_null(b[3]);
}

static void
test_delimiters(void **state)
{
	struct schema *s;
	struct ingest_opts o;
	struct loaded l;

	(void)state;
	/* detected */
	s = ab("");
	load(s, "a\tb\n1\tx,y;z\n", NULL, &l);
	assert_int_equal(l.st.delimiter, '\t');
	str_at(&l, "b", 0, "x,y;z");
	unload(&l);
	load(s, "a;b\n1;x,y\n", NULL, &l);
	assert_int_equal(l.st.delimiter, ';');
	str_at(&l, "b", 0, "x,y");
	unload(&l);
	schema_free(s);

	/* the schema's, even where the header suggests another */
	s = ab("csv = { delimiter = \";\" },");
	load(s, "a;b\n1;x,y,z\n", NULL, &l);
	assert_int_equal(l.st.delimiter, ';');
	str_at(&l, "b", 0, "x,y,z");
	unload(&l);
	fails(s, "a,b\n1,x\n", NULL, VEIL_E_SCHEMA, "\"a,b\"", NULL, NULL);
	/* the caller's over the schema's */
	ingest_opts_default(&o);
	o.delimiter = ',';
	load(s, "a,b\n1,x;y\n", &o, &l);
	assert_int_equal(l.st.delimiter, ',');
	str_at(&l, "b", 0, "x;y");
	unload(&l);
	o.delimiter = '|';
	fails(s, "a|b\n1|x\n", &o, VEIL_E_INVALID, "delimiter", NULL, NULL);
	schema_free(s);

	s = ab("csv = { delimiter = \"tab\" },");
	load(s, "a\tb\n1\tx;y\n", NULL, &l);
	str_at(&l, "b", 0, "x;y");
	unload(&l);
	schema_free(s);
}

static void
test_fd(void **state)
{
	const char *csv = "b,a\n\"x\ny\",1\n,2\n";
	struct schema *s = ab("");
	struct table_builder *b = NULL;
	struct ingest_stats st;
	struct veil_err err;
	struct table *t = NULL;
	char path[] = "/tmp/veil-test-ingest-XXXXXX";
	const struct table_colview *c;
	void *buf;
	size_t len;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	veil_err_clear(&err);
	assert_int_equal(ingest_csv_fd(fd, "f.csv", s, NULL, &b, &st, &err),
	    0);
	assert_int_equal(st.rows, 2);
	assert_int_equal(st.bytes, strlen(csv));
	assert_int_equal(table_builder_finish(b, &buf, &len, &err), 0);
	table_builder_free(b);
	assert_int_equal(table_open(buf, len, &t, &err), 0);
	c = table_column(t, 0);
	assert_string_equal(c->name, "a");
	assert_int_equal(((const int64_t *)c->data)[1], 2);
	c = table_column(t, 1);
	assert_false(table_isnull(c, 0));
	assert_true(table_isnull(c, 1));
	table_free(t);
	free(buf);

	/* errors name the file given */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(write(fd, "a,b\nq,x\n", 8), 8);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	b = (struct table_builder *)1;
	assert_int_equal(ingest_csv_fd(fd, "f.csv", s, NULL, &b, NULL, &err),
	    VEIL_E_TYPE);
	assert_null(b);
	has(&err, "f.csv:2: column 1 (a): not an integer");
	close(fd);
	schema_free(s);
}

/* }====== */

/* {====== parallel ingestion: the same table, the same first error */

static const char par_schema_src[] =
    "return { name = \"p\", unit = \"id\", columns = {\n"
    "  { name = \"id\", type = \"string\", role = \"identifier\",\n"
    "    action = \"pseudonymize\", required = true },\n"
    "  { name = \"n\", type = \"int\", role = \"quasi\",\n"
    "    range = { -1000000, 1000000 } },\n"
    "  { name = \"x\", type = \"float\", role = \"insensitive\" },\n"
    "  { name = \"ok\", type = \"bool\", role = \"sensitive\" },\n"
    "  { name = \"d\", type = \"date\", role = \"quasi\" },\n"
    "  { name = \"c\", type = \"category\", role = \"sensitive\",\n"
    "    values = { \"a\", \"b\", \"c\" } },\n"
    "  { name = \"u\", type = \"category\", role = \"insensitive\" },\n"
    "  { name = \"t\", type = \"text\", role = \"text\" },\n"
    "} }\n";

/* What par_csv() puts in row bad (if any) instead of a valid row. */
enum par_bad {
	PB_NONE,
	PB_INT,		/* n is not a number */
	PB_RANGE,	/* n out of range */
	PB_FIELDS,	/* one field too many */
	PB_UTF8,	/* t is not UTF-8 */
	PB_STRAY,	/* a quote inside an unquoted field */
	PB_OPEN,	/* t opens a quote that never closes */
	PB_CAT,		/* c is not declared */
};

struct par_text {
	char	*p;
	size_t	 len, cap;
	uint64_t lines;	/* line feeds so far */
};

static void
pt_add(struct par_text *t, const char *p, size_t n)
{
	size_t i;

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		assert_non_null(t->p = realloc(t->p, t->cap));
	}
	memcpy(t->p + t->len, p, n);
	for (i = 0; i < n; i++)
		t->lines += p[i] == '\n';
	t->len += n;
	t->p[t->len] = '\0';
}

static void
pt_fmt(struct par_text *t, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(buf));
	pt_add(t, buf, (size_t)n);
}

/*
 * par_csv's long quoted fields: lines of ', ""quoted""' (a quote that is
 * doubled says that a split point among them is inside quotes), of words
 * only (nothing near a split point says: the split is on counted
 * quotes), or none.
 */
static enum { PL_PLAIN, PL_BARE, PL_NONE } par_long = PL_PLAIN;

/*
 * A CSV of at least len bytes for par_schema_src with the cases pieces
 * must agree on: nulls in every column (so that a piece's null bits start
 * mid-byte), a dictionary that keeps growing, "" escapes, quoted
 * delimiters, empty and quoted empty text, blank lines, line ends eol,
 * and quoted fields spanning many lines, a long one at each eighth of the
 * input so that the even split points fall inside quotes. Row bad (from
 * 1) is made bad as kind says; *linep is set to its line.
 */
static char *
par_csv(size_t len, const char *eol, const int *bad, const enum par_bad *kind,
    size_t nbad, uint64_t *lines, size_t *lenp)
{
	struct par_text t;
	uint64_t row, x = 88172645463325252ULL;
	size_t next_long = len / 8, j, k;
	enum par_bad b;

	memset(&t, 0, sizeof(t));
	pt_fmt(&t, "id,n,x,ok,d,c,u,t%s", eol);
	for (row = 1; t.len < len; row++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b = PB_NONE;
		for (k = 0; k < nbad; k++)
			if ((uint64_t)bad[k] == row) {
				b = kind[k];
				lines[k] = t.lines + 1;
			}
		if (x % 97 == 0)
			pt_add(&t, eol, strlen(eol));	/* a blank line */
		pt_fmt(&t, "r%llu,", (unsigned long long)row);
		if (b == PB_INT)
			pt_fmt(&t, "12x,");
		else if (b == PB_RANGE)
			pt_fmt(&t, "2000000,");
		else if (b == PB_STRAY)
			pt_fmt(&t, "1\"2,");
		else if (x % 7 == 0)
			pt_fmt(&t, ",");
		else
			pt_fmt(&t, "%lld,", (long long)(x % 200001) - 100000);
		if (x % 11 == 0)
			pt_fmt(&t, ",");
		else
			pt_fmt(&t, "%llu.%02llu,", (unsigned long long)(x % 5000),
			    (unsigned long long)(x / 7 % 100));
		pt_fmt(&t, "%s,", x % 13 == 0 ? "" : x % 2 ? "true" : "N");
		if (x % 17 == 0)
			pt_fmt(&t, ",");
		else
			pt_fmt(&t, "20%02llu-%02llu-%02llu,",
			    (unsigned long long)(x % 30),
			    (unsigned long long)(x / 3 % 12 + 1),
			    (unsigned long long)(x / 5 % 28 + 1));
		if (b == PB_CAT)
			pt_fmt(&t, "z,");
		else
			pt_fmt(&t, "%s,", x % 19 == 0 ? "" :
			    (const char *[]){ "a", "b", "c" }[x / 11 % 3]);
		/* new values keep coming: row numbers, then repeats */
		if (x % 23 == 0)
			pt_fmt(&t, ",");
		else
			pt_fmt(&t, "v%llu,", (unsigned long long)(x % (row /
			    4 + 1)));
		if (b == PB_UTF8)
			pt_fmt(&t, "bad \xc3\x28 byte");
		else if (b == PB_OPEN)
			pt_fmt(&t, "\"never closed%s", eol);
		else if (t.len >= next_long && par_long != PL_NONE) {
			/* many lines in quotes across an even split point */
			pt_fmt(&t, "\"long");
			for (j = 0; j < 2000; j++)
				pt_fmt(&t, par_long == PL_BARE ? "%sline %zu" :
				    "%sline %zu, \"\"quoted\"\"", eol, j);
			pt_fmt(&t, "\"");
			next_long += len / 8;
		} else {
			switch (x / 29 % 8) {
			case 0:
				break;
			case 1:
				pt_fmt(&t, "\"\"");
				break;
			case 2:
				pt_fmt(&t, "plain words");
				break;
			case 3:
				pt_fmt(&t, "\"with, a comma\"");
				break;
			case 4:
				pt_fmt(&t, "\"say \"\"hi\"\"\"");
				break;
			case 5:
				pt_fmt(&t, "\"two%slines\"", eol);
				break;
			case 6:
				pt_fmt(&t, "caf\xc3\xa9 \xe4\xb8\xad");
				break;
			default:
				pt_fmt(&t, "\"%s\"", eol);
				break;
			}
		}
		if (b == PB_FIELDS)
			pt_fmt(&t, ",extra");
		pt_add(&t, eol, strlen(eol));
	}
	*lenp = t.len;
	return t.p;
}

/*
 * Ingests csv (in memory, or from a file when fd >= 0) with options o;
 * returns the code, and the finished table or the error. st may be NULL.
 */
static int
run_opts(const struct schema *s, const char *csv, size_t len, int fd,
    const struct ingest_opts *o, void **bufp, size_t *lenp,
    struct ingest_stats *st, struct veil_err *err)
{
	struct table_builder *b = NULL;
	int r;

	veil_err_clear(err);
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	*bufp = NULL;
	*lenp = 0;
	if (fd >= 0) {
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		r = ingest_csv_fd(fd, "t.csv", s, o, &b, st, err);
	} else
		r = ingest_csv_mem(csv, len, "t.csv", s, o, &b, st, err);
	if (r != 0) {
		assert_null(b);
		return r;
	}
	assert_int_equal(table_builder_finish(b, bufp, lenp, err), 0);
	table_builder_free(b);
	return 0;
}

/* run_opts with the given threads, the other options the defaults. */
static int
par_run(const struct schema *s, const char *csv, size_t len, int fd,
    int threads, void **bufp, size_t *lenp, struct ingest_stats *st,
    struct veil_err *err)
{
	struct ingest_opts o;

	ingest_opts_default(&o);
	o.threads = threads;
	return run_opts(s, csv, len, fd, &o, bufp, lenp, st, err);
}

/* a and b are the same table; if not, says which column differs first. */
static void
same_table(const void *a, size_t alen, const void *b, size_t blen)
{
	const struct table_colview *ca, *cb;
	struct table *ta, *tb;
	struct veil_err err;
	unsigned int i;
	uint64_t row;
	size_t la, lb;
	const char *pa, *pb;

	if (alen == blen && memcmp(a, b, alen) == 0)
		return;
	assert_int_equal(table_open(a, alen, &ta, &err), 0);
	assert_int_equal(table_open(b, blen, &tb, &err), 0);
	assert_int_equal(table_nrows(ta), table_nrows(tb));
	for (i = 0; i < table_ncols(ta); i++) {
		ca = table_column(ta, i);
		cb = table_column(tb, i);
		if (ca->dict_n != cb->dict_n || ca->heap_len != cb->heap_len)
			fail_msg("column %s: dictionary %u/%u, heap %llu/%llu",
			    ca->name, ca->dict_n, cb->dict_n,
			    (unsigned long long)ca->heap_len,
			    (unsigned long long)cb->heap_len);
		for (row = 0; row < table_nrows(ta); row++) {
			if (table_isnull(ca, row) != table_isnull(cb, row))
				fail_msg("column %s row %llu: null %d/%d",
				    ca->name, (unsigned long long)row,
				    table_isnull(ca, row),
				    table_isnull(cb, row));
			if (ca->type == VEIL_T_CATEGORY) {
				pa = table_dict(ca, ((const uint32_t *)
				    ca->data)[row], &la);
				pb = table_dict(cb, ((const uint32_t *)
				    cb->data)[row], &lb);
			} else if (ca->type == VEIL_T_STRING) {
				pa = table_str(ca, row, &la);
				pb = table_str(cb, row, &lb);
			} else {
				la = lb = ca->type == VEIL_T_BOOL ? 1 :
				    ca->type == VEIL_T_DATE ? 4 : 8;
				pa = (const char *)ca->data + row * la;
				pb = (const char *)cb->data + row * lb;
			}
			if (la != lb || memcmp(pa, pb, la) != 0)
				fail_msg("column %s row %llu: \"%.*s\" / "
				    "\"%.*s\"", ca->name,
				    (unsigned long long)row, (int)la, pa,
				    (int)lb, pb);
		}
	}
	fail_msg("the tables differ (%zu, %zu bytes)", alen, blen);
}

static int
par_file(const char *csv, size_t len)
{
	char path[] = "/tmp/veil-test-ingest-XXXXXX";
	int fd;

	assert_true((fd = mkstemp(path)) >= 0);
	unlink(path);
	assert_int_equal(write(fd, csv, len), (ssize_t)len);
	return fd;
}

#define PAR_LEN	(9u << 19)	/* big enough for 4 threads */
#define PAR_LEN2 (3u << 20)	/* for 2 */

static void
test_parallel_same_table(void **state)
{
	static const char *eols[] = { "\n", "\r\n" };
	struct schema *s = schema_of(par_schema_src);
	struct ingest_stats st, st1;
	struct veil_err err;
	struct table *t;
	void *ref, *buf;
	size_t reflen, len, csvlen, e;
	char *csv;
	int threads, fd;

	(void)state;
	for (e = 0; e < 2; e++) {
		csv = par_csv(PAR_LEN, eols[e], NULL, NULL, 0, NULL, &csvlen);
		assert_int_equal(par_run(s, csv, csvlen, -1, 1, &ref, &reflen,
		    &st1, &err), 0);
		assert_int_equal(st1.threads, 1);
		assert_int_equal(table_open(ref, reflen, &t, &err), 0);
		assert_true(table_nrows(t) > 10000);
		table_free(t);
		for (threads = 2; threads <= 4; threads++) {
			if (par_run(s, csv, csvlen, -1, threads, &buf, &len,
			    &st, &err) != 0)
				fail_msg("%d threads: %s", threads, err.msg);
			assert_int_equal(st.threads, threads);
			assert_int_equal(st.rows, st1.rows);
			assert_int_equal(st.bytes, csvlen);
			assert_int_equal(st.delimiter, ',');
			same_table(buf, len, ref, reflen);
			free(buf);
		}
		/* a regular file is mapped and shared out too */
		fd = par_file(csv, csvlen);
		assert_int_equal(par_run(s, NULL, 0, fd, 2, &buf, &len, &st,
		    &err), 0);
		assert_int_equal(st.threads, 2);
		assert_int_equal(lseek(fd, 0, SEEK_CUR), (off_t)csvlen);
		same_table(buf, len, ref, reflen);
		free(buf);
		close(fd);
		free(ref);
		free(csv);
	}
	schema_free(s);
}

/*
 * However the input is split (at boundaries guessed from the bytes near
 * them, or from counted quotes where those do not tell), the table is
 * the one a single pass builds.
 */
static void
test_parallel_split(void **state)
{
	static const struct {
		int	long_kind;
		int	split;
	} cases[] = {
		{ PL_PLAIN, INGEST_SPLIT_GUESSED },
		{ PL_NONE, INGEST_SPLIT_GUESSED },
		{ PL_BARE, INGEST_SPLIT_COUNTED },
	};
	struct schema *s = schema_of(par_schema_src);
	struct ingest_stats st, st1;
	struct veil_err err;
	void *ref, *buf;
	size_t reflen, len, csvlen, k;
	char *csv;
	int threads;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		par_long = cases[k].long_kind;
		csv = par_csv(PAR_LEN, "\n", NULL, NULL, 0, NULL, &csvlen);
		par_long = PL_PLAIN;
		assert_int_equal(par_run(s, csv, csvlen, -1, 1, &ref, &reflen,
		    &st1, &err), 0);
		assert_int_equal(st1.split, INGEST_SPLIT_NONE);
		for (threads = 2; threads <= 4; threads++) {
			if (par_run(s, csv, csvlen, -1, threads, &buf, &len,
			    &st, &err) != 0)
				fail_msg("case %zu, %d threads: %s", k,
				    threads, err.msg);
			/* 3 threads' split points miss the long fields */
			if (threads == 3 ? st.split != INGEST_SPLIT_GUESSED :
			    st.split != cases[k].split)
				fail_msg("case %zu, %d threads: split %d, "
				    "expected %d", k, threads, st.split,
				    cases[k].split);
			assert_int_equal(st.rows, st1.rows);
			same_table(buf, len, ref, reflen);
			free(buf);
		}
		free(ref);
		free(csv);
	}
	schema_free(s);
}

/*
 * Bad rows early, late, or both: with threads the error is the one the
 * single pass reports, word for word: the first in file order, its line.
 */
static void
test_parallel_first_error(void **state)
{
	static const struct {
		int		 rows[2];
		enum par_bad	 kind[2];
		size_t		 n;
		int		 code;
		const char	*what;
	} cases[] = {
		{ { 20000 }, { PB_INT }, 1, VEIL_E_TYPE, "not an integer" },
		{ { 2000, 20000 }, { PB_RANGE, PB_INT }, 2, VEIL_E_RANGE,
		    "outside" },
		{ { 15000, 3000 }, { PB_UTF8, PB_FIELDS }, 2, VEIL_E_PARSE,
		    "fields, the header has 8" },
		{ { 19000 }, { PB_UTF8 }, 1, VEIL_E_TYPE, "invalid UTF-8" },
		{ { 4000, 12000 }, { PB_STRAY, PB_INT }, 2, VEIL_E_PARSE,
		    "quote inside an unquoted field" },
		/* the error is where a later quote closes it: no line */
		{ { 14000 }, { PB_OPEN }, 1, VEIL_E_PARSE, NULL },
		{ { 9000, 16000 }, { PB_CAT, PB_CAT }, 2, VEIL_E_RANGE,
		    "not one of the declared values" },
	};
	struct schema *s = schema_of(par_schema_src);
	struct ingest_stats st;
	struct veil_err err1, err;
	uint64_t lines[2];
	void *buf;
	size_t len, csvlen, i, first;
	char *csv, at[64];
	int fd;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		csv = par_csv(PAR_LEN2, "\n", cases[i].rows, cases[i].kind,
		    cases[i].n, lines, &csvlen);
		assert_int_equal(par_run(s, csv, csvlen, -1, 1, &buf, &len,
		    &st, &err1), cases[i].code);
		first = cases[i].n == 2 && cases[i].rows[1] <
		    cases[i].rows[0] ? 1 : 0;
		snprintf(at, sizeof(at), "t.csv:%llu:",
		    (unsigned long long)lines[first]);
		if (cases[i].what != NULL)
			has(&err1, at);
		has(&err1, cases[i].what);
		assert_int_equal(par_run(s, csv, csvlen, -1, 2, &buf, &len,
		    &st, &err), cases[i].code);
		assert_string_equal(err.msg, err1.msg);
		fd = par_file(csv, csvlen);
		assert_int_equal(par_run(s, NULL, 0, fd, 2, &buf, &len, &st,
		    &err), cases[i].code);
		assert_string_equal(err.msg, err1.msg);
		close(fd);
		free(csv);
	}
	schema_free(s);
}

/* max_rows counts the records of every piece together. */
static void
test_parallel_max_rows(void **state)
{
	struct schema *s = schema_of(par_schema_src);
	struct ingest_stats st;
	struct ingest_opts o;
	struct table_builder *b;
	struct veil_err err1, err;
	uint64_t rows;
	void *buf;
	size_t len, csvlen;
	char *csv;

	(void)state;
	csv = par_csv(PAR_LEN2, "\n", NULL, NULL, 0, NULL, &csvlen);
	assert_int_equal(par_run(s, csv, csvlen, -1, 1, &buf, &len, &st,
	    &err), 0);
	free(buf);
	rows = st.rows;
	ingest_opts_default(&o);
	/* exactly enough (the header is a record), then one short */
	o.limits.max_rows = rows + 1;
	o.threads = 2;
	assert_int_equal(ingest_csv_mem(csv, csvlen, "t.csv", s, &o, &b, &st,
	    &err), 0);
	assert_int_equal(st.threads, 2);
	assert_int_equal(st.rows, rows);
	table_builder_free(b);
	o.limits.max_rows = rows;
	o.threads = 1;
	assert_int_equal(ingest_csv_mem(csv, csvlen, "t.csv", s, &o, &b, NULL,
	    &err1), VEIL_E_LIMIT);
	has(&err1, "max_rows");
	o.threads = 2;
	assert_int_equal(ingest_csv_mem(csv, csvlen, "t.csv", s, &o, &b, NULL,
	    &err), VEIL_E_LIMIT);
	assert_null(b);
	assert_string_equal(err.msg, err1.msg);
	free(csv);
	schema_free(s);
}

/* Small inputs are not worth threads: one pass, whatever was asked. */
static void
test_parallel_small(void **state)
{
	struct schema *s = schema_of(par_schema_src);
	struct ingest_stats st;
	struct veil_err err;
	void *buf;
	size_t len, csvlen;
	char *csv;

	(void)state;
	csv = par_csv(64 << 10, "\n", NULL, NULL, 0, NULL, &csvlen);
	assert_int_equal(par_run(s, csv, csvlen, -1, 4, &buf, &len, &st,
	    &err), 0);
	assert_int_equal(st.threads, 1);
	free(buf);
	free(csv);
	schema_free(s);
}

/* }====== */

/* {====== the fused path: it must agree with csv_next and put_field */

static const char fu_schema_src[] =
    "return { name = \"f\", unit = \"id\", ignore = { \"skip\" },\n"
    "  columns = {\n"
    "  { name = \"id\", type = \"string\", role = \"identifier\",\n"
    "    action = \"pseudonymize\", required = true },\n"
    "  { name = \"n\", type = \"int\", role = \"quasi\",\n"
    "    range = { -1000000, 1000000 } },\n"
    "  { name = \"x\", type = \"float\", role = \"insensitive\" },\n"
    "  { name = \"ok\", type = \"bool\", role = \"sensitive\" },\n"
    "  { name = \"d\", type = \"date\", role = \"quasi\",\n"
    "    range = { \"1990-01-01\", \"2030-12-31\" } },\n"
    "  { name = \"c\", type = \"category\", role = \"sensitive\",\n"
    "    values = { \"a\", \"b\", \"c\" }, required = true },\n"
    "  { name = \"u\", type = \"category\", role = \"insensitive\" },\n"
    "  { name = \"t\", type = \"text\", role = \"text\" },\n"
    "} }\n";

static int
fu_run(const struct schema *s, const char *csv, size_t len, int fd,
    int fused, int threads, const struct csv_limits *lim, void **bufp,
    size_t *lenp, struct veil_err *err)
{
	struct ingest_opts o;

	ingest_opts_default(&o);
	o.threads = threads;
	o.fused = fused;
	o.piece_min = 64;
	if (lim != NULL)
		o.limits = *lim;
	return run_opts(s, csv, len, fd, &o, bufp, lenp, NULL, err);
}

/*
 * Ingests csv every way: a record at a time (the reference), and fused
 * with each kind of stop masks, in one pass from memory, in pieces (the
 * spans read in place, whose last records go to csv_next), and, with
 * use_fd, from a file read in chunks (records cut by the buffer's end).
 * All must agree, on the table's bytes or on the error's text. Returns
 * the reference's code.
 */
static int
fu_agree(const struct schema *s, const char *csv, size_t len, int use_fd,
    const struct csv_limits *lim)
{
	static const int kinds[] = { INGEST_FUSED_BEST, INGEST_FUSED_SSE2,
	    INGEST_FUSED_BYTES };
	struct veil_err e0, e;
	void *b0, *b;
	size_t l0, l, k;
	int r0, r, fd = -1, mode;

	r0 = fu_run(s, csv, len, -1, INGEST_FUSED_OFF, 1, lim, &b0, &l0, &e0);
	if (use_fd)
		fd = par_file(csv, len);
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		for (mode = 0; mode < (use_fd ? 3 : 2); mode++) {
			r = fu_run(s, csv, len, mode == 2 ? fd : -1, kinds[k],
			    mode == 1 ? 2 : 1, lim, &b, &l, &e);
			if (r != r0)
				fail_msg("kind %d mode %d: %d (%s), record at a "
				    "time %d (%s)", kinds[k], mode, r, e.msg,
				    r0, e0.msg);
			if (r0 == 0)
				same_table(b, l, b0, l0);
			else
				assert_string_equal(e.msg, e0.msg);
			free(b);
		}
	}
	if (fd >= 0)
		close(fd);
	free(b0);
	return r0;
}

/* A row of fu_schema_src's columns (and skip) from x, text t. */
static void
fu_row(struct par_text *pt, uint64_t x, const char *t, const char *eol)
{
	static const char *texts[] = { "", "\"\"", "plain", "\"a, b\"",
	    "\"say \"\"hi\"\"\"", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87",
	    "\"\xe4\xb8\xad\"\"\xe6\x96\x87\"" };
	size_t i, n = x % 9;

	pt_fmt(pt, "r");
	for (i = 0; i < n; i++)
		pt_fmt(pt, "%c", (char)('a' + (x >> i) % 26));
	pt_fmt(pt, ",%s,", x % 7 == 0 ? "" : x % 5 == 0 ? "-42" : "123456");
	pt_fmt(pt, "%s,", x % 11 == 0 ? "" : x % 3 ? "1596.78" : "0.5e3");
	pt_fmt(pt, "%s,", (const char *[]){ "true", "f", "", "YES" }[x % 4]);
	pt_fmt(pt, "20%02u-%02u-%02u,", (unsigned)(x % 25),
	    (unsigned)(x / 3 % 12 + 1), (unsigned)(x / 5 % 28 + 1));
	pt_fmt(pt, "%s,", (const char *[]){ "a", "b", "c", "\"b\"" }[x / 7 %
	    4]);
	pt_fmt(pt, "%s,", x % 13 == 0 ? "" : (const char *[]){ "u1",
	    "\xe4\xb8\xad", "\"a longer value, quoted\"", "v9" }[x / 3 % 4]);
	pt_fmt(pt, "s%u,", (unsigned)(x % 100));
	pt_fmt(pt, "%s%s", t != NULL ? t : texts[x / 17 % 7], eol);
}

static uint64_t
fu_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Fields of every length and escapes at every offset, so that fields,
 * quotes, "" pairs, CRLF and line feeds in quotes fall on both sides of
 * every 64-byte block boundary and at every offset in a block.
 */
static void
test_fused_offsets(void **state)
{
	static const char *eols[] = { "\n", "\r\n" };
	struct schema *s = schema_of(fu_schema_src);
	struct par_text pt;
	char t[512];
	uint64_t x = 12345;
	size_t e, k, i, n;

	(void)state;
	for (e = 0; e < 2; e++) {
		memset(&pt, 0, sizeof(pt));
		pt_fmt(&pt, "id,n,x,ok,d,c,u,skip,t%s", eols[e]);
		for (k = 0; k < 140; k++) {
			/* plain text of every length */
			n = k;
			for (i = 0; i < n; i++)
				t[i] = (char)('a' + i % 26);
			t[n] = '\0';
			fu_row(&pt, fu_rand(&x), t, eols[e]);
			/* a "" pair at every offset of a quoted field */
			n = 0;
			t[n++] = '"';
			for (i = 0; i < k % 70; i++)
				t[n++] = 'q';
			t[n++] = '"';
			t[n++] = '"';
			for (i = 0; i < k % 5; i++)
				t[n++] = ',';
			t[n++] = '"';
			t[n] = '\0';
			fu_row(&pt, fu_rand(&x), t, eols[e]);
			/* line ends in quotes at every offset */
			snprintf(t, sizeof(t), "\"%.*s%s%.*s\"", (int)(k % 67),
			    "0123456789012345678901234567890123456789012345"
			    "678901234567890123456789", eols[e],
			    (int)(k % 3), "xyz");
			fu_row(&pt, fu_rand(&x), t, eols[e]);
			fu_row(&pt, fu_rand(&x), NULL, eols[e]);
		}
		assert_int_equal(fu_agree(s, pt.p, pt.len, 1, NULL), 0);
		/* without the last line end */
		assert_int_equal(fu_agree(s, pt.p, pt.len - strlen(eols[e]), 0,
		    NULL), 0);
		free(pt.p);
	}
	schema_free(s);
}

/*
 * Invalid UTF-8 at every position of a record: in a text field it is an
 * error naming the column; in the ignored column it is not one.
 */
static void
test_fused_utf8(void **state)
{
	static const char *bad[] = { "\xff", "\xe4", "\xc3\x28", "\xed\xa0" };
	struct schema *s = schema_of(fu_schema_src);
	struct par_text pt, row;
	uint64_t x = 777;
	size_t pos, b, k, errs = 0;
	char *csv;

	(void)state;
	memset(&row, 0, sizeof(row));
	fu_row(&row, 5, "\"caf\xc3\xa9, \xe4\xb8\xad\xe6\x96\x87 notes\"",
	    "\n");
	for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
		for (pos = 0; pos + 1 < row.len; pos++) {
			memset(&pt, 0, sizeof(pt));
			pt_fmt(&pt, "id,n,x,ok,d,c,u,skip,t\n");
			for (k = 0; k < 3; k++)
				fu_row(&pt, fu_rand(&x), NULL, "\n");
			pt_add(&pt, row.p, pos);
			pt_add(&pt, bad[b], strlen(bad[b]));
			pt_add(&pt, row.p + pos + 1, row.len - pos - 1);
			for (k = 0; k < 3; k++)
				fu_row(&pt, fu_rand(&x), NULL, "\n");
			csv = pt.p;
			errs += fu_agree(s, csv, pt.len, 0, NULL) != 0;
			free(csv);
		}
	}
	assert_true(errs > 0);
	schema_free(s);
	free(row.p);
}

/*
 * Single-byte changes anywhere in a valid input, from the bytes that
 * matter to a CSV reader and a typed parser.
 */
static void
test_fused_mutations(void **state)
{
	static const char subst[] = { '"', ',', '\n', '\r', 'x', '1', '-',
	    ' ', '\0', (char)0xff, (char)0xe4, '.' };
	struct schema *s = schema_of(fu_schema_src);
	struct par_text pt;
	struct csv_limits lim;
	uint64_t x = 99;
	size_t k, i, n = 1500, ok = 0, pos;
	char *csv;

	(void)state;
	memset(&pt, 0, sizeof(pt));
	pt_fmt(&pt, "id,n,x,ok,d,c,u,skip,t\n");
	for (k = 0; k < 40; k++)
		fu_row(&pt, fu_rand(&x), NULL, k % 3 ? "\n" : "\r\n");
	assert_non_null(csv = malloc(pt.len + 1));
	for (i = 0; i < n; i++) {
		memcpy(csv, pt.p, pt.len);
		pos = 24 + fu_rand(&x) % (pt.len - 24);
		csv[pos] = subst[fu_rand(&x) % sizeof(subst)];
		if (i % 2) {	/* and a second one nearby */
			pos += fu_rand(&x) % 40;
			if (pos < pt.len)
				csv[pos] = subst[fu_rand(&x) % sizeof(subst)];
		}
		ok += fu_agree(s, csv, pt.len, 0, NULL) == 0;
	}
	assert_true(ok > 0 && ok < n);
	/* limits the fused path leaves to csv_next */
	csv_limits_default(&lim);
	lim.max_rows = 20;
	assert_int_not_equal(fu_agree(s, pt.p, pt.len, 1, &lim), 0);
	csv_limits_default(&lim);
	lim.max_record = 60;
	assert_int_not_equal(fu_agree(s, pt.p, pt.len, 1, &lim), 0);
	free(csv);
	free(pt.p);
	schema_free(s);
}

/* More than the reader's buffer: records cut by its end, every kind. */
static void
test_fused_chunks(void **state)
{
	struct schema *s = schema_of(par_schema_src);
	size_t csvlen;
	char *csv;

	(void)state;
	csv = par_csv(PAR_LEN2, "\r\n", NULL, NULL, 0, NULL, &csvlen);
	assert_int_equal(fu_agree(s, csv, csvlen, 1, NULL), 0);
	/* String offsets widened in mid-run: the record goes to put_field. */
	table_builder_test_narrow(5000);
	assert_int_equal(fu_agree(s, csv, csvlen, 1, NULL), 0);
	table_builder_test_narrow(UINT64_MAX);
	free(csv);
	schema_free(s);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_any_order),
		cmocka_unit_test(test_unknown_column),
		cmocka_unit_test(test_missing_column),
		cmocka_unit_test(test_duplicate_header),
		cmocka_unit_test(test_header_utf8_and_empty),
		cmocka_unit_test(test_header_only_and_bom),
		cmocka_unit_test(test_field_count),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_int_column),
		cmocka_unit_test(test_parse_float),
		cmocka_unit_test(test_float_short),
		cmocka_unit_test(test_float_vs_strtod),
		cmocka_unit_test(test_float_column),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_categories),
		cmocka_unit_test(test_utf8_fields),
		cmocka_unit_test(test_empty_vs_quoted),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_unit_nulls),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_code_without_err),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_parallel_same_table),
		cmocka_unit_test(test_parallel_split),
		cmocka_unit_test(test_parallel_first_error),
		cmocka_unit_test(test_parallel_max_rows),
		cmocka_unit_test(test_parallel_small),
		cmocka_unit_test(test_fused_offsets),
		cmocka_unit_test(test_fused_utf8),
		cmocka_unit_test(test_fused_mutations),
		cmocka_unit_test(test_fused_chunks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
