/*
 * client.c: the client side of veild's msgpack-RPC (docs/protocol.md):
 * one Unix stream connection, requests written whole, answers read
 * through a streaming msgpack unpacker whose message size is checked
 * before every read, so that no answer can grow past
 * CLIENT_RESPONSE_MAX. Used by cli/exchange.c and bench/bench_veild.c.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "frame.h"

#define READ_CHUNK	(64u << 10)

struct client {
	int			 fd;
	uint32_t		 next_id;
	int			 broken;	/* the stream is unusable */
	msgpack_unpacker	 up;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char			 party[72];
	char			 role[16];
};

static const char *const code_names[] = {
	NULL, "internal", "bad_request", "job_failed", "refused",
	"unauthenticated", "forbidden", "not_found", "exists", "too_large",
	"shutting_down",
};

static int
rpcerr(struct rpc_error *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rpcerr(struct rpc_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e != NULL) {
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *
client_code_name(int code)
{
	if (code > 0 && (size_t)code < sizeof(code_names) /
	    sizeof(code_names[0]))
		return code_names[code];
	if (code == CLIENT_E_CONNECTION)
		return "connection";
	if (code == CLIENT_E_PROTOCOL)
		return "protocol";
	return "error";
}

int
client_exit_code(int code)
{
	switch (code) {
	case 0:
		return EXIT_OK;
	case CLIENT_E_BAD_REQUEST:
	case CLIENT_E_NOT_FOUND:
	case CLIENT_E_EXISTS:
	case CLIENT_E_TOO_LARGE:
		return EXIT_USAGE;
	case CLIENT_E_JOB_FAILED:
		return EXIT_JOB;
	case CLIENT_E_REFUSED:
	case CLIENT_E_FORBIDDEN:
		return EXIT_REFUSED;
	case CLIENT_E_UNAUTHENTICATED:
	case CLIENT_E_SHUTTING_DOWN:
	case CLIENT_E_CONNECTION:
		return EXIT_DAEMON;
	default:	/* internal, protocol, local, and codes we do not know */
		return EXIT_INTERNAL;
	}
}

int
client_socket_path(const struct client_opts *o, char *buf, size_t len)
{
	const char *s = o->socket, *home = o->home;
	int n;

	if (s == NULL || s[0] == '\0')
		s = getenv("VEIL_SOCKET");
	if (s != NULL && s[0] != '\0')
		n = snprintf(buf, len, "%s", s);
	else {
		if (home == NULL || home[0] == '\0')
			home = getenv("VEIL_HOME");
		if (home == NULL || home[0] == '\0')
			return -1;
		n = snprintf(buf, len, "%s/veil.sock", home);
	}
	return n < 0 || (size_t)n >= len ? -2 : 0;
}

/* The first line of path, without its line end, into buf. */
static int
read_token_file(const char *path, char *buf, size_t len,
    struct veil_err *err)
{
	char tmp[CLIENT_TOKEN_MAX + 2];
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return veil_seterr(err, VEIL_E_INVALID, "token file %s: %s",
		    path, strerror(errno));
	while (got < sizeof(tmp) - 1) {
		n = read(fd, tmp + got, sizeof(tmp) - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	tmp[got] = '\0';
	tmp[strcspn(tmp, "\r\n")] = '\0';
	got = strlen(tmp);
	if (got == 0 || got >= len || got > CLIENT_TOKEN_MAX) {
		explicit_bzero(tmp, sizeof(tmp));
		return veil_seterr(err, VEIL_E_INVALID, "token file %s: %s",
		    path, got == 0 ? "empty first line" : "token too long");
	}
	memcpy(buf, tmp, got + 1);
	explicit_bzero(tmp, sizeof(tmp));
	return 0;
}

static int
find_token(const struct client_opts *o, char *buf, size_t len,
    struct veil_err *err)
{
	const char *t;

	if (o->token != NULL && o->token[0] != '\0')
		t = o->token;
	else if (o->token_file != NULL && o->token_file[0] != '\0')
		return read_token_file(o->token_file, buf, len, err);
	else if ((t = getenv("VEIL_TOKEN")) != NULL && t[0] != '\0')
		;
	else if ((t = getenv("VEIL_TOKEN_FILE")) != NULL && t[0] != '\0')
		return read_token_file(t, buf, len, err);
	else
		return veil_seterr(err, VEIL_E_INVALID, "no token: set "
		    "VEIL_TOKEN, or give --token-file FILE (or set "
		    "VEIL_TOKEN_FILE)");
	if (strlen(t) >= len || strlen(t) > CLIENT_TOKEN_MAX)
		return veil_seterr(err, VEIL_E_INVALID, "token too long");
	snprintf(buf, len, "%s", t);
	return 0;
}

static int
send_all(struct client *c, struct iovec *iov, int n)
{
	struct msghdr mh;
	ssize_t w;

	while (n > 0) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)n;
		/* No SIGPIPE from a daemon that went away: an error instead. */
		if ((w = sendmsg(c->fd, &mh, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Copies the daemon's text, without control bytes, into e. */
static void
copy_message(struct rpc_error *e, const char *p, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n < sizeof(e->message) - 1; i++)
		e->message[n++] = ((unsigned char)p[i] < 0x20 ||
		    p[i] == 0x7f) ? '?' : p[i];
	e->message[n] = '\0';
}

/* The error element of a response: {code, message}. */
static int
take_error(const msgpack_object *err, struct rpc_error *e)
{
	const char *msg = "";
	size_t mlen = 0;
	int64_t code;

	if (err->type != MSGPACK_OBJECT_MAP ||
	    frame_get_int(err, "code", &code) != 0 || code == 0 ||
	    code < INT32_MIN || code > INT32_MAX)
		return rpcerr(e, CLIENT_E_PROTOCOL, "malformed error in "
		    "veild's answer");
	(void)frame_get_str(err, "message", &msg, &mlen);
	if (e != NULL) {
		e->code = (int)code;
		copy_message(e, msg, mlen);
		if (e->message[0] == '\0')
			snprintf(e->message, sizeof(e->message), "%s",
			    client_code_name((int)code));
	}
	return (int)code;
}

/*
 * Reads messages until the answer to id (or an error with id 0, sent
 * when veild could not read the request's id). Answers to other ids are
 * dropped: with one call at a time there are none to keep.
 */
static int
read_answer(struct client *c, uint32_t id, msgpack_unpacked *res,
    struct rpc_error *e)
{
	const msgpack_object *a;
	msgpack_unpack_return ur;
	uint64_t rid = 0;
	ssize_t n;

	for (;;) {
		ur = msgpack_unpacker_next(&c->up, res);
		if (ur == MSGPACK_UNPACK_SUCCESS) {
			a = &res->data;
			if (a->type != MSGPACK_OBJECT_ARRAY ||
			    a->via.array.size != 4 ||
			    a->via.array.ptr[0].type !=
			    MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    a->via.array.ptr[0].via.u64 != 1 ||
			    a->via.array.ptr[1].type !=
			    MSGPACK_OBJECT_POSITIVE_INTEGER) {
				c->broken = 1;
				return rpcerr(e, CLIENT_E_PROTOCOL, "veild's "
				    "answer is not a msgpack-RPC response");
			}
			rid = a->via.array.ptr[1].via.u64;
			if (rid == id || (rid == 0 &&
			    a->via.array.ptr[2].type != MSGPACK_OBJECT_NIL))
				break;
			continue;
		}
		if (ur != MSGPACK_UNPACK_CONTINUE) {
			c->broken = 1;
			return rpcerr(e, ur == MSGPACK_UNPACK_NOMEM_ERROR ?
			    CLIENT_E_LOCAL : CLIENT_E_PROTOCOL, "%s",
			    ur == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory" :
			    "veild's answer is not msgpack");
		}
		if (msgpack_unpacker_message_size(&c->up) >
		    CLIENT_RESPONSE_MAX) {
			c->broken = 1;
			return rpcerr(e, CLIENT_E_PROTOCOL, "veild's answer is "
			    "over %u MiB", CLIENT_RESPONSE_MAX >> 20);
		}
		if (!msgpack_unpacker_reserve_buffer(&c->up, READ_CHUNK)) {
			c->broken = 1;
			return rpcerr(e, CLIENT_E_LOCAL, "out of memory");
		}
		n = recv(c->fd, msgpack_unpacker_buffer(&c->up),
		    msgpack_unpacker_buffer_capacity(&c->up), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->broken = 1;
			return rpcerr(e, CLIENT_E_CONNECTION, "%s%s",
			    n == 0 ? "veild closed the connection" :
			    "reading from veild: ", n == 0 ? "" :
			    strerror(errno));
		}
		msgpack_unpacker_buffer_consumed(&c->up, (size_t)n);
	}
	a = &res->data;
	if (a->via.array.ptr[2].type != MSGPACK_OBJECT_NIL) {
		if (rid == 0)
			c->broken = 1;	/* veild closes after such errors */
		return take_error(&a->via.array.ptr[2], e);
	}
	res->data = a->via.array.ptr[3];
	return 0;
}

int
client_call(struct client *c, const char *method,
    const msgpack_sbuffer *params, msgpack_unpacked *result,
    struct rpc_error *e)
{
	static const char empty_map = (char)0x80;
	msgpack_sbuffer hdr;
	msgpack_packer pk;
	struct iovec iov[2];
	uint32_t id;
	int r;

	if (e != NULL) {
		e->code = 0;
		e->message[0] = '\0';
	}
	if (c->broken)
		return rpcerr(e, CLIENT_E_CONNECTION, "the connection to veild "
		    "was lost");
	if ((id = c->next_id++) == 0)
		id = c->next_id++;
	msgpack_sbuffer_init(&hdr);
	msgpack_packer_init(&pk, &hdr, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, id);
	frame_pack_cstr(&pk, method);
	if (hdr.data == NULL) {
		msgpack_sbuffer_destroy(&hdr);
		return rpcerr(e, CLIENT_E_LOCAL, "out of memory");
	}
	iov[0].iov_base = hdr.data;
	iov[0].iov_len = hdr.size;
	if (params != NULL && params->size > 0) {
		iov[1].iov_base = params->data;
		iov[1].iov_len = params->size;
	} else {
		iov[1].iov_base = (void *)&empty_map;
		iov[1].iov_len = 1;
	}
	r = send_all(c, iov, 2);
	msgpack_sbuffer_destroy(&hdr);
	if (r != 0) {
		c->broken = 1;
		return rpcerr(e, CLIENT_E_CONNECTION, "writing to veild: %s",
		    strerror(errno));
	}
	return read_answer(c, id, result, e);
}

static int
authenticate(struct client *c, const char *token, struct veil_err *err)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked res;
	struct rpc_error e;
	const char *p;
	size_t len;
	int r;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	frame_pack_cstr(&pk, "token");
	frame_pack_cstr(&pk, token);
	msgpack_unpacked_init(&res);
	r = client_call(c, "auth", &sb, &res, &e);
	if (sb.data != NULL)
		explicit_bzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (r == 0) {
		if (frame_get_str(&res.data, "party", &p, &len) == 0 &&
		    len < sizeof(c->party))
			snprintf(c->party, sizeof(c->party), "%.*s", (int)len,
			    p);
		if (frame_get_str(&res.data, "role", &p, &len) == 0 &&
		    len < sizeof(c->role))
			snprintf(c->role, sizeof(c->role), "%.*s", (int)len, p);
	}
	msgpack_unpacked_destroy(&res);
	if (r == 0)
		return 0;
	if (r == CLIENT_E_UNAUTHENTICATED)
		return veil_seterr(err, VEIL_E_IO, "auth: %s (check VEIL_TOKEN "
		    "or --token-file)", e.message);
	return veil_seterr(err, r == CLIENT_E_CONNECTION ||
	    r == CLIENT_E_SHUTTING_DOWN ? VEIL_E_IO : r == CLIENT_E_LOCAL ?
	    VEIL_E_NOMEM : VEIL_E_INTERNAL, "auth: %s", e.message);
}

struct client *
client_connect(const struct client_opts *o, struct veil_err *err)
{
	struct sockaddr_un sun;
	struct client *c;
	char token[CLIENT_TOKEN_MAX + 1], home[sizeof(sun.sun_path)];
	size_t plen;
	int r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((r = client_socket_path(o, sun.sun_path,
	    sizeof(sun.sun_path))) != 0) {
		if (r == -1)
			veil_seterr(err, VEIL_E_INVALID, "no exchange: give "
			    "--home DIR or --socket PATH, or set VEIL_HOME or "
			    "VEIL_SOCKET");
		else
			veil_seterr(err, VEIL_E_INVALID, "the socket path is "
			    "too long (at most %zu bytes): use --socket with a "
			    "shorter path", sizeof(sun.sun_path) - 1);
		return NULL;
	}
	if (find_token(o, token, sizeof(token), err) != 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		explicit_bzero(token, sizeof(token));
		veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->next_id = 1;
	snprintf(c->path, sizeof(c->path), "%s", sun.sun_path);
	if (!msgpack_unpacker_init(&c->up, READ_CHUNK)) {
		free(c);
		explicit_bzero(token, sizeof(token));
		veil_seterr(err, VEIL_E_NOMEM, "out of memory");
		return NULL;
	}
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		r = errno;
		/* HOME/veil.sock: name the home in the advice. */
		snprintf(home, sizeof(home), "DIR");
		plen = strlen(c->path);
		if (plen > 10 && strcmp(c->path + plen - 10, "/veil.sock") == 0)
			snprintf(home, sizeof(home), "%.*s", (int)(plen - 10),
			    c->path);
		veil_seterr(err, VEIL_E_IO, "cannot connect to veild at %s: "
		    "%s; is the daemon running? (start it with: veild --home "
		    "%s)", c->path, strerror(r), home);
		explicit_bzero(token, sizeof(token));
		client_close(c);
		return NULL;
	}
	r = authenticate(c, token, err);
	explicit_bzero(token, sizeof(token));
	if (r != 0) {
		client_close(c);
		return NULL;
	}
	return c;
}

void
client_close(struct client *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	msgpack_unpacker_destroy(&c->up);
	free(c);
}

const char *
client_party(const struct client *c)
{
	return c->party;
}

const char *
client_role(const struct client *c)
{
	return c->role;
}

const char *
client_socket(const struct client *c)
{
	return c->path;
}
