/*
 * utf8.c: strict UTF-8 validation for the CSV reader and table validator.
 * ASCII is checked 16 bytes at a time with SSE2 (8 without), and a run
 * with a non-ASCII byte jumps straight to it; multibyte sequences follow
 * the table of well-formed byte sequences in Unicode 15, section 3.9.
 *
 * Text with many multibyte sequences (CJK names and notes) is first
 * checked as a whole with SSSE3 where the CPU has it: the table lookups
 * of Keiser and Lemire, "Validating UTF-8 in less than one instruction
 * per byte" (2021), 16 bytes at a time with no branch per sequence. They
 * only say valid or not; the byte loop below finds where, when not.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_SSSE3_CHECK
#endif
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <string.h>

#include "utf8.h"

#ifdef HAVE_SSSE3_CHECK
/* What is wrong, as Keiser and Lemire's tables mark it. */
#define TOO_SHORT	0x01	/* a lead not followed by a continuation */
#define TOO_LONG	0x02	/* a continuation after ASCII */
#define OVERLONG_3	0x04
#define TOO_LARGE	0x08	/* past U+10FFFF */
#define SURROGATE	0x10
#define OVERLONG_2	0x20
#define TOO_LARGE_1000	0x40
#define OVERLONG_4	0x40
#define TWO_CONTS	0x80	/* a continuation after a continuation */
#define CARRY		(TOO_SHORT | TOO_LONG | TWO_CONTS)
#define C(x)		((char)(x))

/*
 * The lookup tables: flags by the high and by the low nibble of the byte
 * before, and by the high nibble of the byte itself. The three flag sets
 * meet only where a two-byte pattern is ill-formed.
 */
static const unsigned char b1_high_tab[16] = {
	TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
	TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
	TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
	TOO_SHORT | OVERLONG_2,
	TOO_SHORT,
	TOO_SHORT | OVERLONG_3 | SURROGATE,
	TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4
};
static const unsigned char b1_low_tab[16] = {
	CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
	CARRY | OVERLONG_2,
	CARRY, CARRY,
	CARRY | TOO_LARGE,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
	CARRY | TOO_LARGE | TOO_LARGE_1000,
	CARRY | TOO_LARGE | TOO_LARGE_1000
};
static const unsigned char b2_high_tab[16] = {
	TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
	TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
	TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 |
	    OVERLONG_4,
	TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
	TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
	TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
	TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT
};

/*
 * 1 if the n bytes at p are valid UTF-8. Each byte is looked up in the
 * tables above. A third or fourth byte that is not a continuation is
 * caught by comparing the bytes two and three back with the leads of
 * three- and four-byte sequences.
 */
__attribute__((target("ssse3")))
static int
valid_ssse3(const unsigned char *p, size_t n)
{
	const __m128i b1_high = _mm_loadu_si128((const __m128i *)
	    (const void *)b1_high_tab);
	const __m128i b1_low = _mm_loadu_si128((const __m128i *)
	    (const void *)b1_low_tab);
	const __m128i b2_high = _mm_loadu_si128((const __m128i *)
	    (const void *)b2_high_tab);
	/* A block may not end inside a sequence: leads above these. */
	const __m128i last = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, C(0xf0 - 1), C(0xe0 - 1), C(0xc0 - 1));
	const __m128i nib = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
	const __m128i third = _mm_set1_epi8(C(0xe0 - 0x80));
	const __m128i fourth = _mm_set1_epi8(C(0xf0 - 0x80));
	const __m128i top = _mm_set1_epi8(C(0x80));
	__m128i x, prev = zero, err = zero, incomplete = zero, p1, p2, p3, sc;
	size_t i = 0;

	for (;;) {
		/* ASCII runs go 64 bytes at a time. */
		while (n - i >= 64) {
			x = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i + 48));
			if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(
			    _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i)), _mm_loadu_si128((const __m128i *)
			    (const void *)(p + i + 16))), _mm_or_si128(
			    _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i + 32)), x))) != 0)
				break;
			err = _mm_or_si128(err, incomplete);
			incomplete = zero;
			prev = x;
			i += 64;
		}
		if (i == n)
			break;
		if (n - i >= 16)
			x = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i));
		else {
			/*
			 * The last bytes: the block that ends the input,
			 * after the 16 bytes before it (n >= 32), checked
			 * again where it overlaps; a sequence the last
			 * block cut continues into it, so is not incomplete.
			 */
			i = n - 16;
			prev = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i - 16));
			x = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i));
			incomplete = zero;
		}
		if (_mm_movemask_epi8(x) == 0) {
			err = _mm_or_si128(err, incomplete);
			incomplete = zero;
			prev = x;
			i += 16;
			continue;
		}
		p1 = _mm_alignr_epi8(x, prev, 15);
		sc = _mm_and_si128(_mm_and_si128(
		    _mm_shuffle_epi8(b1_high, _mm_and_si128(
		    _mm_srli_epi16(p1, 4), nib)),
		    _mm_shuffle_epi8(b1_low, _mm_and_si128(p1, nib))),
		    _mm_shuffle_epi8(b2_high, _mm_and_si128(
		    _mm_srli_epi16(x, 4), nib)));
		p2 = _mm_alignr_epi8(x, prev, 14);
		p3 = _mm_alignr_epi8(x, prev, 13);
		err = _mm_or_si128(err, _mm_xor_si128(sc, _mm_and_si128(
		    _mm_or_si128(_mm_subs_epu8(p2, third),
		    _mm_subs_epu8(p3, fourth)), top)));
		incomplete = _mm_subs_epu8(x, last);
		prev = x;
		i += 16;
	}
	err = _mm_or_si128(err, incomplete);
	return _mm_movemask_epi8(_mm_cmpeq_epi8(err, zero)) == 0xffff;
}

