/*
 * test_schema.c: schema files (schema.c) and the Lua data-file evaluator
 * under them (luadata.c). Every error path is driven from a table of
 * schema sources, each with the code it must fail with and the texts its
 * message must contain (file, "column N (name)", offending key); the
 * positive tests load the shipped Adult schema and the DESIGN.md example
 * and check every parsed field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lua.h>

#include "datefmt.h"
#include "hierarchy.h"
#include "luadata.h"
#include "schema.h"

#define NWANT	3

struct bad_case {
	const char	*src;
	int		 code;
	const char	*want[NWANT];	/* substrings of err.msg */
};

/*
 * Column cases: a valid column 1 comes first, so that the offending one
 * is column 2 and messages must count columns from 1.
 */
#define COLS(x)	"return { name = 't', unit = '@row', columns = { " \
	"{ name = 'id', type = 'string', role = 'insensitive' }, " x " } }"
#define TOP(x)	"return { name = 't', unit = '@row', columns = { " \
	"{ name = 'id', type = 'string', role = 'insensitive' } }, " x " }"
#define C2(n)	"bad.lua: column 2 (" n "): "

/*
 * Loads each case with dir = "tests/data" and checks the code, that no
 * schema came back and that every wanted text is in the message. All
 * cases run; each mismatch is printed, then the test fails once.
 */
static void
run_cases(const struct bad_case *cases, size_t n)
{
	struct schema *s;
	struct veil_err err;
	size_t i, j, nfail = 0;
	int r, bad;

	for (i = 0; i < n; i++) {
		s = (struct schema *)&s;	/* must be reset to NULL */
		veil_err_clear(&err);
		r = schema_load_buffer(cases[i].src, strlen(cases[i].src),
		    "bad.lua", "tests/data", &s, &err);
		bad = r != cases[i].code || s != NULL || err.code != r;
		for (j = 0; j < NWANT && cases[i].want[j] != NULL; j++)
			if (strstr(err.msg, cases[i].want[j]) == NULL)
				bad = 1;
		if (bad) {
			print_error("case %zu: %s\n  got %d \"%s\", want %d "
			    "with \"%s\" \"%s\"\n", i, cases[i].src, r, err.msg,
			    cases[i].code, cases[i].want[0],
			    cases[i].want[1] ? cases[i].want[1] : "");
			nfail++;
		}
		if (r == 0)
			schema_free(s);
	}
	assert_int_equal(nfail, 0);
}

#define RUN(cases)	run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* Loads src, which must be valid; fails the test with the message if not. */
static struct schema *
load_ok(const char *src, const char *dir)
{
	struct schema *s = NULL;
	struct veil_err err;
	int r;

	veil_err_clear(&err);
	r = schema_load_buffer(src, strlen(src), "ok.lua", dir, &s, &err);
	if (r != 0)
		fail_msg("%d: %s", r, err.msg);
	assert_non_null(s);
	return s;
}

/* {====== the Lua evaluator */

static void
test_lua_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ "return {", VEIL_E_LUA, { "bad.lua:1:", "near <eof>" } },
		{ "local x = nil\nreturn x.y", VEIL_E_LUA,
		    { "bad.lua:2:", "attempt to index a nil value" } },
		{ "return { name = 1 + {} }", VEIL_E_LUA,
		    { "bad.lua:1:", "arithmetic on a table value" } },
		{ "return 5", VEIL_E_SCHEMA, { "bad.lua: the file must return "
		    "a table (it returned number)" } },
		{ "", VEIL_E_SCHEMA, { "bad.lua: ", "(it returned nil)" } },
		{ "return 'x'", VEIL_E_SCHEMA, { "bad.lua: ",
		    "(it returned string)" } },
		/* the limits */
		{ "while true do end", VEIL_E_LUA,
		    { "bad.lua", "instruction limit" } },
		{ "local function f() return f() end return f()", VEIL_E_LUA,
		    { "bad.lua", "instruction limit" } },
		{ "local s = 'x' for i = 1, 40 do s = s .. s end return {}",
		    VEIL_E_LUA, { "bad.lua", "not enough memory" } },
		{ "local t = {} for i = 1, 1e8 do t[i] = {} end return t",
		    VEIL_E_LUA, { "bad.lua", "not enough memory" } },
		/* text chunks only */
		{ "\x1bLua\x54\x00\x19\x93\r\n\x1a\n", VEIL_E_LUA,
		    { "bad.lua", "binary chunk" } },
		/* no libraries, no string methods */
		{ "print('x')", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'print'" } },
		{ "return { name = string.rep('x', 3) }", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'string'" } },
		{ "local m = require('os')", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'require'" } },
		{ "return { name = ('x'):rep(3) }", VEIL_E_LUA,
		    { "bad.lua:1:", "index a string value" } },
		{ "local ok = pcall(print)", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'pcall'" } },
		{ "return setmetatable({}, {})", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'setmetatable'" } },
		{ "local f = load('return {}')", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'load'" } },
		{ "dofile('/etc/passwd')", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'dofile'" } },
		{ "os.exit(1)", VEIL_E_LUA, { "bad.lua:1:", "global 'os'" } },
		{ "local f = io.open('/etc/passwd')", VEIL_E_LUA,
		    { "bad.lua:1:", "global 'io'" } },
	};

	(void)state;
	RUN(cases);
}

/* A file over LUADATA_MAX_FILE is refused before Lua sees it. */
static void
test_lua_too_big(void **state)
{
	struct schema *s = NULL;
	struct veil_err err;
	lua_State *L = (lua_State *)&err;
	char *src;

	(void)state;
	assert_non_null(src = malloc(LUADATA_MAX_FILE + 1));
	memset(src, ' ', LUADATA_MAX_FILE + 1);
	memcpy(src, "return {}", 9);
	veil_err_clear(&err);
	assert_int_equal(luadata_eval(src, LUADATA_MAX_FILE + 1, "big.lua",
	    &L, &err), VEIL_E_LIMIT);
	assert_null(L);
	assert_non_null(strstr(err.msg, "big.lua: 4194305 bytes"));
	assert_int_equal(schema_load_buffer(src, LUADATA_MAX_FILE + 1,
	    "big.lua", NULL, &s, &err), VEIL_E_LIMIT);
	assert_null(s);
	/* exactly the limit is evaluated */
	assert_int_equal(luadata_eval(src, LUADATA_MAX_FILE, "big.lua", &L,
	    &err), 0);
	luadata_close(L);
	free(src);
}

static void
test_lua_eval(void **state)
{
	static const char src[] = "local a = { 1, 2, 3 }\n"
	    "return { a, {}, { 1, nil, 3 }, { x = 1 }, { 1, 2, x = 3 }, 's', "
	    "{ [2] = 1 }, { [1.5] = 1 }, n = #a * 2 }";
	lua_State *L = NULL;
	struct veil_err err;
	size_t n;

	(void)state;
	veil_err_clear(&err);
	assert_int_equal(luadata_eval(src, strlen(src), "d.lua", &L, &err), 0);
	assert_non_null(L);
	assert_int_equal(lua_gettop(L), 1);
	assert_string_equal(luadata_typename(L, 1), "table");
	lua_getfield(L, 1, "n");
	assert_int_equal(lua_tointeger(L, -1), 6);
	lua_pop(L, 1);
	/* the returned table itself has a named field: not an array */
	assert_false(luadata_is_array(L, 1, &n));
	assert_int_equal(n, 0);

	lua_rawgeti(L, 1, 1);
	assert_true(luadata_is_array(L, -1, &n));
	assert_int_equal(n, 3);
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 2);
	n = 99;
	assert_true(luadata_is_array(L, -1, &n));
	assert_int_equal(n, 0);
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 3);		/* hole */
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 4);		/* named */
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 5);		/* mixed */
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 6);		/* not a table */
	assert_string_equal(luadata_typename(L, -1), "string");
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 7);		/* starts at 2 */
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 8);		/* float key */
	assert_false(luadata_is_array(L, -1, &n));
	lua_pop(L, 1);
	lua_rawgeti(L, 1, 9);
	assert_string_equal(luadata_typename(L, -1), "nil");
	lua_pop(L, 1);
	assert_int_equal(lua_gettop(L), 1);
	luadata_close(L);
	luadata_close(NULL);
}

