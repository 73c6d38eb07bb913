/*
 * frame.c: bounded msgpack framing (see frame.h). The structural check is
 * a small msgpack walker of our own: msgpack-c allocates an array's slots
 * as soon as it reads the array's header, so a 5-byte frame claiming four
 * billion elements must be refused before msgpack-c ever sees it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"

static int
write_all(int fd, const void *vp, size_t len)
{
	const char *p = vp;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return VEIL_E_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
frame_write(int fd, const void *buf, size_t len)
{
	unsigned char hdr[FRAME_HDR];

	if (len > UINT32_MAX)
		return VEIL_E_LIMIT;
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
	if (write_all(fd, hdr, sizeof(hdr)) != 0 ||
	    write_all(fd, buf, len) != 0)
		return VEIL_E_IO;
	return 0;
}

int
frame_write_sbuf(int fd, const msgpack_sbuffer *sb)
{
	return frame_write(fd, sb->data, sb->size);
}

/* Reads exactly len bytes; returns bytes read before EOF, or -1. */
static ssize_t
read_full(int fd, void *vp, size_t len)
{
	char *p = vp;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, p + got, len - got)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
frame_read(int fd, size_t max, void **bufp, size_t *lenp,
    struct veil_err *err)
{
	unsigned char hdr[FRAME_HDR];
	uint32_t len;
	ssize_t n;
	void *buf;

	*bufp = NULL;
	*lenp = 0;
	if ((n = read_full(fd, hdr, sizeof(hdr))) == -1)
		return veil_seterr(err, VEIL_E_IO, "frame: read: %s",
		    strerror(errno));
	if (n == 0)
		return veil_seterr(err, VEIL_E_NOTFOUND, "frame: end of input");
	if (n != sizeof(hdr))
		return veil_seterr(err, VEIL_E_PARSE, "frame: truncated header");
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > max)
		return veil_seterr(err, VEIL_E_LIMIT, "frame: %u bytes, at most "
		    "%zu allowed", len, max);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "frame: out of memory");
	if ((n = read_full(fd, buf, len)) != (ssize_t)len) {
		free(buf);
		return veil_seterr(err, n == -1 ? VEIL_E_IO : VEIL_E_PARSE,
		    "frame: truncated body (%zd of %u bytes)", n, len);
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* {====== structural check */

struct cur {
	const unsigned char	*p, *e;
	const unsigned char	*cap;	/* stream mode: the cap's end, or NULL */
};

/* Truncated: in stream mode that only means "read more". */
#define TRUNC(c, err, ...) ((c)->cap != NULL ? FRAME_MORE : \
	    veil_seterr((err), VEIL_E_PARSE, __VA_ARGS__))

static int
need(struct cur *c, uint64_t n)
{
	return (uint64_t)(c->e - c->p) >= n;
}

static uint64_t
be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Skips one object at c. Containers push their element counts onto an
 * explicit stack rather than recursing, so depth is bounded by us.
 */
static int
walk(struct cur *c, struct veil_err *err)
{
	uint64_t left[FRAME_MAX_DEPTH + 1];
	uint64_t n, skip;
	int depth = 0, hl;
	unsigned char t;

	left[0] = 1;
	while (depth > 0 || left[0] > 0) {
		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		if (!need(c, 1))
			return TRUNC(c, err, "msgpack: truncated object");
		t = *c->p++;
		n = 0;
		skip = 0;
		hl = 0;
		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 ||
		    t == 0xc3)
			continue;
		if ((t & 0xf0) == 0x80 || (t & 0xf0) == 0x90 ||
		    t == 0xdc || t == 0xdd || t == 0xde || t == 0xdf) {
			if ((t & 0xf0) == 0x80)
				n = 2 * (uint64_t)(t & 0x0f);
			else if ((t & 0xf0) == 0x90)
				n = t & 0x0f;
			else {
				hl = (t == 0xdc || t == 0xde) ? 2 : 4;
				if (!need(c, (uint64_t)hl))
					return TRUNC(c, err,
					    "msgpack: truncated header");
				n = be(c->p, hl);
				c->p += hl;
				if (t == 0xde || t == 0xdf)
					n *= 2;
			}
			/* Each element takes a byte: in stream mode the
			 * elements must fit under the cap. */
			if (c->cap != NULL && (uint64_t)(c->cap - c->p) < n)
				return veil_seterr(err, VEIL_E_LIMIT,
				    "msgpack: container claims %llu elements, "
				    "over the %zu-byte cap", (unsigned long long)n,
				    (size_t)(c->cap - c->p));
			if (c->cap == NULL && !need(c, n))
				return veil_seterr(err, VEIL_E_PARSE,
				    "msgpack: container claims %llu elements, "
				    "%zu bytes left", (unsigned long long)n,
				    (size_t)(c->e - c->p));
			/* msgpack-c counts an empty container as a level
			 * too: so must we, or we pass what it refuses. */
			if (depth == FRAME_MAX_DEPTH)
				return veil_seterr(err, VEIL_E_LIMIT,
				    "msgpack: nested deeper than %d",
				    FRAME_MAX_DEPTH);
			if (n == 0)
				continue;
			left[++depth] = n;
			continue;
		}
		if ((t & 0xe0) == 0xa0)
			skip = t & 0x1f;
		else switch (t) {
		case 0xcc: case 0xd0: skip = 1; break;
		case 0xcd: case 0xd1: skip = 2; break;
		case 0xca: case 0xce: case 0xd2: skip = 4; break;
		case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
		case 0xd4: skip = 2; break;
		case 0xd5: skip = 3; break;
		case 0xd6: skip = 5; break;
		case 0xd7: skip = 9; break;
		case 0xd8: skip = 17; break;
		case 0xc4: case 0xd9: hl = 1; break;
		case 0xc5: case 0xda: hl = 2; break;
		case 0xc6: case 0xdb: hl = 4; break;
		case 0xc7: hl = 1; skip = 1; break;
		case 0xc8: hl = 2; skip = 1; break;
		case 0xc9: hl = 4; skip = 1; break;
		default:
			return veil_seterr(err, VEIL_E_PARSE, "msgpack: "
			    "invalid type byte 0x%02x", t);
		}
		if (hl > 0) {
			if (!need(c, (uint64_t)hl))
				return TRUNC(c, err,
				    "msgpack: truncated length");
			skip += be(c->p, hl);
			c->p += hl;
		}
		if (c->cap != NULL && (uint64_t)(c->cap - c->p) < skip)
			return veil_seterr(err, VEIL_E_LIMIT, "msgpack: a "
			    "%llu-byte value, over the cap",
			    (unsigned long long)skip);
		if (!need(c, skip))
			return TRUNC(c, err, "msgpack: truncated data");
		c->p += skip;
	}
	return 0;
}

