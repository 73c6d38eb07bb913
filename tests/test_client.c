/*
 * test_client.c: the veild client library (cli/client.c) against a fake
 * daemon: a thread speaking msgpack-RPC on a Unix socket in a temporary
 * directory. Covers auth, calls, error codes and their exit codes, stale
 * answers, answers over the 64 MiB cap, a daemon that hangs up, and
 * where the socket and token come from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "../cli/client.h"
#include "frame.h"

struct fake {
	char		 dir[64];
	char		 sock[96];
	int		 lfd;
	pthread_t	 th;
};

static int
send_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, c, len, MSG_NOSIGNAL)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
reply(int fd, uint64_t id, int code, const char *msg,
    const msgpack_object *result)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 1);
	msgpack_pack_uint64(&pk, id);
	if (code != 0) {
		msgpack_pack_map(&pk, 2);
		frame_pack_cstr(&pk, "code");
		msgpack_pack_int(&pk, code);
		frame_pack_cstr(&pk, "message");
		frame_pack_cstr(&pk, msg);
		msgpack_pack_nil(&pk);
	} else {
		msgpack_pack_nil(&pk);
		if (result != NULL)
			msgpack_pack_object(&pk, *result);
		else {
			msgpack_pack_map(&pk, 2);
			frame_pack_cstr(&pk, "party");
			frame_pack_cstr(&pk, "p1");
			frame_pack_cstr(&pk, "role");
			frame_pack_cstr(&pk, "buyer");
		}
	}
	r = send_all(fd, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return r;
}

/* Answers one request; returns -1 to hang up. */
static int
serve_one(int fd, const msgpack_object *req)
{
	static char zeros[1 << 20];
	const msgpack_object *params;
	const char *m, *tok;
	size_t ml, tl, i, n;
	uint64_t id;
	int64_t code;
	unsigned char hdr[32];

	if (req->type != MSGPACK_OBJECT_ARRAY || req->via.array.size != 4 ||
	    req->via.array.ptr[2].type != MSGPACK_OBJECT_STR)
		return -1;
	id = req->via.array.ptr[1].via.u64;
	m = req->via.array.ptr[2].via.str.ptr;
	ml = req->via.array.ptr[2].via.str.size;
	params = &req->via.array.ptr[3];
#define IS(s) (ml == strlen(s) && memcmp(m, s, ml) == 0)
	if (IS("auth")) {
		if (frame_get_str(params, "token", &tok, &tl) == 0 &&
		    tl == 4 && memcmp(tok, "good", 4) == 0)
			return reply(fd, id, 0, NULL, NULL);
		return reply(fd, id, CLIENT_E_UNAUTHENTICATED, "unknown token",
		    NULL);
	}
	if (IS("echo"))
		return reply(fd, id, 0, NULL, params);
	if (IS("fail")) {
		if (frame_get_int(params, "code", &code) != 0)
			code = 1;
		return reply(fd, id, (int)code, "fail: boom\x1b[2J", NULL);
	}
	if (IS("stale")) {
		if (reply(fd, id + 1000, CLIENT_E_INTERNAL, "old", NULL) != 0)
			return -1;
		return reply(fd, id, 0, NULL, params);
	}
	if (IS("zero"))
		return reply(fd, 0, CLIENT_E_BAD_REQUEST, "not msgpack-RPC",
		    NULL);
	if (IS("big")) {
		/* [1, id, nil, str32 of 65 MiB], sent until refused. */
		n = 0;
		hdr[n++] = 0x94;
		hdr[n++] = 0x01;
		hdr[n++] = 0xcf;
		for (i = 0; i < 8; i++)
			hdr[n++] = (unsigned char)(id >> (56 - 8 * i));
		hdr[n++] = 0xc0;
		hdr[n++] = 0xdb;
		hdr[n++] = 0x04;	/* 65 << 20 = 0x04100000 */
		hdr[n++] = 0x10;
		hdr[n++] = 0x00;
		hdr[n++] = 0x00;
		if (send_all(fd, hdr, n) != 0)
			return -1;
		for (i = 0; i < 65; i++)
			if (send_all(fd, zeros, sizeof(zeros)) != 0)
				break;
		return -1;
	}
	return -1;	/* "close" and anything else: hang up */
#undef IS
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	msgpack_unpacker up;
	msgpack_unpacked req;
	ssize_t n;
	int fd;

	while ((fd = accept(f->lfd, NULL, NULL)) != -1) {
		msgpack_unpacker_init(&up, 4096);
		msgpack_unpacked_init(&req);
		for (;;) {
			if (msgpack_unpacker_next(&up, &req) ==
			    MSGPACK_UNPACK_SUCCESS) {
				if (serve_one(fd, &req.data) != 0)
					break;
				continue;
			}
			msgpack_unpacker_reserve_buffer(&up, 4096);
			if ((n = recv(fd, msgpack_unpacker_buffer(&up),
			    msgpack_unpacker_buffer_capacity(&up), 0)) <= 0)
				break;
			msgpack_unpacker_buffer_consumed(&up, (size_t)n);
		}
		msgpack_unpacked_destroy(&req);
		msgpack_unpacker_destroy(&up);
		close(fd);
	}
	return NULL;
}

