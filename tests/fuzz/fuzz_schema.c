/*
 * fuzz_schema.c: schema files (Lua evaluated in the empty, capped state,
 * then validated field by field). Hierarchy files are refused (dir NULL),
 * so the target never touches the file system.
 */
#include "fuzz.h"
#include "schema.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct schema *s = NULL;

	if (schema_load_buffer((const char *)data, size, "fuzz.lua", NULL, &s,
	    NULL) == 0)
		schema_free(s);
	return 0;
}
