/*
 * test_utf8.c: strict UTF-8 validation: well-formed 1-4 byte sequences,
 * overlongs, surrogates, code points past U+10FFFF, truncated sequences,
 * stray continuation bytes, the offset returned for the first bad byte,
 * and the 8-byte ASCII fast path around its boundaries. Every length is
 * checked with a heap buffer of exactly that size, so that a read past
 * the end shows up under ASan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* utf8_check over a heap copy of exactly n bytes. */
static size_t
check_exact(const char *p, size_t n)
{
	char *copy;
	size_t r;

	copy = malloc(n > 0 ? n : 1);
	assert_non_null(copy);
	if (n > 0)
		memcpy(copy, p, n);
	r = utf8_check(copy, n);
	assert_int_equal(utf8_valid(copy, n), r == n);
	free(copy);
	return r;
}

#define CHECK(lit, want) do {						\
	size_t got_ = check_exact((lit), sizeof(lit) - 1);		\
	if (got_ != (size_t)(want))					\
		fail_msg("utf8_check(%s) = %zu, expected %zu", #lit,	\
		    got_, (size_t)(want));				\
} while (0)

/*
 * A reference decoder written from the Unicode definition (code point
 * ranges, not the byte table): the offset of the first ill-formed byte.
 */
static size_t
ref_check(const unsigned char *p, size_t n)
{
	size_t i = 0, len, k;
	uint32_t cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			len = 2, cp = p[i] & 0x1f, min = 0x80;
		else if ((p[i] & 0xf0) == 0xe0)
			len = 3, cp = p[i] & 0x0f, min = 0x800;
		else if ((p[i] & 0xf8) == 0xf0)
			len = 4, cp = p[i] & 0x07, min = 0x10000;
		else
			return i;
		if (n - i < len)
			return i;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return n;
}

static void
test_valid(void **state)
{
	(void)state;
	CHECK("", 0);
	CHECK("A", 1);
	CHECK("\x7f", 1);
	CHECK("\x01\x00z", 3);			/* NUL is valid UTF-8 */
	CHECK("\xc2\x80", 2);			/* U+0080 */
	CHECK("\xc3\xa9", 2);			/* e acute */
	CHECK("\xdf\xbf", 2);			/* U+07FF */
	CHECK("\xe0\xa0\x80", 3);		/* U+0800 */
	CHECK("\xe2\x82\xac", 3);		/* euro sign */
	CHECK("\xed\x9f\xbf", 3);		/* U+D7FF, below surrogates */
	CHECK("\xee\x80\x80", 3);		/* U+E000, above surrogates */
	CHECK("\xef\xbf\xbf", 3);		/* U+FFFF */
	CHECK("\xf0\x90\x80\x80", 4);		/* U+10000 */
	CHECK("\xf0\x9f\x98\x80", 4);		/* an emoji */
	CHECK("\xf3\xbf\xbf\xbf", 4);		/* U+FFFFF */
	CHECK("\xf4\x8f\xbf\xbf", 4);		/* U+10FFFF */
	CHECK("na\xc3\xafve caf\xc3\xa9 \xe2\x82\xac" "5 \xf0\x9f\x98\x80!",
	    23);
}

static void
test_overlong(void **state)
{
	(void)state;
	CHECK("\xc0\x80", 0);			/* NUL in two bytes */
	CHECK("\xc0\xaf", 0);
	CHECK("\xc1\xbf", 0);			/* U+007F in two bytes */
	CHECK("\xe0\x80\x80", 0);
	CHECK("\xe0\x80\xaf", 0);
	CHECK("\xe0\x9f\xbf", 0);		/* U+07FF in three bytes */
	CHECK("\xf0\x80\x80\x80", 0);
	CHECK("\xf0\x80\x80\xaf", 0);
	CHECK("\xf0\x8f\xbf\xbf", 0);		/* U+FFFF in four bytes */
	CHECK("ok\xc0\x80", 2);
	CHECK("ok\xe0\x80\x80", 2);
	CHECK("ok\xf0\x80\x80\x80", 2);
	/* the same after an 8-byte ASCII run */
	CHECK("12345678\xc0\x80", 8);
	CHECK("12345678\xe0\x80\x80", 8);
	CHECK("12345678\xf0\x80\x80\x80", 8);
}

