/*
 * test_frame.c: length-prefixed msgpack frames: round trips through a
 * pipe, caps enforced before allocation, truncation, and the structural
 * check that keeps msgpack-c from allocating for lying element counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

static void
test_roundtrip(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct veil_err err;
	const char *p;
	size_t len;
	uint64_t u;
	int64_t i;
	void *buf;
	int fds[2];

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "describe");
	frame_pack_cstr(&pk, "n");
	msgpack_pack_uint64(&pk, 42);
	frame_pack_cstr(&pk, "neg");
	msgpack_pack_int64(&pk, -7);
	frame_pack_cstr(&pk, "blob");
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "a\0b", 3);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(frame_write_sbuf(fds[1], &sb), 0);
	close(fds[1]);
	assert_int_equal(frame_read(fds[0], 1024, &buf, &len, &err), 0);
	assert_int_equal(len, sb.size);
	/* a second read meets the end of input */
	free(buf);
	buf = NULL;
	assert_int_equal(frame_read(fds[0], 1024, &buf, &len, &err),
	    VEIL_E_NOTFOUND);
	close(fds[0]);
	msgpack_unpacked_init(&up);
	assert_int_equal(frame_unpack(sb.data, sb.size, &up, &err), 0);
	assert_int_equal(frame_get_str(&up.data, "kind", &p, &len), 0);
	assert_memory_equal(p, "describe", 8);
	assert_true(frame_streq(frame_get(&up.data, "kind"), "describe"));
	assert_int_equal(frame_get_uint(&up.data, "n", &u), 0);
	assert_int_equal(u, 42);
	assert_int_equal(frame_get_int(&up.data, "neg", &i), 0);
	assert_int_equal(i, -7);
	assert_int_equal(frame_get_int(&up.data, "n", &i), 0);
	assert_int_equal(frame_get_bin(&up.data, "blob", &p, &len), 0);
	assert_int_equal(len, 3);
	/* absent and mistyped keys */
	assert_int_equal(frame_get_uint(&up.data, "neg", &u), -1);
	assert_int_equal(frame_get_str(&up.data, "n", &p, &len), -1);
	assert_null(frame_get(&up.data, "missing"));
	assert_null(frame_get(NULL, "kind"));
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_caps_and_truncation(void **state)
{
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0xff, 0x90 };
	static const unsigned char shorthdr[] = { 0x00, 0x00 };
	static const unsigned char shortbody[] = { 0, 0, 0, 9, 0x91, 0x01 };
	struct veil_err err;
	void *buf = (void *)1;
	size_t len;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], huge, sizeof(huge)), sizeof(huge));
	close(fds[1]);
	assert_int_equal(frame_read(fds[0], 1 << 20, &buf, &len, &err),
	    VEIL_E_LIMIT);
	assert_null(buf);
	assert_non_null(strstr(err.msg, "4294967295 bytes"));
	close(fds[0]);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], shorthdr, sizeof(shorthdr)), 2);
	close(fds[1]);
	assert_int_equal(frame_read(fds[0], 1024, &buf, &len, &err),
	    VEIL_E_PARSE);
	close(fds[0]);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], shortbody, sizeof(shortbody)), 6);
	close(fds[1]);
	assert_int_equal(frame_read(fds[0], 1024, &buf, &len, &err),
	    VEIL_E_PARSE);
	assert_non_null(strstr(err.msg, "truncated body"));
	close(fds[0]);
}

static void
test_structure_check(void **state)
{
	static const struct {
		const char	*bytes;
		size_t		 len;
		int		 ok;
	} cases[] = {
		{ "\x80", 1, 1 },			/* {} */
		{ "\x92\x01\xa1x", 4, 1 },		/* [1, "x"] */
		{ "\xc0", 1, 1 },			/* nil */
		{ "\xcb\0\0\0\0\0\0\0\0", 9, 1 },	/* float64 */
		{ "\xd4\x01\x02", 3, 1 },		/* fixext 1 */
		{ "", 0, 0 },				/* empty */
		{ "\x91", 1, 0 },			/* [ <missing> */
		{ "\xdd\xff\xff\xff\xff", 5, 0 },	/* array32 4G */
		{ "\xdf\x7f\xff\xff\xff", 5, 0 },	/* map32 2G pairs */
		{ "\xdc\xff\xff", 3, 0 },		/* array16 65535 */
		{ "\xdb\xff\xff\xff\xff" "ab", 7, 0 },	/* str32 4G */
		{ "\xc6\x80\x00\x00\x00", 5, 0 },	/* bin32 2G */
		{ "\xc1", 1, 0 },			/* never used */
		{ "\x81\xa1k", 3, 0 },			/* map value missing */
		{ "\x01\x02", 2, 0 },			/* two objects */
		{ "\xcd\x01", 2, 0 },			/* uint16 cut */
	};
	char deep[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = frame_check(cases[i].bytes, cases[i].len, NULL);

		if ((r == 0) != cases[i].ok)
			fail_msg("case %zu: frame_check returned %d", i, r);
	}
	/* nesting: 32 levels pass, 33 do not */
	memset(deep, 0x91, sizeof(deep));
	deep[32] = 0x01;
	assert_int_equal(frame_check(deep, 33, NULL), 0);
	memset(deep, 0x91, sizeof(deep));
	deep[33] = 0x01;
	assert_int_equal(frame_check(deep, 34, NULL), VEIL_E_LIMIT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_caps_and_truncation),
		cmocka_unit_test(test_structure_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
