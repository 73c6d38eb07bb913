/*
 * test_policy.c: policy files: every field parsed, every error path
 * naming the file and the field, and the classification levels raising
 * the minimums.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "datefmt.h"
#include "policy.h"

static struct policy *
load(const char *src, int want, const char *needle)
{
	struct policy *p = NULL;
	struct veil_err err;
	int r;

	veil_err_clear(&err);
	r = policy_load_buffer(src, strlen(src), "p.lua", &p, &err);
	if (r != want)
		fail_msg("\"%s\": code %d, want %d (%s)", src, r, want, err.msg);
	if (needle != NULL && strstr(err.msg, needle) == NULL)
		fail_msg("\"%s\": \"%s\" lacks \"%s\"", src, err.msg, needle);
	if (want != 0 && strncmp(err.msg, "p.lua", 5) != 0)
		fail_msg("\"%s\": \"%s\" does not name the file", src, err.msg);
	return p;
}

static void
test_full(void **state)
{
	struct policy *p;
	int32_t d;

	(void)state;
	p = load("return { mode = 'threshold', noise = 'gaussian', "
	    "epsilon = { per_job = 0.1, total = 3, per_buyer = 1 }, "
	    "delta = 1e-7, max_rows_per_unit = 3, k = 25, l = 4, t = 0.2, "
	    "suppression = 0.05, buyers = { 'a', 'b' }, purposes = { 'r' }, "
	    "limits = { cpu_ms = 2000, memory_mb = 64, wall_ms = 4000, "
	    "output_kb = 8 }, export = true, expires = '2030-01-31', "
	    "price = { per_job = 1.5, per_epsilon = 20 }, "
	    "description = 'x' }", 0, NULL);
	assert_int_equal(p->mode, POLICY_THRESHOLD);
	assert_int_equal(p->noise, POLICY_GAUSSIAN);
	assert_string_equal(p->eps_job, "0.1");
	assert_string_equal(p->eps_total, "3");
	assert_string_equal(p->eps_buyer, "1");
	assert_string_equal(p->delta_s, "0.0000001");
	assert_int_equal(p->max_rows_per_unit, 3);
	assert_int_equal(p->k, 25);
	assert_int_equal(p->l, 4);
	assert_true(p->t == 0.2);
	assert_int_equal(p->nbuyers, 2);
	assert_string_equal(p->buyers[1], "b");
	assert_int_equal(p->cpu_ms, 2000);
	assert_int_equal(p->output_kb, 8);
	assert_true(p->export_allowed);
	assert_int_equal(datefmt_parse("2030-01-31", 10, &d), 0);
	assert_int_equal(p->expires, d);
	assert_true(p->price_per_epsilon == 20);
	policy_free(p);
	/* defaults */
	p = load("return {}", 0, NULL);
	assert_int_equal(p->mode, POLICY_DP);
	assert_string_equal(p->eps_job, "1");
	assert_string_equal(p->eps_total, "5");
	assert_int_equal(p->max_rows_per_unit, 5);
	policy_free(p);
	p = policy_new_default();
	assert_int_equal(p->mode, POLICY_DP);
	policy_free(p);
	policy_free(NULL);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*src, *needle;
		int		 code;
	} bad[] = {
		{ "return 5", "must return a table", VEIL_E_SCHEMA },
		{ "return {", "expected", VEIL_E_LUA },
		{ "while true do end", "instruction limit", VEIL_E_LUA },
		{ "return { mdoe = 'dp' }", "unknown key \"mdoe\"",
		    VEIL_E_SCHEMA },
		{ "return { mode = 'loud' }", "mode: expected", VEIL_E_SCHEMA },
		{ "return { noise = 'pink' }", "noise: expected",
		    VEIL_E_SCHEMA },
		{ "return { epsilon = 1 }", "epsilon: expected",
		    VEIL_E_SCHEMA },
		{ "return { epsilon = { total = 1 } }",
		    "epsilon.per_job: missing", VEIL_E_SCHEMA },
		{ "return { epsilon = { per_job = 1 } }",
		    "epsilon.total: missing", VEIL_E_SCHEMA },
		{ "return { epsilon = { per_job = 2, total = 1 } }",
		    "per_job (2) exceeds total (1)", VEIL_E_SCHEMA },
		{ "return { epsilon = { per_job = -1, total = 1 } }",
		    "epsilon.per_job: expected a number from", VEIL_E_SCHEMA },
		{ "return { epsilon = { per_job = 1, total = 2, per_buyer = 3 "
		    "} }", "per_buyer (3) exceeds total", VEIL_E_SCHEMA },
		{ "return { epsilon = { per_job = 1, total = 2, each = 3 } }",
		    "epsilon: unknown key \"each\"", VEIL_E_SCHEMA },
		{ "return { delta = 0.5 }", "delta: expected a number from 0",
		    VEIL_E_SCHEMA },
		{ "return { delta = 'small' }", "delta: expected a number",
		    VEIL_E_SCHEMA },
		{ "return { max_rows_per_unit = 0 }",
		    "max_rows_per_unit: expected 1 to", VEIL_E_SCHEMA },
		{ "return { max_rows_per_unit = 2.5 }",
		    "max_rows_per_unit: expected an integer, got a fraction",
		    VEIL_E_SCHEMA },
		{ "return { k = 1 }", "k: expected 2 to", VEIL_E_SCHEMA },
		{ "return { l = 0 }", "l: expected 1 to", VEIL_E_SCHEMA },
		{ "return { t = 2 }", "t: expected a number", VEIL_E_SCHEMA },
		{ "return { suppression = 0.9 }", "suppression: expected",
		    VEIL_E_SCHEMA },
		{ "return { buyers = 'acme' }", "buyers: expected a list",
		    VEIL_E_SCHEMA },
		{ "return { buyers = { 'a', '' } }", "buyers[2]: expected",
		    VEIL_E_SCHEMA },
		{ "return { purposes = { 1 } }", "purposes[1]: expected",
		    VEIL_E_SCHEMA },
		{ "return { limits = 5 }", "limits: expected", VEIL_E_SCHEMA },
		{ "return { limits = { cpu = 1 } }",
		    "limits: unknown key \"cpu\"", VEIL_E_SCHEMA },
		{ "return { limits = { cpu_ms = 1 } }",
		    "limits.cpu_ms: expected 100 to", VEIL_E_SCHEMA },
		{ "return { limits = { memory_mb = 1 } }",
		    "limits.memory_mb: expected 16 to", VEIL_E_SCHEMA },
		{ "return { limits = { wall_ms = 99999999 } }",
		    "limits.wall_ms: expected", VEIL_E_SCHEMA },
		{ "return { limits = { output_kb = 0 } }",
		    "limits.output_kb: expected 1 to", VEIL_E_SCHEMA },
		{ "return { export = 'yes' }", "export: expected true or false",
		    VEIL_E_SCHEMA },
		{ "return { expires = '2027-02-30' }", "expires: expected a "
		    "date", VEIL_E_SCHEMA },
		{ "return { price = { per_job = -1 } }", "price.per_job: "
		    "expected", VEIL_E_SCHEMA },
		{ "return { price = { per_row = 1 } }", "price: unknown key",
		    VEIL_E_SCHEMA },
		{ "return { description = 5 }", "description: expected a "
		    "string", VEIL_E_SCHEMA },
		{ "return { noise = 'gaussian', delta = 0 }",
		    "noise: \"gaussian\" needs delta > 0", VEIL_E_SCHEMA },
		{ "return { [1] = 'dp' }", "unexpected non-name key",
		    VEIL_E_SCHEMA },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(load(bad[i].src, bad[i].code, bad[i].needle));
}

static void
test_levels(void **state)
{
	struct policy *p = load("return { k = 5, l = 2, epsilon = { "
	    "per_job = 2, total = 10 }, delta = 1e-4 }", 0, NULL);

	(void)state;
	/* Epsilons are plain decimals, never "1e+01": the ledger reads
	 * them back exactly. */
	assert_string_equal(p->eps_total, "10");
	assert_int_equal(policy_apply_level(p, 0), 0);	/* unclassified */
	assert_int_equal(policy_apply_level(p, 3), 5);	/* all raised */
	assert_int_equal(p->k, 20);
	assert_int_equal(p->l, 3);
	assert_string_equal(p->eps_job, "0.5");
	assert_string_equal(p->eps_total, "3");
	assert_string_equal(p->eps_buyer, "3");
	assert_string_equal(p->delta_s, "0.0000001");
	assert_int_equal(policy_apply_level(p, 2), 0);	/* stricter stays */
	assert_int_equal(policy_apply_level(p, 4), 5);
	assert_int_equal(p->k, 50);
	assert_string_equal(p->eps_total, "1");
	assert_string_equal(policy_mode_name(POLICY_EXPORT), "export");
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