static void
test_surrogates(void **state)
{
	(void)state;
	CHECK("\xed\xa0\x80", 0);		/* U+D800 */
	CHECK("\xed\xad\xbf", 0);		/* U+DB7F */
	CHECK("\xed\xb0\x80", 0);		/* U+DC00 */
	CHECK("\xed\xbf\xbf", 0);		/* U+DFFF */
	CHECK("\xed\xa0\x80\xed\xb0\x80", 0);	/* a CESU-8 pair */
	CHECK("abc\xed\xa0\x80", 3);
}

static void
test_beyond_max(void **state)
{
	(void)state;
	CHECK("\xf4\x90\x80\x80", 0);		/* U+110000 */
	CHECK("\xf4\xbf\xbf\xbf", 0);
	CHECK("\xf5\x80\x80\x80", 0);
	CHECK("\xf7\xbf\xbf\xbf", 0);
	CHECK("\xf8\x88\x80\x80\x80", 0);	/* old 5-byte form */
	CHECK("\xfc\x84\x80\x80\x80\x80", 0);	/* old 6-byte form */
	CHECK("\xfe", 0);
	CHECK("\xff", 0);
	CHECK("x\xf4\x90\x80\x80", 1);
}

static void
test_truncated(void **state)
{
	(void)state;
	CHECK("\xc3", 0);
	CHECK("ab\xc3", 2);
	CHECK("ab\xe2", 2);
	CHECK("ab\xe2\x82", 2);
	CHECK("ab\xf0", 2);
	CHECK("ab\xf0\x9f", 2);
	CHECK("ab\xf0\x9f\x98", 2);
	CHECK("\xc3\xa9\xe2\x82", 2);
	/* cut by a following ASCII byte rather than by the end */
	CHECK("\xc3" "a", 0);
	CHECK("\xe2\x82" "a", 0);
	CHECK("\xe2" "a\xac", 0);
	CHECK("\xf0\x9f\x98" "a", 0);
	CHECK("\xf0\x9f" "aa", 0);
	/* cut at the end of a buffer longer than eight bytes */
	CHECK("0123456789\xf0\x9f\x98", 10);
	CHECK("0123456\xe2\x82", 7);
}

static void
test_stray_continuation(void **state)
{
	(void)state;
	CHECK("\x80", 0);
	CHECK("\xbf", 0);
	CHECK("a\x80", 1);
	CHECK("\xc3\xa9\xa9", 2);		/* one continuation too many */
	CHECK("\xe2\x82\xac\x80", 3);
	CHECK("\xf0\x9f\x98\x80\xbf", 4);
	CHECK("abcdefgh\x80", 8);
	CHECK("abcdefghijklmno\x80", 15);
}

/*
 * An otherwise ASCII buffer with one bad byte at offset k returns k, for
 * every k from 0 to 16 and every buffer length that holds k, so the bad
 * byte falls at each position of an 8-byte word and in the byte-wise tail.
 */
static void
test_fast_path_offsets(void **state)
{
	static const unsigned char bad[] = { 0x80, 0xbf, 0xc0, 0xc3, 0xe2,
	    0xed, 0xf0, 0xf4, 0xf8, 0xff };
	char buf[40];
	size_t k, n, b, got;

	(void)state;
	for (b = 0; b < sizeof(bad); b++)
		for (k = 0; k <= 16; k++)
			for (n = k + 1; n <= sizeof(buf); n++) {
				memset(buf, 'a' + (int)(k % 26), sizeof(buf));
				buf[k] = (char)bad[b];
				got = check_exact(buf, n);
				if (got != k)
					fail_msg("byte 0x%02x at %zu of %zu: "
					    "got %zu", bad[b], k, n, got);
			}
	/* all ASCII, every length up to 40 (the word loop's tail) */
	memset(buf, 0x7f, sizeof(buf));
	for (n = 0; n <= sizeof(buf); n++)
		assert_int_equal(check_exact(buf, n), n);
}

