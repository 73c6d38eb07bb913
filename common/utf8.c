/*
 * utf8.c: strict UTF-8 validation for the CSV reader and table validator.
 * Eight ASCII bytes are checked at a time; multibyte sequences follow the
 * table of well-formed byte sequences in Unicode 15, section 3.9.
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

size_t
utf8_check(const char *vp, size_t n)
{
	const unsigned char *p = (const unsigned char *)vp;
	size_t i = 0;
	uint64_t w;
	unsigned char c, lo, hi;

	while (i < n) {
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if ((w & UINT64_C(0x8080808080808080)) == 0) {
				i += 8;
				continue;
			}
		}
		c = p[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			if (n - i < 2 || p[i + 1] < 0x80 || p[i + 1] > 0xbf)
				return i;
			i += 2;
			continue;
		}
		if (c >= 0xe0 && c <= 0xef) {
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
			if (n - i < 3 || p[i + 1] < lo || p[i + 1] > hi ||
			    (p[i + 2] & 0xc0) != 0x80)
				return i;
			i += 3;
			continue;
		}
		if (c >= 0xf0 && c <= 0xf4) {
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
			if (n - i < 4 || p[i + 1] < lo || p[i + 1] > hi ||
			    (p[i + 2] & 0xc0) != 0x80 ||
			    (p[i + 3] & 0xc0) != 0x80)
				return i;
			i += 4;
			continue;
		}
		return i;
	}
	return n;
}

int
utf8_valid(const char *p, size_t n)
{
	return utf8_check(p, n) == n;
}
