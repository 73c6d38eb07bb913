/*
 * fuzz_policy.c: policy files (Lua evaluated in the empty, capped state,
 * then validated field by field).
 */
#include "fuzz.h"
#include "policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;

	if (policy_load_buffer((const char *)data, size, "fuzz.lua", &p,
	    NULL) == 0) {
		(void)policy_apply_level(p, (int)(size % 5));
		policy_free(p);
	}
	return 0;
}