/*
 * The lookups of valid_ssse3 on the 32 bytes at p (x: them, loaded), the
 * 3 bytes before read from memory: a nonzero byte where p's is not where
 * valid UTF-8 would have it.
 */
__attribute__((target("avx2")))
static inline __m256i
lookup_err_avx2(const unsigned char *p, __m256i x)
{
	const __m256i b1_high = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)b1_high_tab));
	const __m256i b1_low = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)b1_low_tab));
	const __m256i b2_high = _mm256_broadcastsi128_si256(_mm_loadu_si128(
	    (const __m128i *)(const void *)b2_high_tab));
	const __m256i nib = _mm256_set1_epi8(0x0f);
	const __m256i third = _mm256_set1_epi8(C(0xe0 - 0x80));
	const __m256i fourth = _mm256_set1_epi8(C(0xf0 - 0x80));
	const __m256i top = _mm256_set1_epi8(C(0x80));
	__m256i p1, p2, p3, sc;

	p1 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 1));
	p2 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 2));
	p3 = _mm256_loadu_si256((const __m256i *)(const void *)(p - 3));
	sc = _mm256_and_si256(_mm256_and_si256(
	    _mm256_shuffle_epi8(b1_high, _mm256_and_si256(
	    _mm256_srli_epi16(p1, 4), nib)),
	    _mm256_shuffle_epi8(b1_low, _mm256_and_si256(p1, nib))),
	    _mm256_shuffle_epi8(b2_high, _mm256_and_si256(
	    _mm256_srli_epi16(x, 4), nib)));
	return _mm256_xor_si256(sc, _mm256_and_si256(_mm256_or_si256(
	    _mm256_subs_epu8(p2, third), _mm256_subs_epu8(p3, fourth)), top));
}

/*
 * The same lookups on 64 bytes with AVX2, the bytes before each read
 * from memory: nonzero if a byte of [p, p + 64) is not where valid UTF-8
 * would have it, given the 3 bytes before p. A sequence cut at p + 64 is
 * not looked at (the next block's first bytes tell).
 */
__attribute__((target("avx2")))
static int
block_bad_avx2(const unsigned char *p, __m256i x, __m256i y)
{
	__m256i err = _mm256_or_si256(lookup_err_avx2(p, x),
	    lookup_err_avx2(p + 32, y));

	return !_mm256_testz_si256(err, err);
}

/* Below this, the byte loop is as quick (and valid_ssse3 needs 32). */
#define SSSE3_MIN	64
#endif /* HAVE_SSSE3_CHECK */