/* A valid multibyte sequence straddling an 8-byte word, at each offset. */
static void
test_fast_path_straddle(void **state)
{
	static const char *const seq[] = { "\xc3\xa9", "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80" };
	char buf[40];
	size_t k, n, i, l;

	(void)state;
	for (i = 0; i < 3; i++) {
		l = strlen(seq[i]);
		for (k = 0; k <= 17; k++) {
			memset(buf, 'x', sizeof(buf));
			memcpy(buf + k, seq[i], l);
			for (n = k + l; n <= sizeof(buf); n++)
				assert_int_equal(check_exact(buf, n), n);
			/* cut one byte short: the lead byte is reported */
			assert_int_equal(check_exact(buf, k + l - 1), k);
			/* the bad byte after a valid one is found */
			buf[k + l] = (char)0x80;
			assert_int_equal(check_exact(buf, k + l + 1), k + l);
		}
	}
}

/* Every 1-, 2- and 3-byte input, and 4-byte inputs over edge bytes. */
static void
test_against_reference(void **state)
{
	static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
	    0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
	    0xf0, 0xf4, 0xf5, 0xff };
	unsigned char b[4];
	unsigned int x, y, z, w;
	size_t want, got;

	(void)state;
	for (x = 0; x < 0x1000000; x++) {
		b[0] = (unsigned char)(x >> 16);
		b[1] = (unsigned char)(x >> 8);
		b[2] = (unsigned char)x;
		if (x < 0x100) {
			assert_int_equal(utf8_check((char *)b + 2, 1),
			    ref_check(b + 2, 1));
		}
		if (x < 0x10000) {
			want = ref_check(b + 1, 2);
			got = utf8_check((char *)b + 1, 2);
			if (got != want)
				fail_msg("%02x %02x: got %zu, want %zu", b[1],
				    b[2], got, want);
		}
		if (b[0] < 0xc0)
			continue;	/* ASCII and stray leads are covered */
		want = ref_check(b, 3);
		got = utf8_check((char *)b, 3);
		if (got != want)
			fail_msg("%02x %02x %02x: got %zu, want %zu", b[0],
			    b[1], b[2], got, want);
	}
	for (x = 0xf0; x <= 0xff; x++)
		for (y = 0; y < sizeof(edge); y++)
			for (z = 0; z < sizeof(edge); z++)
				for (w = 0; w < sizeof(edge); w++) {
					b[0] = (unsigned char)x;
					b[1] = edge[y];
					b[2] = edge[z];
					b[3] = edge[w];
					want = ref_check(b, 4);
					got = utf8_check((char *)b, 4);
					if (got != want)
						fail_msg("%02x %02x %02x %02x: "
						    "got %zu, want %zu", b[0],
						    b[1], b[2], b[3], got,
						    want);
				}
}

/*
 * Inputs of 64 bytes and more are first checked 16 at a time with
 * SSSE3 (where the CPU has it): every 2- and 3-byte input and 4-byte
 * inputs over edge bytes, at every offset of a 16-byte block and across
 * the 64-byte ASCII skip, in ASCII or in CJK text, agree with the
 * reference; so do random mixes of good and bad sequences.
 */