static void
test_lua_files(void **state)
{
	char dir[] = "/tmp/veil-test-luadata-XXXXXX", path[64], *buf;
	lua_State *L = (lua_State *)&buf;
	struct veil_err err;
	size_t len;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.lua", dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("return { 1, 2 }\n", fp);
	fclose(fp);

	veil_err_clear(&err);
	assert_int_equal(luadata_slurp(path, 100, &buf, &len, &err), 0);
	assert_int_equal(len, 16);
	assert_string_equal(buf, "return { 1, 2 }\n");
	free(buf);
	assert_int_equal(luadata_slurp(path, 15, &buf, &len, &err),
	    VEIL_E_LIMIT);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "16 bytes, at most 15"));

	assert_int_equal(luadata_eval_file(path, &L, &err), 0);
	assert_int_equal(lua_rawlen(L, 1), 2);
	luadata_close(L);

	/* a directory opens but is not a regular file */
	veil_err_clear(&err);
	assert_int_equal(luadata_eval_file(dir, &L, &err), VEIL_E_IO);
	assert_null(L);
	assert_non_null(strstr(err.msg, dir));
	assert_non_null(strstr(err.msg, "not a regular file"));

	unlink(path);
	veil_err_clear(&err);
	assert_int_equal(luadata_eval_file(path, &L, &err), VEIL_E_IO);
	assert_null(L);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, strerror(ENOENT)));
	assert_int_equal(luadata_slurp(path, 100, &buf, &len, &err),
	    VEIL_E_IO);
	assert_null(buf);
	rmdir(dir);
}

/* }====== */

/* {====== the top level */

static void
test_top_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ TOP("colums = {}"), VEIL_E_SCHEMA,
		    { "bad.lua: unknown key \"colums\"" } },
		{ TOP("[1] = 'x'"), VEIL_E_SCHEMA,
		    { "bad.lua: unexpected number key" } },
		{ "return { unit = '@row', columns = { { name = 'a', "
		    "type = 'int', role = 'quasi' } } }", VEIL_E_SCHEMA,
		    { "bad.lua: name: missing" } },
		{ "return { name = 'a b', unit = '@row', columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: name: use letters, digits" } },
		{ "return { name = 'a/b', unit = '@row', columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: name: use letters" } },
		{ "return { name = '', unit = '@row', columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: name: expected 1 to 64 bytes, "
		    "got 0" } },
		{ "return { name = 'n2345678901234567890123456789012345678901"
		    "234567890123456789012345', unit = '@row', columns = { "
		    "{ name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: name: expected 1 to 64 bytes, "
		    "got 65" } },
		{ "return { name = 7, unit = '@row', columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: name: expected a string, got "
		    "number" } },
		{ TOP("description = 5"), VEIL_E_SCHEMA,
		    { "bad.lua: description: expected a string" } },
		/* columns */
		{ "return { name = 't', unit = '@row' }", VEIL_E_SCHEMA,
		    { "bad.lua: columns: missing" } },
		{ "return { name = 't', unit = '@row', columns = {} }",
		    VEIL_E_SCHEMA, { "bad.lua: columns: expected 1 to 4096 "
		    "entries, got 0" } },
		{ "return { name = 't', unit = '@row', columns = 'a' }",
		    VEIL_E_SCHEMA, { "bad.lua: columns: expected a list {...}, "
		    "got string" } },
		{ "return { name = 't', unit = '@row', columns = { a = { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: columns: expected a list {a, b, "
		    "...} without named fields" } },
		{ "return { name = 't', unit = '@row', columns = { 'a' } }",
		    VEIL_E_SCHEMA, { "bad.lua: column 1: expected a table "
		    "{name = ..., type = ..., role = ...}, got string" } },
		{ COLS("{ name = 'id', type = 'int', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { C2("id") "name: \"id\" is also column 1" } },
		/* unit */
		{ "return { name = 't', columns = { { name = 'a', "
		    "type = 'int', role = 'quasi' } } }", VEIL_E_SCHEMA,
		    { "bad.lua: unit: missing", "@row" } },
		{ "return { name = 't', unit = 'pid', columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: unit: no column is called "
		    "\"pid\"" } },
		{ "return { name = 't', unit = 5, columns = { { "
		    "name = 'a', type = 'int', role = 'quasi' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: unit: expected a string" } },
		{ "return { name = 't', unit = 'a', columns = { { name = 'x', "
		    "type = 'int', role = 'quasi' }, { name = 'a', "
		    "type = 'string', role = 'quasi' } } }", VEIL_E_SCHEMA,
		    { "bad.lua: column 2 (a): the privacy unit column must be "
		    "an identifier with action = \"pseudonymize\"" } },
		{ "return { name = 't', unit = 'a', columns = { { name = 'x', "
		    "type = 'int', role = 'quasi' }, { name = 'a', "
		    "type = 'string', role = 'identifier', action = 'drop' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: column 2 (a): the privacy unit" } },
		{ "return { name = 't', unit = 'a', columns = { { name = 'x', "
		    "type = 'int', role = 'quasi' }, { name = 'a', "
		    "type = 'string', role = 'identifier', action = 'mask' } } }",
		    VEIL_E_SCHEMA, { "bad.lua: column 2 (a): the privacy unit" } },
		/* ignore */
		{ TOP("ignore = { 'extra', 'id' }"), VEIL_E_SCHEMA,
		    { "bad.lua: ignore: \"id\" is also a declared column" } },
		{ TOP("ignore = 'extra'"), VEIL_E_SCHEMA,
		    { "bad.lua: ignore: expected a list" } },
		{ TOP("ignore = { 'a', 3 }"), VEIL_E_SCHEMA,
		    { "bad.lua: ignore: expected a string, got number" } },
		{ TOP("ignore_unknown = 'yes'"), VEIL_E_SCHEMA,
		    { "bad.lua: ignore_unknown: expected true or false, "
		    "got string" } },
		/* csv */
		{ TOP("csv = { delimiter = '|' }"), VEIL_E_SCHEMA,
		    { "bad.lua: csv.delimiter: expected \",\", \";\" or "
		    "\"tab\"" } },
		{ TOP("csv = { delimiter = 'comma' }"), VEIL_E_SCHEMA,
		    { "bad.lua: csv.delimiter: expected" } },
		{ TOP("csv = { delimiter = '' }"), VEIL_E_SCHEMA,
		    { "bad.lua: csv.delimiter: expected 1 to 8 bytes" } },
		{ TOP("csv = { delimiter = 44 }"), VEIL_E_SCHEMA,
		    { "bad.lua: csv.delimiter: expected a string" } },
		{ TOP("csv = { quote = '\"' }"), VEIL_E_SCHEMA,
		    { "bad.lua: unknown key \"quote\"" } },
		{ TOP("csv = ';'"), VEIL_E_SCHEMA,
		    { "bad.lua: csv: expected {delimiter = \",\"}" } },
	};

	(void)state;
	RUN(cases);
}

