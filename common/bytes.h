/*
 * bytes.h: short copies, inlined where the length is not known.
 */
#ifndef VEIL_BYTES_H
#define VEIL_BYTES_H

#include <stdint.h>
#include <string.h>

/*
 * The first n <= 16 bytes at p, without a call to memcpy for a length it
 * does not know: two loads that overlap when n is not a power of two (the
 * overlapping bytes are the same), reading nothing outside [p, p + n).
 */
static inline void
copy_short(unsigned char *d, const unsigned char *p, size_t n)
{
	uint64_t a, b;
	uint32_t x, y;

	if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		memcpy(&x, p, 4);
		memcpy(&y, p + n - 4, 4);
		memcpy(d, &x, 4);
		memcpy(d + n - 4, &y, 4);
	} else if (n > 0) {
		d[0] = p[0];
		d[n / 2] = p[n / 2];
		d[n - 1] = p[n - 1];
	}
}

/* n bytes of any length, mostly short. */
static inline void
copy_bytes(unsigned char *d, const unsigned char *p, size_t n)
{
	if (n <= 16)
		copy_short(d, p, n);
	else
		memcpy(d, p, n);
}

#endif /* VEIL_BYTES_H */