size_t
utf8_check(const char *vp, size_t n)
{
	const unsigned char *p = (const unsigned char *)vp;
	size_t i = 0;
	uint64_t w;
	unsigned char c, lo, hi;

#ifdef HAVE_SSSE3_CHECK
	if (n >= SSSE3_MIN && __builtin_cpu_supports("ssse3") &&
	    valid_ssse3(p, n))
		return n;
#endif

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
utf8_have_block(void)
{
#ifdef HAVE_SSSE3_CHECK
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

void
utf8_scan_init(struct utf8_scan *u)
{
	u->prev = NULL;
	u->prevhigh = 0;
}

/* Whether an ASCII block at p follows a sequence the block before cut. */
static inline int
cut_before(const struct utf8_scan *u, const unsigned char *p)
{
	return u->prevhigh && (p[-1] >= 0xc0 || p[-2] >= 0xe0 ||
	    p[-3] >= 0xf0);
}

/* A block whose non-ASCII bytes are high (x, y: its two halves). */
#ifdef HAVE_SSSE3_CHECK
__attribute__((target("avx2")))
static inline int
scan_bad(struct utf8_scan *u, const unsigned char *p, uint64_t high,
    __m256i x, __m256i y)
{
	int bad;

	if (high)	/* the first block's bytes before are not ours */
		bad = u->prev == NULL || u->prev + 64 != (const char *)p ||
		    block_bad_avx2(p, x, y);
	else
		bad = cut_before(u, p);
	u->prev = (const char *)p;
	u->prevhigh = high != 0;
	return bad;
}

__attribute__((target("avx2")))
static int
scan_block_avx2(struct utf8_scan *u, const unsigned char *p, int high)
{
	return scan_bad(u, p, (uint64_t)(high != 0),
	    _mm256_loadu_si256((const __m256i *)(const void *)p),
	    _mm256_loadu_si256((const __m256i *)(const void *)(p + 32)));
}
#endif

int
utf8_scan_block(struct utf8_scan *u, const char *vp, int high)
{
	const unsigned char *p = (const unsigned char *)vp;
	int bad;

#ifdef HAVE_SSSE3_CHECK
	if (utf8_have_block())
		return scan_block_avx2(u, p, high);
#endif
	bad = high || cut_before(u, p);
	u->prev = vp;
	u->prevhigh = high;
	return bad;
}

#ifdef HAVE_SSSE3_CHECK
__attribute__((target("avx2")))
int
utf8_scan_find4(struct utf8_scan *u, const char *vp, const char set[4],
    uint64_t *foundp, uint64_t *highp)
{
	const unsigned char *p = (const unsigned char *)vp;
	const __m256i c0 = _mm256_set1_epi8(set[0]);
	const __m256i c1 = _mm256_set1_epi8(set[1]);
	const __m256i c2 = _mm256_set1_epi8(set[2]);
	const __m256i c3 = _mm256_set1_epi8(set[3]);
	__m256i x, y;
	uint64_t high;

	x = _mm256_loadu_si256((const __m256i *)(const void *)p);
	y = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	high = (uint32_t)_mm256_movemask_epi8(x) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(y) << 32;
	*highp = high;
	*foundp = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
	    _mm256_or_si256(_mm256_cmpeq_epi8(x, c0), _mm256_cmpeq_epi8(x, c1)),
	    _mm256_or_si256(_mm256_cmpeq_epi8(x, c2),
	    _mm256_cmpeq_epi8(x, c3)))) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
	    _mm256_or_si256(_mm256_cmpeq_epi8(y, c0), _mm256_cmpeq_epi8(y, c1)),
	    _mm256_or_si256(_mm256_cmpeq_epi8(y, c2),
	    _mm256_cmpeq_epi8(y, c3)))) << 32;
	return scan_bad(u, p, high, x, y);
}
#else
int
utf8_scan_find4(struct utf8_scan *u, const char *vp, const char set[4],
    uint64_t *foundp, uint64_t *highp)
{
	const unsigned char *p = (const unsigned char *)vp;
	uint64_t f = 0, h = 0;
	unsigned int i;

	for (i = 0; i < 64; i++) {
		f |= (uint64_t)(p[i] == (unsigned char)set[0] ||
		    p[i] == (unsigned char)set[1] ||
		    p[i] == (unsigned char)set[2] ||
		    p[i] == (unsigned char)set[3]) << i;
		h |= (uint64_t)(p[i] >> 7) << i;
	}
	*foundp = f;
	*highp = h;
	return utf8_scan_block(u, vp, h != 0);
}
#endif

int
utf8_valid(const char *p, size_t n)
{
	return utf8_check(p, n) == n;
}