/* }====== */

/* {====== columns */

static void
test_column_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "rnage = { 0, 120 } }"), VEIL_E_SCHEMA,
		    { "bad.lua: column 2: unknown key \"rnage\"" } },
		{ COLS("{ 'age', name = 'age', type = 'int', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { "bad.lua: column 2: unexpected number key" } },
		/* name */
		{ COLS("{ type = 'int', role = 'quasi' }"), VEIL_E_SCHEMA,
		    { "bad.lua: column 2: name: expected a string, got nil" } },
		{ COLS("{ name = '', type = 'int', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { "bad.lua: column 2: name: expected 1 to "
		    "255 bytes, got 0" } },
		{ COLS("{ name = 'a\\nb', type = 'int', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { "bad.lua: column 2: name: contains a "
		    "control character" } },
		{ COLS("{ name = 'a\\255', type = 'int', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { "bad.lua: column 2: name: not valid "
		    "UTF-8" } },
		/* type and role */
		{ COLS("{ name = 'age', role = 'quasi' }"), VEIL_E_SCHEMA,
		    { C2("age") "type: missing" } },
		{ COLS("{ name = 'age', type = 'integer', role = 'quasi' }"),
		    VEIL_E_SCHEMA, { C2("age") "type: unknown value \"integer\" "
		    "(expected one of int, float, bool, category, string, date, "
		    "text)" } },
		{ COLS("{ name = 'age', type = 3, role = 'quasi' }"),
		    VEIL_E_SCHEMA, { C2("age") "type: expected a string, got "
		    "number" } },
		{ COLS("{ name = 'age', type = 'int' }"), VEIL_E_SCHEMA,
		    { C2("age") "role: missing" } },
		{ COLS("{ name = 'age', type = 'int', role = 'qi' }"),
		    VEIL_E_SCHEMA, { C2("age") "role: unknown value \"qi\"" } },
		{ COLS("{ name = 'n', type = 'int', role = 'text' }"),
		    VEIL_E_SCHEMA, { C2("n") "role: a text column has type text "
		    "or string" } },
		{ COLS("{ name = 'n', type = 'category', role = 'text' }"),
		    VEIL_E_SCHEMA, { C2("n") "role: a text column" } },
		{ COLS("{ name = 'n', type = 'text', role = 'sensitive' }"),
		    VEIL_E_SCHEMA, { C2("n") "type: text columns take role = "
		    "\"text\"" } },
		/* action, mask, length */
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "action = 'drop' }"), VEIL_E_SCHEMA,
		    { C2("age") "action: only identifier columns take an "
		    "action" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'keep' }"), VEIL_E_SCHEMA,
		    { C2("pid") "action: an identifier cannot be kept" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'hash' }"), VEIL_E_SCHEMA,
		    { C2("pid") "action: unknown value \"hash\" (expected one of "
		    "keep, drop, pseudonymize, mask)" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'drop', mask = { prefix = 1 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask: only with action = \"mask\"" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "mask = { prefix = 1 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask: only with action" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = 3 }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask: expected {prefix = N, suffix = M}" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { prefix = 65 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask.prefix: expected 0 to 64, got 65" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { prefix = -1 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask.prefix: expected 0 to 64, got -1" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { suffix = 100 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask.suffix: expected 0 to 64, got 100" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { suffix = 1.5 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "mask.suffix: expected an integer, got a "
		    "fraction" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { middle = 1 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "unknown key \"middle\"" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', mask = { 1, 2 } }"), VEIL_E_SCHEMA,
		    { C2("pid") "unexpected non-string key" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'pseudonymize', length = 7 }"), VEIL_E_SCHEMA,
		    { C2("pid") "length: expected 8 to 64, got 7" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'pseudonymize', length = 65 }"), VEIL_E_SCHEMA,
		    { C2("pid") "length: expected 8 to 64, got 65" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'pseudonymize', length = '16' }"), VEIL_E_SCHEMA,
		    { C2("pid") "length: expected an integer, got string" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "action = 'mask', length = 16 }"), VEIL_E_SCHEMA,
		    { C2("pid") "length: only with action = \"pseudonymize\"" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "length = 16 }"), VEIL_E_SCHEMA,
		    { C2("pid") "length: only with action" } },
		/* shift, scrub, level, required, description */
		{ COLS("{ name = 'd', type = 'string', role = 'quasi', "
		    "shift = 'unit' }"), VEIL_E_SCHEMA,
		    { C2("d") "shift: only date columns are shifted" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "shift = 'row' }"), VEIL_E_SCHEMA,
		    { C2("d") "shift: expected \"unit\"", "got \"row\"" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "shift = true }"), VEIL_E_SCHEMA,
		    { C2("d") "shift: expected a string, got boolean" } },
		{ COLS("{ name = 'n', type = 'string', role = 'sensitive', "
		    "scrub = true }"), VEIL_E_SCHEMA,
		    { C2("n") "scrub: only text columns are scrubbed" } },
		{ COLS("{ name = 'n', type = 'text', role = 'text', "
		    "scrub = 1 }"), VEIL_E_SCHEMA,
		    { C2("n") "scrub: expected true or false, got number" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "level = 0 }"), VEIL_E_SCHEMA,
		    { C2("age") "level: expected 1 to 4, got 0" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "level = 5 }"), VEIL_E_SCHEMA,
		    { C2("age") "level: expected 1 to 4, got 5" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "level = 'high' }"), VEIL_E_SCHEMA,
		    { C2("age") "level: expected an integer, got string" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "required = 'yes' }"), VEIL_E_SCHEMA,
		    { C2("age") "required: expected true or false, got string" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "required = 1 }"), VEIL_E_SCHEMA,
		    { C2("age") "required: expected true or false, got number" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "description = '' }"), VEIL_E_SCHEMA,
		    { C2("age") "description: expected 1 to 4096 bytes" } },
	};

	(void)state;
	RUN(cases);
}

static void
test_range_value_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ COLS("{ name = 'b', type = 'bool', role = 'quasi', "
		    "range = { 0, 1 } }"), VEIL_E_SCHEMA,
		    { C2("b") "range: only int, float and date columns take a "
		    "range" } },
		{ COLS("{ name = 's', type = 'string', role = 'quasi', "
		    "range = { 0, 1 } }"), VEIL_E_SCHEMA,
		    { C2("s") "range: only int, float and date" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "range = { 0, 1 } }"), VEIL_E_SCHEMA,
		    { C2("c") "range: only int, float and date" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = { 120, 0 } }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected {lo, hi} with lo <= hi" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "range = { 1.5, 1.25 } }"), VEIL_E_SCHEMA,
		    { C2("f") "range: expected {lo, hi} with lo <= hi" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "range = { '2021-01-01', '2020-12-31' } }"), VEIL_E_SCHEMA,
		    { C2("d") "range: expected {lo, hi} with lo <= hi" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = { 0, 120.5 } }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected an integer, got a fraction" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = { '0', 120 } }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected an integer, got string" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "range = { 0, 1/0 } }"), VEIL_E_SCHEMA,
		    { C2("f") "range: expected a finite number" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "range = { 'a', 1 } }"), VEIL_E_SCHEMA,
		    { C2("f") "range: expected a number, got string" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "range = { '2020-01-01', '2020-13-01' } }"), VEIL_E_SCHEMA,
		    { C2("d") "range: expected dates as \"YYYY-MM-DD\", got "
		    "\"2020-13-01\"" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "range = { '2019-02-29', '2020-01-01' } }"), VEIL_E_SCHEMA,
		    { C2("d") "range: expected dates", "got \"2019-02-29\"" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "range = { 20200101, '2020-01-01' } }"), VEIL_E_SCHEMA,
		    { C2("d") "range: expected a string, got number" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = { 0, 1, 2 } }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected 2 to 2 entries, got 3" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = { lo = 0, hi = 1 } }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected a list {a, b, ...}" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "range = 5 }"), VEIL_E_SCHEMA,
		    { C2("age") "range: expected a list {...}, got number" } },
		/* values */
		{ COLS("{ name = 's', type = 'string', role = 'quasi', "
		    "values = { 'a' } }"), VEIL_E_SCHEMA,
		    { C2("s") "values: only category columns declare values" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = { 'a', 'b', 'a' } }"), VEIL_E_SCHEMA,
		    { C2("c") "values: \"a\" is declared twice" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = {} }"), VEIL_E_SCHEMA,
		    { C2("c") "values: expected 1 to 65536 entries, got 0" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = { 'a', 2 } }"), VEIL_E_SCHEMA,
		    { C2("c") "values: expected a string, got number" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = { 'a', '' } }"), VEIL_E_SCHEMA,
		    { C2("c") "values: expected 1 to 4096 bytes, got 0" } },
	};

	(void)state;
	RUN(cases);
}

