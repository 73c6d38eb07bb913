/*
 * test_run.c: `veil run` end to end: the data through its schema, the
 * identifier actions, a confined worker, the release under the policy,
 * the exit codes and what a buyer sees (and does not see) when a job
 * fails.
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

static char dir[] = "/tmp/veil-test-run-XXXXXX";
static char out[65536];

static int
veil(const char *fmt, ...)
{
	char args[4096], cmd[8192];
	const char *b = getenv("VEIL_BUILD");
	va_list ap;
	FILE *fp;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd %s && %s/veil %s 2>&1", dir,
	    b != NULL && b[0] == '/' ? b : "", args);
	if (b == NULL || b[0] != '/') {
		char cwd[1024];

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return -1;
		snprintf(cmd, sizeof(cmd), "cd %s && %s/%s/veil %s 2>&1", dir,
		    cwd, b != NULL ? b : "build", args);
	}
	if ((fp = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, fp);
	out[n] = '\0';
	st = pclose(fp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static void
has(const char *needle)
{
	if (strstr(out, needle) == NULL)
		fail_msg("output lacks \"%s\":\n%s", needle, out);
}

static void
lacks(const char *needle)
{
	if (strstr(out, needle) != NULL)
		fail_msg("output has \"%s\":\n%s", needle, out);
}

static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	put("s.lua",
	    "return { name = 't', unit = 'pid', columns = {\n"
	    "{ name = 'pid', type = 'string', role = 'identifier',"
	    "  action = 'pseudonymize' },\n"
	    "{ name = 'name', type = 'string', role = 'identifier' },\n"
	    "{ name = 'phone', type = 'string', role = 'identifier',"
	    "  action = 'mask' },\n"
	    "{ name = 'age', type = 'int', role = 'quasi', range = {0, 120} },\n"
	    "{ name = 'cost', type = 'float', role = 'insensitive' },\n"
	    "{ name = 'dx', type = 'category', role = 'sensitive',"
	    "  values = { 'A', 'B', 'C' } } } }\n");
	/* p1: 3 visits, p2: 1, p3: 2, p4: 1; dx A has 3 people, B 1 */
	put("d.csv",
	    "pid,name,phone,age,cost,dx\n"
	    "p1,Ann,13812345678,30,10.5,A\n"
	    "p1,Ann,13812345678,30,20,A\n"
	    "p1,Ann,13812345678,30,30,B\n"
	    "p2,Bob,13900001111,40,100,A\n"
	    "p3,Cy,13700002222,50,1000,A\n"
	    "p3,Cy,13700002222,50,2000,A\n"
	    "p4,Di,13600003333,60,5,C\n");
	put("none.lua", "return { mode = 'none' }\n");
	put("thr.lua", "return { mode = 'threshold', k = 2 }\n");
	put("exp.lua", "return { mode = 'export' }\n");
	put("job.lua",
	    "local v = veil.dataset()\n"
	    "return {\n"
	    "  n = v:count(),\n"
	    "  total = v:sum('cost', 0, 1000),\n"
	    "  by_dx = v:group_by('dx'):count(),\n"
	    "  old = v:where('age', '>=', 50):count(),\n"
	    "}\n");
	return 0;
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
test_none_exact(void **state)
{
	(void)state;
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy none.lua --json"), 0);
	has("\"n\":{\"op\":\"count\",\"by\":null,\"mode\":\"none\","
	    "\"groups\":[{\"key\":null,\"value\":7}]");
	/* 10.5 + 20 + 30 + 100 + 1000 + 1000 (clamped) + 5 */
	has("\"value\":\"2165.5\"");
	has("{\"key\":\"A\",\"value\":5},{\"key\":\"B\",\"value\":1},"
	    "{\"key\":\"C\",\"value\":1}");
	has("\"old\":{\"op\":\"count\",\"by\":null,\"mode\":\"none\","
	    "\"groups\":[{\"key\":null,\"value\":3}]");
	has("\"confinement\":\"");
	/* human output too */
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 0);
	has("total");
	has("2165.5");
}

static void
test_threshold_suppresses(void **state)
{
	(void)state;
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy thr.lua --json"), 0);
	/* contribution bounding keeps at most 5 rows per person: all kept */
	has("{\"key\":\"A\",\"value\":5}");
	lacks("{\"key\":\"B\"");		/* one person: suppressed */
	lacks("{\"key\":\"C\"");
	has("\"suppressed\":2,\"k\":2");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy thr.lua"), 0);
	has("(2 suppressed: fewer than 2 distinct units)");
}

