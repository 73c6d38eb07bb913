/*
 * fuzz_scrub.c: the free-text scrubber. Runs scrub_find and scrub_text on
 * the input and aborts if a finding leaves the text, overlaps the one
 * before it or starts or ends inside a multibyte character, if the two
 * calls disagree, or if the output overruns its bound, is not terminated,
 * or is not UTF-8 when the input was.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "scrub.h"
#include "utf8.h"

#define MAXFIND	256

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scrub_find f[MAXFIND];
	uint64_t counts[SCRUB_NKINDS] = { 0 }, total = 0;
	const char *p = (const char *)data;
	size_t bound = scrub_bound(size), from = 0;
	char *out = NULL;
	long r;
	int k, nf;

	nf = scrub_find(p, size, f, MAXFIND);
	for (k = 0; k < nf; k++) {
		if (f[k].start < from || f[k].len == 0 ||
		    f[k].len > size - f[k].start ||
		    (unsigned int)f[k].kind >= SCRUB_NKINDS ||
		    (data[f[k].start] & 0x80) != 0 ||
		    (data[f[k].start + f[k].len - 1] & 0x80) != 0)
			abort();
		from = f[k].start + f[k].len;
	}
	if ((out = malloc(bound)) == NULL)
		goto out;
	memset(out, 0x5a, bound);
	r = scrub_text(p, size, out, bound, counts);
	if (r < 0 || (size_t)r >= bound || out[r] != '\0' ||
	    (size_t)r > size + size / 3 + 1)
		abort();
	for (k = 0; k < SCRUB_NKINDS; k++)
		total += counts[k];
	if (nf >= 0 && total != (uint64_t)nf)
		abort();
	if (nf < 0 && total <= MAXFIND)
		abort();
	if (utf8_valid(p, size) && !utf8_valid(out, (size_t)r))
		abort();
	/* One byte short must fail cleanly, leaving "". */
	if (r > 0 && (scrub_text(p, size, out, (size_t)r, NULL) != -1 ||
	    out[0] != '\0'))
		abort();
 out:
	free(out);
	return 0;
}