/* }====== */

int
frame_check(const void *buf, size_t len, struct veil_err *err)
{
	struct cur c;
	int r;

	c.p = buf;
	c.e = c.p + len;
	c.cap = NULL;
	if (len == 0)
		return veil_seterr(err, VEIL_E_PARSE, "msgpack: empty frame");
	if ((r = walk(&c, err)) != 0)
		return r;
	if (c.p != c.e)
		return veil_seterr(err, VEIL_E_PARSE, "msgpack: %zu bytes "
		    "after the object", (size_t)(c.e - c.p));
	return 0;
}

int
frame_scan(const void *buf, size_t len, size_t cap, size_t *objlen,
    struct veil_err *err)
{
	struct cur c;
	int r;

	*objlen = 0;
	c.p = buf;
	c.e = c.p + (len < cap ? len : cap);
	c.cap = c.p + cap;
	if (len == 0)
		return FRAME_MORE;
	if ((r = walk(&c, err)) == FRAME_MORE && len >= cap)
		return veil_seterr(err, VEIL_E_LIMIT, "msgpack: a message over "
		    "%zu bytes", cap);
	if (r != 0)
		return r;
	*objlen = (size_t)(c.p - (const unsigned char *)buf);
	return 0;
}

int
frame_unpack(const void *buf, size_t len, msgpack_unpacked *up,
    struct veil_err *err)
{
	size_t off = 0;
	int r;

	if ((r = frame_check(buf, len, err)) != 0)
		return r;
	if (msgpack_unpack_next(up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len)
		return veil_seterr(err, VEIL_E_PARSE, "msgpack: cannot unpack");
	return 0;
}

int
frame_streq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o != NULL && o->type == MSGPACK_OBJECT_STR &&
	    o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *
frame_get(const msgpack_object *o, const char *key)
{
	uint32_t i;

	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (i = 0; i < o->via.map.size; i++)
		if (frame_streq(&o->via.map.ptr[i].key, key))
			return &o->via.map.ptr[i].val;
	return NULL;
}

int
frame_get_uint(const msgpack_object *o, const char *key, uint64_t *out)
{
	const msgpack_object *v = frame_get(o, key);

	if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*out = v->via.u64;
	return 0;
}

int
frame_get_int(const msgpack_object *o, const char *key, int64_t *out)
{
	const msgpack_object *v = frame_get(o, key);

	if (v == NULL)
		return -1;
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = v->via.i64;
	else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->via.u64 <= INT64_MAX)
		*out = (int64_t)v->via.u64;
	else
		return -1;
	return 0;
}

int
frame_get_str(const msgpack_object *o, const char *key, const char **p,
    size_t *len)
{
	const msgpack_object *v = frame_get(o, key);

	if (v == NULL || v->type != MSGPACK_OBJECT_STR)
		return -1;
	*p = v->via.str.ptr;
	*len = v->via.str.size;
	return 0;
}

int
frame_get_bin(const msgpack_object *o, const char *key, const char **p,
    size_t *len)
{
	const msgpack_object *v = frame_get(o, key);

	if (v == NULL || v->type != MSGPACK_OBJECT_BIN)
		return -1;
	*p = v->via.bin.ptr;
	*len = v->via.bin.size;
	return 0;
}

void
frame_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}