static void
test_identifiers_are_gone(void **state)
{
	(void)state;
	put("rows.lua",
	    "local v = veil.dataset()\n"
	    "for r in v:rows() do print(r.pid, r.phone, r.name) end\n"
	    "return { n = v:count() }\n");
	assert_int_equal(veil("run rows.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 0);
	lacks("p1\t");			/* pseudonymized */
	lacks("13812345678");		/* masked */
	has("138****5678");
	lacks("Ann");			/* dropped */
	has("nil");			/* r.name: no such column... */
	put("name.lua", "local v = veil.dataset()\n"
	    "return { n = v:where('name', '=', 'Ann'):count() }\n");
	assert_int_equal(veil("run name.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 3);
	has("no column 'name'");
}

static void
test_refusals_and_failures(void **state)
{
	(void)state;
	/* dp is the default: noisy results with their epsilon */
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua"), 0);
	has("[epsilon 0.25]");		/* 1.0 split over 4 results */
	has("discrete Laplace");
	has("this job spent epsilon 1");
	/* more than the policy allows per job */
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--epsilon 2"), 4);
	has("exceeds the policy's 1 per job");
	/* the ledger: a total of 5 */
	put("dp5.lua", "return { epsilon = { per_job = 5, total = 5 } }\n");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy dp5.lua --ledger l.db --epsilon 1"), 0);
	has("left: 4 for data set 't', 4 for buyer 'local'");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy dp5.lua --ledger l.db --epsilon 4.5 --json"), 4);
	has("budget exhausted: data set 't' has 4 of its 5 epsilon left, the "
	    "job needs");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy dp5.lua --ledger l.db --epsilon 1 --json"), 0);
	has("\"budget\":{\"dataset_left\":\"3\",\"buyer_left\":\"3\"}");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy exp.lua"), 4);
	has("export");
	/* job errors: withheld on real data, shown on mock data */
	put("bad.lua", "local v = veil.dataset()\n"
	    "return { x = v:count() + 1 }\n");
	assert_int_equal(veil("run bad.lua --data d.csv --schema s.lua "
	    "--policy thr.lua"), 3);
	has("error (runtime)");
	has("withheld");
	lacks("arithmetic");
	assert_int_equal(veil("run bad.lua --data d.csv --schema s.lua "
	    "--policy thr.lua --mock"), 3);
	has("arithmetic");
	put("syn.lua", "return {\n");
	assert_int_equal(veil("run syn.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 3);
	has("(syntax)");
	put("num.lua", "return { x = 5 }\n");
	assert_int_equal(veil("run num.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 3);
	has("result 'x' is a number; return aggregations such as t:count()");
	/* usage */
	assert_int_equal(veil("run job.lua --data d.csv"), 2);
	has("usage");
	assert_int_equal(veil("run nope.lua --data d.csv --schema s.lua "
	    "--policy none.lua"), 2);
	put("badpol.lua", "return { mode = 'loud' }\n");
	assert_int_equal(veil("run job.lua --data d.csv --schema s.lua "
	    "--policy badpol.lua"), 2);
	has("badpol.lua: mode");
}

static void
test_mock_round_trip(void **state)
{
	(void)state;
	assert_int_equal(veil("mock --schema s.lua --rows 500 --out m.csv"), 0);
	put("p.lua", "local v = veil.dataset()\n"
	    "print('rows seen', #v:column('age'))\n"
	    "return { n = v:count(), m = v:mean('age', 0, 120) }\n");
	assert_int_equal(veil("run p.lua --data m.csv --schema s.lua "
	    "--policy thr.lua --mock"), 0);
	has("rows seen");
	/* without --mock, row access is refused on threshold data */
	assert_int_equal(veil("run p.lua --data m.csv --schema s.lua "
	    "--policy thr.lua"), 3);
	lacks("rows seen");
}

/* The README's examples run as shown. */
static void
test_examples_run(void **state)
{
	char cwd[1024];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(veil("mock --schema %s/examples/clinic/schema.lua "
	    "--rows 3000 --seed 3 --out clinic_mock.csv", cwd), 0);
	assert_int_equal(veil("run %s/examples/jobs/api_tour.lua --data "
	    "clinic_mock.csv --schema %s/examples/clinic/schema.lua --policy "
	    "%s/examples/clinic/policy_threshold.lua --json", cwd, cwd, cwd), 0);
	has("\"ratio_sum\":{\"op\":\"sum\"");
	has("\"cost_sex\":{\"op\":\"mean\"");
	assert_int_equal(veil("run %s/examples/jobs/visits.lua --data "
	    "clinic_mock.csv --schema %s/examples/clinic/schema.lua --policy "
	    "%s/examples/clinic/policy_threshold.lua", cwd, cwd, cwd), 0);
	has("by_diag");
	assert_int_equal(veil("run %s/examples/jobs/explore.lua --data "
	    "clinic_mock.csv --schema %s/examples/clinic/schema.lua --policy "
	    "%s/examples/clinic/policy_threshold.lua --mock", cwd, cwd, cwd), 0);
	has("rows\t3000");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_exact),
		cmocka_unit_test(test_threshold_suppresses),
		cmocka_unit_test(test_identifiers_are_gone),
		cmocka_unit_test(test_refusals_and_failures),
		cmocka_unit_test(test_mock_round_trip),
		cmocka_unit_test(test_examples_run),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
