/*
 * test_inspect.c: `veil inspect` end to end, as a provider runs it: exit
 * codes, the human and JSON reports on small files with known answers,
 * on the UCI Adult extract, and refusals of malformed input.
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

static char tmpdir[] = "/tmp/veil-test-inspect-XXXXXX";

/* Runs "veil ARGS" through the shell; returns its exit status. */
static int
veil(char *out, size_t outlen, const char *fmt, ...)
{
	char args[2048], cmd[4096];
	const char *b = getenv("VEIL_BUILD");
	va_list ap;
	FILE *fp;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/veil %s 2>&1", b ? b : "build", args);
	assert_non_null(fp = popen(cmd, "r"));
	if (out != NULL) {
		n = fread(out, 1, outlen - 1, fp);
		out[n] = '\0';
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), fp) > 0)
			;
	}
	st = pclose(fp);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
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
setup(void **state)
{
	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	write_file("s.lua",
	    "return { name = 't', unit = 'id', columns = {\n"
	    "{ name = 'id', type = 'string', role = 'identifier',"
	    "  action = 'pseudonymize' },\n"
	    "{ name = 'age', type = 'int', role = 'quasi', range = {0, 120} },\n"
	    "{ name = 'cost', type = 'float', role = 'insensitive' },\n"
	    "{ name = 'day', type = 'date', role = 'quasi' },\n"
	    "{ name = 'dx', type = 'category', role = 'sensitive',"
	    "  values = {'A', 'B', 'C'} },\n"
	    "{ name = 'ok', type = 'bool', role = 'sensitive' } } }\n");
	write_file("d.csv",
	    "dx;id;age;cost;day;ok\n"
	    "A;p1;30;1.5;2024-01-02;true\n"
	    "B;p1;;2.5;2024-03-04;false\n"
	    "A;p2;41;-3;2023-12-31;1\n"
	    "A;p3;30;;2024-02-29;0\n");
	return 0;
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
test_human_report(void **state)
{
	char out[8192];

	(void)state;
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/d.csv "
	    "--schema %s/s.lua", tmpdir, tmpdir), 0);
	assert_non_null(strstr(out, "4 rows, 6 columns, delimiter ';'"));
	assert_non_null(strstr(out, "min 30, max 41"));
	assert_non_null(strstr(out, "min 2023-12-31, max 2024-03-04"));
	assert_non_null(strstr(out, "A 3 (75.0%), B 1 (25.0%)"));
	assert_non_null(strstr(out, "pseudonymize"));
}

static void
test_json_report(void **state)
{
	char out[8192];

	(void)state;
	assert_int_equal(veil(out, sizeof(out), "inspect --json --data "
	    "%s/d.csv --schema %s/s.lua", tmpdir, tmpdir), 0);
	assert_non_null(strstr(out, "\"rows\":4"));
	/* id: 3 distinct of 4; age: 1 null, 2 distinct; cost: 1 null */
	assert_non_null(strstr(out, "\"name\":\"id\",\"type\":\"string\","
	    "\"role\":\"identifier\",\"treatment\":\"pseudonymize\","
	    "\"nulls\":0,\"distinct\":3"));
	assert_non_null(strstr(out, "\"name\":\"age\",\"type\":\"int\","
	    "\"role\":\"quasi\",\"treatment\":\"\",\"nulls\":1,"
	    "\"distinct\":2,\"min\":30,\"max\":41"));
	assert_non_null(strstr(out, "\"min\":-3,\"max\":2.5"));
	assert_non_null(strstr(out, "\"top\":[{\"value\":\"A\",\"count\":3},"
	    "{\"value\":\"B\",\"count\":1}]"));
	assert_non_null(strstr(out, "{\"value\":\"true\",\"count\":2}"));
}

static void
test_adult(void **state)
{
	char out[16384];

	(void)state;
	assert_int_equal(veil(out, sizeof(out), "inspect --json --data "
	    "../shared/data/adult/adult.csv --schema "
	    "examples/adult/schema.lua"), 0);
	assert_non_null(strstr(out, "\"rows\":30162"));
	assert_non_null(strstr(out, "\"name\":\"age\""));
	assert_non_null(strstr(out, "\"min\":17,\"max\":90"));
	assert_non_null(strstr(out, "{\"value\":\"Male\",\"count\":20380}"));
	assert_int_equal(veil(out, sizeof(out), "inspect --data "
	    "../shared/data/adult/adult.csv --schema "
	    "examples/adult/schema_sensitive.lua"), 0);
	assert_non_null(strstr(out, "sensitive"));
}

static void
test_refusals(void **state)
{
	char out[4096];

	(void)state;
	/* usage */
	assert_int_equal(veil(out, sizeof(out), "inspect --data x.csv"), 2);
	assert_non_null(strstr(out, "usage"));
	assert_int_equal(veil(out, sizeof(out), "frobnicate"), 2);
	assert_non_null(strstr(out, "unknown command"));
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/d.csv "
	    "--schema %s/s.lua --max-rows zero", tmpdir, tmpdir), 2);
	/* missing files */
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/none.csv "
	    "--schema %s/s.lua", tmpdir, tmpdir), 2);
	assert_non_null(strstr(out, "none.csv"));
	/* bad value: line, column, name and text */
	write_file("bad.csv", "id,age,cost,day,dx,ok\np1,30,1,2024-01-01,A,t\n"
	    "p2,abc,1,2024-01-01,A,t\n");
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/bad.csv "
	    "--schema %s/s.lua", tmpdir, tmpdir), 2);
	assert_non_null(strstr(out, "bad.csv:3: column 2 (age): not an "
	    "integer"));
	assert_non_null(strstr(out, "\"abc\""));
	/* undeclared category value */
	write_file("bad2.csv", "id,age,cost,day,dx,ok\np1,30,1,2024-01-01,Z,t\n");
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/bad2.csv "
	    "--schema %s/s.lua", tmpdir, tmpdir), 2);
	assert_non_null(strstr(out, "not one of the declared values"));
	/* the row limit */
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/d.csv "
	    "--schema %s/s.lua --max-rows 3", tmpdir, tmpdir), 2);
	assert_non_null(strstr(out, "max_rows"));
	/* a broken schema */
	write_file("bad.lua", "return { name = 't', unit = '@row', columns = "
	    "{ { name = 'a', type = 'int', role = 'quasi', range = {5, 1} } } }");
	assert_int_equal(veil(out, sizeof(out), "inspect --data %s/d.csv "
	    "--schema %s/bad.lua", tmpdir, tmpdir), 2);
	assert_non_null(strstr(out, "column 1 (a): range"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_human_report),
		cmocka_unit_test(test_json_report),
		cmocka_unit_test(test_adult),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