static int
setup(void **state)
{
	struct sockaddr_un sun;
	struct fake *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/veil-client.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/veil.sock", f->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->sock);
	if ((f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(f->lfd, 8) != 0 ||
	    pthread_create(&f->th, NULL, fake_main, f) != 0)
		return -1;
	unsetenv("VEIL_TOKEN");
	unsetenv("VEIL_TOKEN_FILE");
	unsetenv("VEIL_SOCKET");
	unsetenv("VEIL_HOME");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fake *f = *state;
	char path[160];

	shutdown(f->lfd, SHUT_RDWR);	/* wakes accept() */
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->sock);
	snprintf(path, sizeof(path), "%s/token", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct client *
connect_good(struct fake *f)
{
	struct client_opts o;
	struct veil_err err;
	struct client *c;

	memset(&o, 0, sizeof(o));
	o.home = f->dir;
	o.token = "good";
	c = client_connect(&o, &err);
	if (c == NULL)
		fail_msg("%s", err.msg);
	return c;
}

static void
test_call(void **state)
{
	struct client *c = connect_good(*state);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked res;
	struct rpc_error e;
	int64_t v;

	assert_string_equal(client_party(c), "p1");
	assert_string_equal(client_role(c), "buyer");
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	frame_pack_cstr(&pk, "a");
	msgpack_pack_int(&pk, 42);
	msgpack_unpacked_init(&res);
	assert_int_equal(client_call(c, "echo", &sb, &res, &e), 0);
	assert_int_equal(frame_get_int(&res.data, "a", &v), 0);
	assert_int_equal(v, 42);
	/* NULL params travel as {}. */
	assert_int_equal(client_call(c, "echo", NULL, &res, &e), 0);
	assert_int_equal(res.data.type, MSGPACK_OBJECT_MAP);
	assert_int_equal(res.data.via.map.size, 0);
	/* An answer to another id is skipped. */
	assert_int_equal(client_call(c, "stale", &sb, &res, &e), 0);
	assert_int_equal(frame_get_int(&res.data, "a", &v), 0);
	msgpack_unpacked_destroy(&res);
	msgpack_sbuffer_destroy(&sb);
	client_close(c);
}

static void
test_errors(void **state)
{
	struct client *c = connect_good(*state);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked res;
	struct rpc_error e;
	int code;

	msgpack_unpacked_init(&res);
	for (code = 1; code <= 10; code++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 1);
		frame_pack_cstr(&pk, "code");
		msgpack_pack_int(&pk, code);
		assert_int_equal(client_call(c, "fail", &sb, &res, &e), code);
		assert_int_equal(e.code, code);
		/* Control bytes from the daemon never reach a terminal. */
		assert_string_equal(e.message, "fail: boom?[2J");
		msgpack_sbuffer_destroy(&sb);
	}
	/* An error with id 0: ours, and the connection is done. */
	assert_int_equal(client_call(c, "zero", NULL, &res, &e),
	    CLIENT_E_BAD_REQUEST);
	assert_int_equal(client_call(c, "echo", NULL, &res, &e),
	    CLIENT_E_CONNECTION);
	msgpack_unpacked_destroy(&res);
	client_close(c);
}

static void
test_exit_codes(void **state)
{
	/* docs/protocol.md's table. */
	static const int want[11] = { EXIT_OK, 1, 2, 3, 4, 5, 4, 2, 2, 2, 5 };
	int i;

	(void)state;
	for (i = 0; i <= 10; i++)
		assert_int_equal(client_exit_code(i), want[i]);
	assert_int_equal(client_exit_code(CLIENT_E_CONNECTION), EXIT_DAEMON);
	assert_int_equal(client_exit_code(CLIENT_E_PROTOCOL), EXIT_INTERNAL);
	assert_int_equal(client_exit_code(99), EXIT_INTERNAL);
	assert_string_equal(client_code_name(7), "not_found");
}

static void
test_too_large(void **state)
{
	struct client *c = connect_good(*state);
	msgpack_unpacked res;
	struct rpc_error e;

	msgpack_unpacked_init(&res);
	assert_int_equal(client_call(c, "big", NULL, &res, &e),
	    CLIENT_E_PROTOCOL);
	assert_non_null(strstr(e.message, "64 MiB"));
	assert_int_equal(client_call(c, "echo", NULL, &res, &e),
	    CLIENT_E_CONNECTION);
	msgpack_unpacked_destroy(&res);
	client_close(c);
}

static void
test_hangup(void **state)
{
	struct client *c = connect_good(*state);
	msgpack_unpacked res;
	struct rpc_error e;

	msgpack_unpacked_init(&res);
	assert_int_equal(client_call(c, "close", NULL, &res, &e),
	    CLIENT_E_CONNECTION);
	assert_non_null(strstr(e.message, "closed"));
	msgpack_unpacked_destroy(&res);
	client_close(c);
}

static void
test_connect_failures(void **state)
{
	struct fake *f = *state;
	struct client_opts o;
	struct veil_err err;
	char path[160];

	memset(&o, 0, sizeof(o));
	/* No socket configured. */
	o.token = "good";
	veil_err_clear(&err);
	assert_null(client_connect(&o, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	/* No daemon there: the message names the socket and veild. */
	snprintf(path, sizeof(path), "%s/nothere", f->dir);
	o.home = path;
	assert_null(client_connect(&o, &err));
	assert_int_equal(err.code, VEIL_E_IO);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "veild --home"));
	/* A bad token. */
	o.home = f->dir;
	o.token = "bad";
	assert_null(client_connect(&o, &err));
	assert_int_equal(err.code, VEIL_E_IO);
	assert_non_null(strstr(err.msg, "unknown token"));
	/* No token at all. */
	o.token = NULL;
	assert_null(client_connect(&o, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
}

static void
test_sources(void **state)
{
	struct fake *f = *state;
	struct client_opts o;
	struct veil_err err;
	struct client *c;
	char path[160], buf[300];
	FILE *fp;

	memset(&o, 0, sizeof(o));
	/* The socket: --socket, $VEIL_SOCKET, --home, $VEIL_HOME. */
	assert_int_equal(client_socket_path(&o, buf, sizeof(buf)), -1);
	setenv("VEIL_HOME", "/h", 1);
	assert_int_equal(client_socket_path(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/h/veil.sock");
	o.home = "/x";
	assert_int_equal(client_socket_path(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/x/veil.sock");
	setenv("VEIL_SOCKET", "/s.sock", 1);
	assert_int_equal(client_socket_path(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/s.sock");
	o.socket = "/t.sock";
	assert_int_equal(client_socket_path(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/t.sock");
	assert_int_equal(client_socket_path(&o, buf, 4), -2);
	unsetenv("VEIL_SOCKET");
	unsetenv("VEIL_HOME");

	/* The token: a file's first line, over an exported VEIL_TOKEN. */
	snprintf(path, sizeof(path), "%s/token", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("good\nsecond line\n", fp);
	fclose(fp);
	memset(&o, 0, sizeof(o));
	o.home = f->dir;
	o.token_file = path;
	setenv("VEIL_TOKEN", "bad", 1);
	assert_non_null(c = client_connect(&o, &err));
	client_close(c);
	/* Without the option, VEIL_TOKEN, then VEIL_TOKEN_FILE. */
	o.token_file = NULL;
	assert_null(client_connect(&o, &err));
	unsetenv("VEIL_TOKEN");
	setenv("VEIL_TOKEN_FILE", path, 1);
	assert_non_null(c = client_connect(&o, &err));
	client_close(c);
	/* An empty token file is refused before connecting. */
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	assert_null(client_connect(&o, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	unsetenv("VEIL_TOKEN_FILE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test_setup_teardown(test_too_large, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hangup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sources, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