static void
test_hierarchy_errors(void **state)
{
	static const struct bad_case cases[] = {
		{ COLS("{ name = 'cost', type = 'int', role = 'insensitive', "
		    "hierarchy = { interval = { 5 } } }"), VEIL_E_SCHEMA,
		    { C2("cost") "hierarchy: only quasi and sensitive columns "
		    "are generalized" } },
		{ COLS("{ name = 'pid', type = 'string', role = 'identifier', "
		    "hierarchy = { mask = { 1 } } }"), VEIL_E_SCHEMA,
		    { C2("pid") "hierarchy: only quasi and sensitive" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = 'interval' }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy: expected a table, got string" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = {} }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy: expected exactly one of interval, "
		    "mask, file, rows" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { interval = { 5 }, mask = { 1 } } }"),
		    VEIL_E_SCHEMA, { C2("age") "hierarchy: expected exactly "
		    "one of" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { intervals = { 5 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "unknown key \"intervals\"" } },
		/* interval */
		{ COLS("{ name = 's', type = 'string', role = 'quasi', "
		    "hierarchy = { interval = { 5 } } }"), VEIL_E_SCHEMA,
		    { C2("s") "hierarchy.interval: only for int and float "
		    "columns" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { interval = { 5 } } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy.interval: only for int and float" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { interval = { 10, 5 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy.interval[2]: width 5 must be a larger "
		    "multiple of the width below (10)" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { interval = { 5, 5 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy.interval[2]: width 5 must be" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { interval = { 5, 10, 25 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy.interval[3]: width 25 must be a "
		    "larger multiple" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { interval = { 2.5, 5 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy.interval[1]: expected a positive "
		    "integer, got 2.5" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "hierarchy = { interval = { 0, 5 } } }"), VEIL_E_SCHEMA,
		    { C2("f") "hierarchy.interval[1]: expected a positive "
		    "number, got 0" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "hierarchy = { interval = { 1, '2' } } }"), VEIL_E_SCHEMA,
		    { C2("f") "hierarchy.interval: expected a number, got "
		    "string" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "hierarchy = { interval = {} } }"), VEIL_E_SCHEMA,
		    { C2("f") "hierarchy.interval: expected 1 to 30 entries, "
		    "got 0" } },
		/* mask */
		{ COLS("{ name = 'zip', type = 'string', role = 'quasi', "
		    "hierarchy = { mask = { 1, 3, 2 } } }"), VEIL_E_SCHEMA,
		    { C2("zip") "hierarchy.mask[3]: expected increasing character "
		    "counts" } },
		{ COLS("{ name = 'zip', type = 'string', role = 'quasi', "
		    "hierarchy = { mask = { 2, 2 } } }"), VEIL_E_SCHEMA,
		    { C2("zip") "hierarchy.mask[2]: expected increasing" } },
		{ COLS("{ name = 'zip', type = 'string', role = 'quasi', "
		    "hierarchy = { mask = { 0, 2 } } }"), VEIL_E_SCHEMA,
		    { C2("zip") "hierarchy.mask: expected 1 to 1024, got 0" } },
		{ COLS("{ name = 'zip', type = 'string', role = 'quasi', "
		    "hierarchy = { mask = { 1, 1025 } } }"), VEIL_E_SCHEMA,
		    { C2("zip") "hierarchy.mask: expected 1 to 1024, got 1025" } },
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { mask = { 1 } } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy.mask: only for string and category "
		    "columns" } },
		/* date levels */
		{ COLS("{ name = 'age', type = 'int', role = 'quasi', "
		    "hierarchy = { 'month', 'year' } }"), VEIL_E_SCHEMA,
		    { C2("age") "hierarchy: a list of levels such as "
		    "{\"month\", \"year\"} is for date columns" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { 'month', 'week' } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy: unknown date level \"week\"" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { 'year', 'month' } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy[2]: expected date levels in coarsening "
		    "order" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { 'month', 'month' } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy[2]: expected date levels" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { 'month', 3 } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy: expected a string, got number" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { 'month','month','month','month','month',"
		    "'month','month','month','month','month','month','month',"
		    "'month','month','month','month','month','month','month',"
		    "'month','month','month','month','month','month','month',"
		    "'month','month','month','month','month' } }"),
		    VEIL_E_SCHEMA, { C2("d") "hierarchy: at most 30 levels" } },
	};

	(void)state;
	RUN(cases);
}

static void
test_table_hierarchy_errors(void **state)
{
	static const struct bad_case cases[] = {
		/* inline rows that are not a tree */
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', 'x', 'p', '*' }, "
		    "{ 'b', 'x', 'q', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.rows: level 1 value \"x\" generalizes to two different "
		    "values at level 2", "not a tree" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', 'x', '*' }, "
		    "{ 'b', '*' } } } }"), VEIL_E_SCHEMA,
		    { "bad.lua: column 2 (c)", "2 levels, the first line has 3" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', '*' }, { 'b', 'ALL' } } } }"),
		    VEIL_E_SCHEMA, { C2("c") "hierarchy.rows: rows 1 and 2 end in different "
		    "roots" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', '*' }, { 'b', '*' }, "
		    "{ 'a', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.rows: value \"a\" appears on rows 1 "
		    "and 3" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = {} } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.rows: expected 1 to" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', '*' }, { 'b' } } } }"),
		    VEIL_E_SCHEMA, { C2("c") "hierarchy.rows[2]: expected 2 to "
		    "32 entries, got 1" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = { { 'a', 1 } } } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.rows[1]: expected a string, got "
		    "number" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { rows = 'a;*' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.rows: expected a list" } },
		/* the hierarchy must cover the column's declared domain */
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = { 'a', 'b', 'z' }, hierarchy = { rows = { "
		    "{ 'a', '*' }, { 'b', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy: declared value \"z\" has no line in "
		    "the hierarchy" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "values = { 'J45', 'X99' }, hierarchy = { "
		    "file = 'hier_diag.csv' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy: declared value \"X99\" has no line" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { rows = { { '1', '*' }, { 'two', '*' } } } }"),
		    VEIL_E_SCHEMA, { C2("n") "hierarchy: value \"two\" is not an "
		    "integer" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { rows = { { '1.5', '*' } } } }"),
		    VEIL_E_SCHEMA, { C2("n") "hierarchy: value \"1.5\" is not an "
		    "integer" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { rows = { { '99999999999999999999', '*' } } "
		    "} }"), VEIL_E_SCHEMA,
		    { C2("n") "hierarchy: value \"99999999999999999999\" is not "
		    "an integer" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { rows = { { '1', '*' }, { '123456789012345678"
		    "9012345678901234567890', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("n") "hierarchy: value \"12345678901234567890123456789"
		    "012\" is not an integer" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { rows = { { '007', '*' } } } }"),
		    VEIL_E_SCHEMA, { C2("n") "hierarchy: write the integer "
		    "\"007\" as \"7\"" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "hierarchy = { file = 'hier_words.csv' } }"), VEIL_E_SCHEMA,
		    { C2("n") "hierarchy: value \"one\" is not an integer" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "range = { 1, 5 }, hierarchy = { file = "
		    "'hier_comma_crlf.csv' } }"), VEIL_E_SCHEMA,
		    { C2("n") "hierarchy: value 5 of the declared range has no "
		    "line in the hierarchy" } },
		{ COLS("{ name = 'n', type = 'int', role = 'quasi', "
		    "range = { 0, 4 }, hierarchy = { rows = { { '1', '*' }, "
		    "{ '2', '*' }, { '3', '*' }, { '4', '*' } } } }"),
		    VEIL_E_SCHEMA, { C2("n") "hierarchy: value 0 of the declared "
		    "range" } },
		{ COLS("{ name = 'f', type = 'float', role = 'quasi', "
		    "hierarchy = { rows = { { '1', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("f") "hierarchy: a float column takes an interval "
		    "hierarchy, not a table" } },
		{ COLS("{ name = 'd', type = 'date', role = 'quasi', "
		    "hierarchy = { rows = { { 'bad', '*' }, "
		    "{ '2020-01-01', '*' } } } }"), VEIL_E_SCHEMA,
		    { C2("d") "hierarchy: value \"bad\" is not a date "
		    "YYYY-MM-DD" } },
		/* files, found relative to dir = "tests/data" */
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_none.csv' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.file: tests/data/hier_none.csv: cannot "
		    "open hierarchy file" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_not_tree.csv' } }"),
		    VEIL_E_SCHEMA, { C2("c") "hierarchy.file: "
		    "tests/data/hier_not_tree.csv: level 1 value \"x\"",
		    "not a tree" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_ragged.csv' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.file: tests/data/hier_ragged.csv:2: "
		    "2 levels, the first line has 3" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_bad_quote.csv' } }"),
		    VEIL_E_SCHEMA, { C2("c") "hierarchy.file: "
		    "tests/data/hier_bad_quote.csv:1:", "never closed" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_empty.csv' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.file: tests/data/hier_empty.csv: "
		    "hierarchy is empty" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = '' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.file: expected 1 to 1024 bytes" } },
		{ COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = '.' } }"), VEIL_E_SCHEMA,
		    { C2("c") "hierarchy.file: tests/data/.: read: " } },
	};

	(void)state;
	RUN(cases);
}

/* dir NULL: hierarchy files are refused, whether or not they exist. */
static void
test_hierarchy_file_no_dir(void **state)
{
	static const char *const srcs[] = {
		COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = 'hier_semicolon.csv' } }"),
		COLS("{ name = 'c', type = 'category', role = 'quasi', "
		    "hierarchy = { file = '/etc/passwd' } }"),
	};
	struct schema *s;
	struct veil_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		s = (struct schema *)&s;
		veil_err_clear(&err);
		assert_int_equal(schema_load_buffer(srcs[i], strlen(srcs[i]),
		    "bad.lua", NULL, &s, &err), VEIL_E_SCHEMA);
		assert_null(s);
		assert_non_null(strstr(err.msg, C2("c") "hierarchy.file: "
		    "hierarchy files are not allowed here"));
	}
	/* and with a NULL err nothing breaks */
	assert_int_equal(schema_load_buffer(srcs[0], strlen(srcs[0]),
	    "bad.lua", NULL, &s, NULL), VEIL_E_SCHEMA);
	assert_int_equal(schema_load_buffer(COLS("{ name = 'c', "
	    "type = 'category', role = 'quasi', hierarchy = { file = "
	    "'hier_none.csv' } }"), strlen(COLS("{ name = 'c', "
	    "type = 'category', role = 'quasi', hierarchy = { file = "
	    "'hier_none.csv' } }")), "bad.lua", "tests/data", &s, NULL),
	    VEIL_E_SCHEMA);
	assert_null(s);
}

/* A directory so long that dir/file does not fit the path buffer. */
static void
test_hierarchy_path_too_long(void **state)
{
	static const char src[] = COLS("{ name = 'c', type = 'category', "
	    "role = 'quasi', hierarchy = { file = 'h.csv' } }");
	struct schema *s = NULL;
	struct veil_err err;
	char *dir;

	(void)state;
	assert_non_null(dir = malloc(4200));
	memset(dir, 'd', 4199);
	dir[4199] = '\0';
	veil_err_clear(&err);
	assert_int_equal(schema_load_buffer(src, strlen(src), "bad.lua", dir,
	    &s, &err), VEIL_E_SCHEMA);
	assert_null(s);
	assert_non_null(strstr(err.msg, C2("c") "hierarchy.file: path too "
	    "long"));
	free(dir);
}

/*
 * Loads src in a child, so that a crash or a sanitizer's exit fails this
 * test only. Returns the child's exit status: 0 when it loaded.
 */
static int
load_in_child(const char *src)
{
	struct schema *s = NULL;
	pid_t pid;
	int status, r;

	fflush(NULL);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		r = schema_load_buffer(src, strlen(src), "child.lua", NULL, &s,
		    NULL);
		schema_free(s);
		_exit(r == 0 ? 0 : 10);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* A range too wide to enumerate is not checked value by value. */
static void
test_int_range_wide(void **state)
{
	static const char plain[] = COLS("{ name = 'n', type = 'int', "
	    "role = 'quasi', range = { -2, 1 }, hierarchy = { rows = { "
	    "{ '-2', '*' }, { '-1', '*' }, { '0', '*' }, { '1', '*' } } } }");
	static const char wide[] = COLS("{ name = 'n', type = 'int', "
	    "role = 'quasi', range = { -9223372036854775807 - 1, "
	    "9223372036854775807 }, hierarchy = { rows = { { '1', '*' } } } }");

	(void)state;
	assert_int_equal(load_in_child(plain), 0);
	if (load_in_child(wide) != 0)
		fail_msg("range {INT64_MIN, INT64_MAX} refused or crashed");
}

/* A range ending at INT64_MAX is enumerated without overflowing. */
static void
test_int_range_top(void **state)
{
	static const char top[] = COLS("{ name = 'n', type = 'int', "
	    "role = 'quasi', range = { 9223372036854775806, "
	    "9223372036854775807 }, hierarchy = { rows = { "
	    "{ '9223372036854775806', '*' }, "
	    "{ '9223372036854775807', '*' } } } }");

	(void)state;
	if (load_in_child(top) != 0)
		fail_msg("range {INT64_MAX - 1, INT64_MAX} refused or crashed");
}

/* }====== */

/* {====== valid schemas */

static void
test_adult(void **state)
{
	static const struct {
		const char	*name;
		enum veil_type	 type;
		int		 nlevels;
	} want[] = {
		{ "sex", VEIL_T_CATEGORY, 2 },
		{ "age", VEIL_T_INT, 5 },
		{ "race", VEIL_T_CATEGORY, 2 },
		{ "marital-status", VEIL_T_CATEGORY, 3 },
		{ "education", VEIL_T_CATEGORY, 4 },
		{ "native-country", VEIL_T_CATEGORY, 3 },
		{ "workclass", VEIL_T_CATEGORY, 3 },
		{ "occupation", VEIL_T_CATEGORY, 3 },
		{ "salary-class", VEIL_T_CATEGORY, 2 },
	};
	const struct schema_column *c;
	struct schema *s = NULL;
	struct veil_err err;
	const char *p;
	size_t i, len;
	long row;

	(void)state;
	veil_err_clear(&err);
	if (schema_load_file("examples/adult/schema.lua", &s, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s->name, "adult");
	assert_string_equal(s->path, "examples/adult/schema.lua");
	assert_string_equal(s->unit, SCHEMA_UNIT_ROW);
	assert_int_equal(s->unit_col, -1);
	assert_int_equal(s->delimiter, ';');
	assert_int_equal(s->ncols, 9);
	assert_int_equal(s->nignore, 0);
	for (i = 0; i < s->ncols; i++) {
		c = &s->cols[i];
		assert_string_equal(c->name, want[i].name);
		assert_int_equal(c->type, want[i].type);
		assert_int_equal(c->role, VEIL_R_QUASI);
		assert_int_equal(c->action, SCHEMA_A_KEEP);
		assert_int_equal(c->text, 0);
		assert_non_null(c->hier);
		assert_int_equal(hierarchy_kind(c->hier), HIER_TABLE);
		assert_int_equal(hierarchy_nlevels(c->hier), want[i].nlevels);
		assert_int_equal(schema_find(s, c->name, strlen(c->name)),
		    (int)i);
	}
	assert_int_equal(s->cols[0].nvalues, 2);
	assert_string_equal(s->cols[0].values[0], "Male");
	assert_string_equal(s->cols[0].values[1], "Female");
	assert_int_equal(s->cols[8].nvalues, 2);
	assert_string_equal(s->cols[8].values[0], "<=50K");

	c = &s->cols[1];
	assert_true(c->has_range);
	assert_int_equal(c->ilo, 17);
	assert_int_equal(c->ihi, 90);
	assert_true((row = hierarchy_find(c->hier, "39", 2)) >= 0);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 0, &len));
	assert_int_equal(len, 2);
	assert_memory_equal(p, "39", 2);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 1, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(p, "35-39", 5);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 4, &len));
	assert_int_equal(len, 1);
	assert_memory_equal(p, "*", 1);
	assert_int_equal(hierarchy_find(c->hier, "391", 3), -1);
	assert_int_equal(schema_find(s, "ag", 2), -1);
	schema_free(s);
}

/* The example of DESIGN.md, "Schema and policy files", as printed. */
static void
test_design_example(void **state)
{
	static const char src[] =
	    "return {\n"
	    "  name = \"clinic_visits\",\n"
	    "  unit = \"patient_id\",                     -- the privacy unit\n"
	    "  columns = {\n"
	    "    { name = \"patient_id\", type = \"string\",   role = "
	    "\"identifier\", action = \"pseudonymize\" },\n"
	    "    { name = \"name\",       type = \"string\",   role = "
	    "\"identifier\", action = \"drop\" },\n"
	    "    { name = \"phone\",      type = \"string\",   role = "
	    "\"identifier\", action = \"mask\" },\n"
	    "    { name = \"age\",        type = \"int\",      role = "
	    "\"quasi\", range = {0, 120}, hierarchy = { interval = "
	    "{5, 10, 20} } },\n"
	    "    { name = \"zip\",        type = \"string\",   role = "
	    "\"quasi\", hierarchy = { mask = {1, 2, 3, 5} } },\n"
	    "    { name = \"visit_date\", type = \"date\",     role = "
	    "\"quasi\", shift = \"unit\", hierarchy = { \"month\", "
	    "\"year\" } },\n"
	    "    { name = \"diagnosis\",  type = \"category\", role = "
	    "\"sensitive\", values = { \"J45\", \"E11\", \"I10\" } },\n"
	    "    { name = \"cost\",       type = \"float\",    role = "
	    "\"insensitive\", range = {0, 100000} },\n"
	    "    { name = \"notes\",      type = \"text\",     role = "
	    "\"text\", scrub = true },\n"
	    "  },\n"
	    "}\n";
	static const struct {
		const char		*name;
		enum veil_type		 type;
		enum veil_role		 role;
		enum schema_action	 action;
	} want[] = {
		{ "patient_id", VEIL_T_STRING, VEIL_R_IDENTIFIER,
		    SCHEMA_A_PSEUDONYMIZE },
		{ "name", VEIL_T_STRING, VEIL_R_IDENTIFIER, SCHEMA_A_DROP },
		{ "phone", VEIL_T_STRING, VEIL_R_IDENTIFIER, SCHEMA_A_MASK },
		{ "age", VEIL_T_INT, VEIL_R_QUASI, SCHEMA_A_KEEP },
		{ "zip", VEIL_T_STRING, VEIL_R_QUASI, SCHEMA_A_KEEP },
		{ "visit_date", VEIL_T_DATE, VEIL_R_QUASI, SCHEMA_A_KEEP },
		{ "diagnosis", VEIL_T_CATEGORY, VEIL_R_SENSITIVE,
		    SCHEMA_A_KEEP },
		{ "cost", VEIL_T_FLOAT, VEIL_R_INSENSITIVE, SCHEMA_A_KEEP },
		{ "notes", VEIL_T_STRING, VEIL_R_TEXT, SCHEMA_A_KEEP },
	};
	const struct schema_column *c;
	const double *w;
	const int64_t *m;
	const enum hier_date *d;
	struct schema *s;
	size_t i, n;

	(void)state;
	s = load_ok(src, NULL);
	assert_string_equal(s->name, "clinic_visits");
	assert_string_equal(s->path, "ok.lua");
	assert_string_equal(s->unit, "patient_id");
	assert_int_equal(s->unit_col, 0);
	assert_int_equal(s->ncols, 9);
	assert_null(s->ignore);
	assert_int_equal(s->nignore, 0);
	assert_int_equal(s->ignore_unknown, 0);
	assert_int_equal(s->delimiter, 0);
	for (i = 0; i < s->ncols; i++) {
		c = &s->cols[i];
		assert_string_equal(c->name, want[i].name);
		assert_int_equal(c->type, want[i].type);
		assert_int_equal(c->role, want[i].role);
		assert_int_equal(c->action, want[i].action);
		assert_int_equal(c->text, i == 8);
		assert_int_equal(c->mask_prefix, 3);
		assert_int_equal(c->mask_suffix, 4);
		assert_int_equal(c->pseudo_len, 16);
		assert_int_equal(c->level, 0);
		/* the unit column is made required */
		assert_int_equal(c->required, i == 0);
		assert_int_equal(c->shift_unit, i == 5);
		assert_int_equal(c->scrub, i == 8);
		assert_int_equal(c->has_range, i == 3 || i == 7);
		if (i != 6) {
			assert_null(c->values);
			assert_int_equal(c->nvalues, 0);
		}
		if (i < 3 || i > 5)
			assert_null(c->hier);
	}

	c = &s->cols[3];
	assert_int_equal(c->ilo, 0);
	assert_int_equal(c->ihi, 120);
	assert_true(c->flo == 0.0 && c->fhi == 120.0);
	assert_int_equal(hierarchy_kind(c->hier), HIER_INTERVAL);
	assert_int_equal(hierarchy_nlevels(c->hier), 5);
	w = hierarchy_widths(c->hier, &n);
	assert_int_equal(n, 3);
	assert_true(w[0] == 5 && w[1] == 10 && w[2] == 20);

	c = &s->cols[4];
	assert_int_equal(hierarchy_kind(c->hier), HIER_MASK);
	assert_int_equal(hierarchy_nlevels(c->hier), 6);
	m = hierarchy_masks(c->hier, &n);
	assert_int_equal(n, 4);
	assert_true(m[0] == 1 && m[1] == 2 && m[2] == 3 && m[3] == 5);

	c = &s->cols[5];
	assert_int_equal(hierarchy_kind(c->hier), HIER_DATE);
	assert_int_equal(hierarchy_nlevels(c->hier), 4);
	d = hierarchy_dates(c->hier, &n);
	assert_int_equal(n, 2);
	assert_int_equal(d[0], HIER_D_MONTH);
	assert_int_equal(d[1], HIER_D_YEAR);

	c = &s->cols[6];
	assert_int_equal(c->nvalues, 3);
	assert_string_equal(c->values[0], "J45");
	assert_string_equal(c->values[1], "E11");
	assert_string_equal(c->values[2], "I10");

	c = &s->cols[7];
	assert_true(c->flo == 0.0 && c->fhi == 100000.0);

	assert_int_equal(schema_find(s, "notes", 5), 8);
	assert_int_equal(schema_find(s, "note", 4), -1);
	assert_int_equal(schema_find(s, "notesx", 6), -1);
	assert_false(schema_ignored(s, "notes", 5));
	schema_free(s);
}

/* Every optional field, set away from its default. */
static void
test_full_schema(void **state)
{
	static const char src[] =
	    "local H = 'hier_'\n"
	    "return {\n"
	    "  name = 'Clinic-2.v1', description = 'everything',\n"
	    "  unit = 'pid', ignore = { 'extra', 'free text' },\n"
	    "  ignore_unknown = true, csv = { delimiter = 'tab' },\n"
	    "  columns = {\n"
	    "    { name = 'email', type = 'string', role = 'identifier' },\n"
	    "    { name = 'pid', type = 'string', role = 'identifier',\n"
	    "      action = 'pseudonymize', length = 32, level = 4 },\n"
	    "    { name = 'phone', type = 'string', role = 'identifier',\n"
	    "      action = 'mask', mask = { prefix = 2, suffix = 0 } },\n"
	    "    { name = 'n', type = 'int', role = 'quasi', range = {1, 4},\n"
	    "      hierarchy = { file = H .. 'comma_crlf.csv' }, required = "
	    "true },\n"
	    "    { name = 'diag', type = 'category', role = 'sensitive',\n"
	    "      values = { 'J45', 'I10' }, hierarchy = { file = H .. "
	    "'diag.csv' } },\n"
	    "    { name = 'c', type = 'category', role = 'quasi',\n"
	    "      hierarchy = { rows = { { 'a', 'x', '*' }, { 'b', 'x', "
	    "'*' }, { 'c', 'y', '*' } } } },\n"
	    "    { name = 'day', type = 'date', role = 'quasi', shift = "
	    "'unit',\n"
	    "      range = { '2020-01-01', '2020-12-31' },\n"
	    "      hierarchy = { 'month', 'quarter', 'year', 'decade' } },\n"
	    "    { name = 'w', type = 'float', role = 'quasi',\n"
	    "      range = { -1.5, 2.5 }, hierarchy = { interval = "
	    "{ 0.25, 0.5, 1.5 } } },\n"
	    "    { name = 'flag', type = 'bool', role = 'insensitive', "
	    "level = 1,\n"
	    "      required = false, description = 'a flag' },\n"
	    "    { name = 'memo', type = 'string', role = 'text', scrub = "
	    "false },\n"
	    "  },\n"
	    "}\n";
	const struct schema_column *c;
	struct schema *s;
	const char *p;
	int32_t day;
	size_t n, len;
	long row;

	(void)state;
	s = load_ok(src, "tests/data");
	assert_string_equal(s->name, "Clinic-2.v1");
	assert_string_equal(s->unit, "pid");
	assert_int_equal(s->unit_col, 1);
	assert_int_equal(s->ignore_unknown, 1);
	assert_int_equal(s->delimiter, '\t');
	assert_int_equal(s->nignore, 2);
	assert_string_equal(s->ignore[1], "free text");
	assert_true(schema_ignored(s, "extra", 5));
	assert_true(schema_ignored(s, "free text", 9));
	assert_false(schema_ignored(s, "free", 4));
	assert_false(schema_ignored(s, "email", 5));
	assert_int_equal(s->ncols, 10);

	c = &s->cols[0];		/* identifiers default to drop */
	assert_int_equal(c->action, SCHEMA_A_DROP);
	assert_int_equal(c->required, 0);
	c = &s->cols[1];
	assert_int_equal(c->action, SCHEMA_A_PSEUDONYMIZE);
	assert_int_equal(c->pseudo_len, 32);
	assert_int_equal(c->level, 4);
	assert_int_equal(c->required, 1);
	c = &s->cols[2];
	assert_int_equal(c->action, SCHEMA_A_MASK);
	assert_int_equal(c->mask_prefix, 2);
	assert_int_equal(c->mask_suffix, 0);
	assert_int_equal(c->pseudo_len, 16);

	c = &s->cols[3];
	assert_int_equal(c->required, 1);
	assert_int_equal(hierarchy_kind(c->hier), HIER_TABLE);
	assert_int_equal(hierarchy_nlevels(c->hier), 3);
	assert_int_equal(hierarchy_nleaves(c->hier), 4);
	assert_true((row = hierarchy_find(c->hier, "3", 1)) >= 0);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 1, &len));
	assert_int_equal(len, 3);
	assert_memory_equal(p, "3-4", 3);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 2, &len));
	assert_int_equal(len, 1);	/* no '\r' left from CRLF */

	c = &s->cols[4];
	assert_int_equal(c->role, VEIL_R_SENSITIVE);
	assert_int_equal(c->nvalues, 2);
	assert_int_equal(hierarchy_nleaves(c->hier), 3);

	c = &s->cols[5];
	assert_int_equal(hierarchy_nleaves(c->hier), 3);
	assert_true((row = hierarchy_find(c->hier, "c", 1)) >= 0);
	assert_non_null(p = hierarchy_cell(c->hier, (size_t)row, 1, &len));
	assert_memory_equal(p, "y", 1);

	c = &s->cols[6];
	assert_int_equal(c->shift_unit, 1);
	assert_true(c->has_range);
	assert_int_equal(datefmt_parse("2020-01-01", 10, &day), 0);
	assert_int_equal(c->ilo, day);
	assert_int_equal(c->ilo, 18262);
	assert_int_equal(c->ihi, 18262 + 365);
	assert_int_equal(hierarchy_nlevels(c->hier), 6);
	hierarchy_dates(c->hier, &n);
	assert_int_equal(n, 4);

	c = &s->cols[7];
	assert_true(c->has_range);
	assert_true(c->flo == -1.5 && c->fhi == 2.5);
	assert_int_equal(hierarchy_kind(c->hier), HIER_INTERVAL);
	hierarchy_widths(c->hier, &n);
	assert_int_equal(n, 3);

	c = &s->cols[8];
	assert_int_equal(c->type, VEIL_T_BOOL);
	assert_int_equal(c->level, 1);
	assert_int_equal(c->required, 0);

	c = &s->cols[9];
	assert_int_equal(c->type, VEIL_T_STRING);
	assert_int_equal(c->text, 0);
	assert_int_equal(c->role, VEIL_R_TEXT);
	assert_int_equal(c->scrub, 0);
	schema_free(s);
}