static void
test_long_against_reference(void **state)
{
	static const unsigned char edge[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
	    0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
	    0xf0, 0xf4, 0xf5, 0xff };
	static const char *const pieces[] = { "a", ",", "\xc3\xa9",
	    "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
	    "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\x80", "\xc0\xaf",
	    "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	    "\xf5", "\xff", "\xe4\xb8", "\xc3", "\xf0\x9f\x98" };
	unsigned char buf[200], *copy;
	unsigned int x, y, z, w, at, fill, len, k;
	uint64_t r = 0x9e3779b97f4a7c15ULL;
	size_t want, got, n, pl;

	(void)state;
	for (fill = 0; fill < 2; fill++) {
		for (at = 0; at < 80; at += at < 18 || (at >= 60 &&
		    at < 67) ? 1 : 7) {
			for (x = 0x80; x < 0x10000; x++) {
				/* ASCII or "中" around, a 2-byte input at at */
				for (n = 0; n + 3 <= 100; n += 3)
					memcpy(buf + n, fill ? "\xe4\xb8\xad" :
					    "abc", 3);
				if (x < 0x8000 && (x & 0xff) != 0)
					continue;	/* lead bytes suffice */
				buf[at] = (unsigned char)(x >> 8);
				buf[at + 1] = (unsigned char)x;
				want = ref_check(buf, 99);
				got = utf8_check((char *)buf, 99);
				if (got != want)
					fail_msg("%02x %02x at %u: got %zu, "
					    "want %zu", buf[at], buf[at + 1], at,
					    got, want);
			}
		}
	}
	for (at = 13; at < 19; at++)
		for (x = 0xc0; x < 0x100; x++)
			for (y = 0; y < 0x100; y++)
				for (z = 0; z < sizeof(edge); z++)
					for (w = 0; w < sizeof(edge); w++) {
						memset(buf, 'a', 70);
						buf[at] = (unsigned char)x;
						buf[at + 1] = (unsigned char)y;
						buf[at + 2] = edge[z];
						buf[at + 3] = edge[w];
						want = ref_check(buf, 70);
						got = utf8_check((char *)buf,
						    70);
						if (got != want)
							fail_msg("%02x %02x %02x "
							    "%02x at %u: %zu, "
							    "want %zu", x, y,
							    edge[z], edge[w],
							    at, got, want);
					}
	/* random mixes, each in a heap block of its exact size */
	for (k = 0; k < 20000; k++) {
		len = 64 + (unsigned int)(r % 130);
		for (n = 0; n < len; n += pl) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			x = (unsigned int)(r % 100);
			x = x < 60 ? 0 : x < 90 ? 3 : 1 + x % 17;
			pl = strlen(pieces[x]);
			if (n + pl > len)
				pl = len - n;
			memcpy(buf + n, pieces[x], pl);
		}
		assert_non_null(copy = malloc(len));
		memcpy(copy, buf, len);
		want = ref_check(copy, len);
		got = utf8_check((char *)copy, len);
		free(copy);
		if (got != want)
			fail_msg("random input %u (%u bytes): got %zu, want %zu",
			    k, len, got, want);
	}
}

/*
 * The block scan, used as ingest.c uses it: text in lines, looked at 64
 * bytes at a time in order; a line must be looked at closer (utf8_check)
 * if a bad block seen by the time its line feed was reached ends after
 * its start. Every line with a fault must be; a text with none must have
 * no bad block but maybe the first (whose bytes before are not read).
 * utf8_scan_find4 must say what utf8_scan_block says, and find the
 * stops and non-ASCII bytes a byte loop finds. Pieces of every kind fall
 * at every offset of a block,
 * with the block after ASCII or not (a sequence cut at a block's end).
 */
