/*
 * fuzz_frame.c: the parent's reader of worker results: the length prefix,
 * the msgpack structure check, unpacking, and the key-by-key validation
 * of a result frame (spawner_parse_result). A worker is untrusted.
 */
#include <string.h>

#include "frame.h"
#include "fuzz.h"
#include "spawner.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spawner_outcome out;

	memset(&out, 0, sizeof(out));
	msgpack_unpacked_init(&out.frame);
	(void)spawner_parse_result(data, size, &out);
	msgpack_unpacked_destroy(&out.frame);
	/* The bare structure check, without the length prefix. */
	(void)frame_check(data, size, NULL);
	return 0;
}