static void
test_csv_delimiters(void **state)
{
	static const struct {
		const char	*src;
		int		 delim;
	} cases[] = {
		{ TOP("csv = { delimiter = ',' }"), ',' },
		{ TOP("csv = { delimiter = ';' }"), ';' },
		{ TOP("csv = { delimiter = 'tab' }"), '\t' },
		{ TOP("csv = {}"), 0 },
		{ TOP("ignore = {}"), 0 },
	};
	struct schema *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = load_ok(cases[i].src, NULL);
		assert_int_equal(s->delimiter, cases[i].delim);
		assert_int_equal(s->unit_col, -1);
		assert_string_equal(s->unit, "@row");
		assert_int_equal(s->nignore, 0);
		schema_free(s);
	}
}

/* A literal tab is a delimiter too, as the loader's own code says. */
static void
test_csv_delimiter_tab_char(void **state)
{
	struct schema *s;

	(void)state;
	s = load_ok(TOP("csv = { delimiter = '\\t' }"), NULL);
	assert_int_equal(s->delimiter, '\t');
	schema_free(s);
}

/* Hierarchy paths: dir "" and absolute paths are taken as they are. */
static void
test_hierarchy_paths(void **state)
{
	static const char rel[] = COLS("{ name = 'c', type = 'category', "
	    "role = 'quasi', hierarchy = { file = "
	    "'tests/data/hier_semicolon.csv' } }");
	char abs[8192], cwd[4096];
	struct schema *s;

	(void)state;
	s = load_ok(rel, "");
	assert_int_equal(hierarchy_nleaves(s->cols[1].hier), 3);
	schema_free(s);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(abs, sizeof(abs), COLS("{ name = 'c', type = 'category', "
	    "role = 'quasi', hierarchy = { file = "
	    "'%s/tests/data/hier_tab.csv' } }"), cwd);
	s = load_ok(abs, "/nonexistent");
	assert_int_equal(hierarchy_nleaves(s->cols[1].hier), 2);
	assert_true(hierarchy_find(s->cols[1].hier, "blue", 4) >= 0);
	schema_free(s);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
remove_file(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

/*
 * schema_load_file reads hierarchy files next to the schema: a missing
 * one is named with its path, a present one loads, and a schema given by
 * a bare file name looks in ".".
 */
static void
test_schema_file(void **state)
{
	static const char missing[] = "return { name = 'm', unit = '@row', "
	    "columns = { { name = 'id', type = 'int', role = 'quasi' }, "
	    "{ name = 'c', type = 'category', role = 'quasi', hierarchy = "
	    "{ file = 'nope.csv' } } } }\n";
	static const char good[] = "return { name = 'g', unit = '@row', "
	    "columns = { { name = 'c', type = 'category', role = 'quasi', "
	    "values = { 'a' }, hierarchy = { file = 'h.csv' } } } }\n";
	char dir[] = "/tmp/veil-test-schema-XXXXXX", path[256], cwd[4096];
	struct schema *s = NULL;
	struct veil_err err;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "missing.lua", missing);
	write_file(dir, "good.lua", good);
	write_file(dir, "h.csv", "a;*\nb;*\n");

	snprintf(path, sizeof(path), "%s/missing.lua", dir);
	veil_err_clear(&err);
	assert_int_equal(schema_load_file(path, &s, &err), VEIL_E_SCHEMA);
	assert_null(s);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "column 2 (c): hierarchy.file: "));
	snprintf(path, sizeof(path), "%s/nope.csv: cannot open hierarchy "
	    "file", dir);
	assert_non_null(strstr(err.msg, path));

	snprintf(path, sizeof(path), "%s/good.lua", dir);
	veil_err_clear(&err);
	if (schema_load_file(path, &s, &err) != 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s->path, path);
	assert_int_equal(hierarchy_nleaves(s->cols[0].hier), 2);
	schema_free(s);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	veil_err_clear(&err);
	s = NULL;
	if (schema_load_file("good.lua", &s, &err) != 0) {
		assert_int_equal(chdir(cwd), 0);
		fail_msg("%s", err.msg);
	}
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(s->path, "good.lua");
	schema_free(s);

	remove_file(dir, "missing.lua");
	remove_file(dir, "good.lua");
	remove_file(dir, "h.csv");
	assert_int_equal(rmdir(dir), 0);

	veil_err_clear(&err);
	snprintf(path, sizeof(path), "%s/good.lua", dir);
	assert_int_equal(schema_load_file(path, &s, &err), VEIL_E_IO);
	assert_null(s);
	assert_non_null(strstr(err.msg, path));
}