static int
scan_agrees(const unsigned char *text, size_t n, int strict)
{
	struct utf8_scan u, u4;
	size_t blk = 0, bad_hi = 0, rs = 0, i, k;
	unsigned char *buf;
	uint64_t found, hi, fref, href;
	int high, bad, anybad = 0;

	/* the scan reads whole blocks: room after, as ingest's views have */
	if ((buf = calloc(1, n + 128)) == NULL)
		return 0;
	memcpy(buf, text, n);
	utf8_scan_init(&u);
	utf8_scan_init(&u4);
	for (i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		for (; blk <= i; blk += 64) {
			for (k = 0, fref = 0, href = 0; k < 64; k++) {
				fref |= (uint64_t)(buf[blk + k] == ',' ||
				    buf[blk + k] == '\n' ||
				    buf[blk + k] == '\r' ||
				    buf[blk + k] == '"') << k;
				href |= (uint64_t)(buf[blk + k] >> 7) << k;
			}
			high = href != 0;
			bad = utf8_scan_block(&u, (char *)buf + blk, high);
			/* The same block, with its stops, from one load. */
			if (utf8_have_block() && (utf8_scan_find4(&u4,
			    (char *)buf + blk, ",\n\r\"", &found, &hi) != bad ||
			    found != fref || hi != href)) {
				free(buf);
				return 0;
			}
			if (bad) {
				bad_hi = blk + 64;
				anybad |= blk > 0;	/* the first: see utf8.h */
			}
		}
		if (ref_check(buf + rs, i + 1 - rs) != i + 1 - rs &&
		    bad_hi <= rs) {
			free(buf);
			return 0;	/* a faulty line passed */
		}
		rs = i + 1;
	}
	free(buf);
	return !strict || !anybad;
}

static void
test_block_scan(void **state)
{
	static const char *const good[] = { "a", ",", "\xc3\xa9",
	    "\xe4\xb8\xad", "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
	    "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\n", "\"", "\r" };
	static const char *const bad[] = { "\x80", "\xbf", "\xc0\xaf",
	    "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
	    "\xf4\x90\x80\x80", "\xf0\x80\x80\x80", "\xf5", "\xff",
	    "\xe4\xb8", "\xc3", "\xf0\x9f\x98", "\xe4", "\xf0\x9f",
	    "\xc3\xa9\xa9", "\xe4\xb8\xad\xad" };
	unsigned char buf[600];
	uint64_t r = 0x2545f4914f6cdd1dULL;
	size_t n, at, b, pl, k;
	unsigned int x, fill;

	(void)state;
	if (!utf8_have_block())
		skip();
	/* one bad piece at every offset, in ASCII or CJK, then ASCII or not */
	for (fill = 0; fill < 4; fill++)
		for (b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
			for (at = 0; at < 200; at++) {
				for (n = 0; n + 3 <= 400; n += 3)
					memcpy(buf + n, fill & 1 ?
					    "\xe4\xb8\xad" : "abc", 3);
				if (fill & 2)	/* ASCII from the next block on */
					memset(buf + (at / 64 + 1) * 64, 'z',
					    400 - (at / 64 + 1) * 64);
				pl = strlen(bad[b]);
				memcpy(buf + at, bad[b], pl);
				buf[at + pl + 70] = '\n';
				buf[399] = '\n';
				if (!scan_agrees(buf, 400, 0))
					fail_msg("bad piece %zu at %zu (fill %u) "
					    "passed", b, at, fill);
			}
	/* valid text: no block is bad, wherever its sequences fall */
	for (k = 0; k < 3000; k++) {
		for (n = 0; n < 500; n += pl) {
			r ^= r << 13;
			r ^= r >> 7;
			r ^= r << 17;
			x = (unsigned int)(r % 24);
			pl = strlen(good[x < 11 ? x : x % 3 + 1]);
			memcpy(buf + n, good[x < 11 ? x : x % 3 + 1], pl);
		}
		buf[n++] = '\n';
		if (!scan_agrees(buf, n, 1))
			fail_msg("valid text %zu has a bad block", k);
		/* and with a bad piece somewhere in it */
		at = (size_t)(r >> 20) % (n - 8);
		b = (size_t)(r >> 40) % (sizeof(bad) / sizeof(bad[0]));
		memcpy(buf + at, bad[b], strlen(bad[b]));
		if (!scan_agrees(buf, n, 0))
			fail_msg("text %zu, bad piece %zu at %zu passed", k, b,
			    at);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_beyond_max),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_stray_continuation),
		cmocka_unit_test(test_fast_path_offsets),
		cmocka_unit_test(test_fast_path_straddle),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_long_against_reference),
		cmocka_unit_test(test_block_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
