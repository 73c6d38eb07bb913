/*
 * utf8.c: strict UTF-8 validation for the CSV reader and table validator.
 * ASCII is checked 16 bytes at a time with SSE2 (8 without), and a run
 * with a non-ASCII byte jumps straight to it; multibyte sequences follow
 * the table of well-formed byte sequences in Unicode 15, section 3.9.
 */
#ifdef __SSE2__
#include <emmintrin.h>
#endif
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
#ifdef __SSE2__
		if (n - i >= 16) {
			unsigned int m = (unsigned int)_mm_movemask_epi8(
			    _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i)));

			if (m == 0) {
				i += 16;
				continue;
			}
			i += (size_t)__builtin_ctz(m);
		}
#endif
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if ((w & UINT64_C(0x8080808080808080)) == 0) {
				i += 8;
				continue;
			}
		}
		c = p[i];
		/*
		 * Three bytes (most of the BMP: CJK text is made of them)
		 * get a shorter test, and a run of them a loop of its own:
		 * the shape by masks, then overlongs and surrogates from the
		 * code point.
		 */
		while ((c & 0xf0) == 0xe0 && n - i >= 3 &&
		    (p[i + 1] & 0xc0) == 0x80 && (p[i + 2] & 0xc0) == 0x80) {
			uint32_t cp = (uint32_t)(c & 0x0f) << 12 |
			    (uint32_t)(p[i + 1] & 0x3f) << 6 | (p[i + 2] & 0x3f);

			if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))
				return i;
			if ((i += 3) == n)
				return n;
			c = p[i];
		}
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