static void
test_action_names(void **state)
{
	(void)state;
	assert_string_equal(schema_action_name(SCHEMA_A_KEEP), "keep");
	assert_string_equal(schema_action_name(SCHEMA_A_DROP), "drop");
	assert_string_equal(schema_action_name(SCHEMA_A_PSEUDONYMIZE),
	    "pseudonymize");
	assert_string_equal(schema_action_name(SCHEMA_A_MASK), "mask");
	assert_string_equal(schema_action_name((enum schema_action)4), "?");
	assert_string_equal(schema_action_name((enum schema_action)-1), "?");
	schema_free(NULL);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lua_errors),
		cmocka_unit_test(test_lua_too_big),
		cmocka_unit_test(test_lua_eval),
		cmocka_unit_test(test_lua_files),
		cmocka_unit_test(test_top_errors),
		cmocka_unit_test(test_column_errors),
		cmocka_unit_test(test_range_value_errors),
		cmocka_unit_test(test_hierarchy_errors),
		cmocka_unit_test(test_table_hierarchy_errors),
		cmocka_unit_test(test_hierarchy_file_no_dir),
		cmocka_unit_test(test_hierarchy_path_too_long),
		cmocka_unit_test(test_int_range_wide),
		cmocka_unit_test(test_int_range_top),
		cmocka_unit_test(test_adult),
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_full_schema),
		cmocka_unit_test(test_csv_delimiters),
		cmocka_unit_test(test_csv_delimiter_tab_char),
		cmocka_unit_test(test_hierarchy_paths),
		cmocka_unit_test(test_schema_file),
		cmocka_unit_test(test_action_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
