/*
 * fuzz_rpc.c: veild's reading of a client's byte stream: frame_scan finds
 * where each msgpack-RPC message ends (or that it cannot end under the
 * cap) without allocating, then frame_unpack unpacks it. A client is
 * untrusted, before and after it authenticates.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz.h"

static void
scan_all(const uint8_t *data, size_t size, size_t cap)
{
	msgpack_unpacked up;
	size_t off = 0, len;
	int r;

	while (off < size) {
		r = frame_scan(data + off, size - off, cap, &len, NULL);
		if (r != 0)
			break;
		if (len == 0 || len > cap || len > size - off)
			abort();	/* frame_scan broke its contract */
		msgpack_unpacked_init(&up);
		/* What frame_scan accepts as one object unpacks as one. */
		if (frame_unpack(data + off, len, &up, NULL) != 0)
			abort();
		msgpack_unpacked_destroy(&up);
		off += len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scan_all(data, size, 64);	/* a tiny cap: the cap paths */
	scan_all(data, size, 4096);	/* veild before auth */
	scan_all(data, size, 1u << 20);	/* after */
	return 0;
}
