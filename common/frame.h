/*
 * frame.h: length-prefixed msgpack frames, the only messages between veil
 * processes (parent <-> veil-worker now, client <-> veild later).
 *
 * A frame is a 4-byte big-endian length followed by that many bytes of
 * msgpack holding exactly one object. Every reader checks the length
 * against its cap before allocating, and checks the msgpack structure
 * (every declared array and map count fits in the bytes that are left,
 * nesting is bounded) before msgpack-c allocates anything for it.
 */
#ifndef VEIL_FRAME_H
#define VEIL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "error.h"

#define FRAME_HDR		4
#define FRAME_MAX_DEPTH		32

/* Writes one frame to fd (blocking, EINTR-safe). Returns 0 or VEIL_E_IO. */
int	 frame_write(int fd, const void *buf, size_t len);
/* Writes the contents of a msgpack_sbuffer as one frame. */
int	 frame_write_sbuf(int fd, const msgpack_sbuffer *sb);

/*
 * Reads one frame from fd (blocking) into a malloc'd buffer of at most
 * max bytes. Returns 0; VEIL_E_LIMIT if the frame claims more than max
 * (nothing is allocated); VEIL_E_PARSE on end of file inside a frame;
 * VEIL_E_IO on a read error. At end of file before any byte, returns
 * VEIL_E_NOTFOUND.
 */
int	 frame_read(int fd, size_t max, void **bufp, size_t *lenp,
	    struct veil_err *err);

/*
 * Checks that the len bytes at buf hold exactly one well-formed msgpack
 * object whose containers are no deeper than FRAME_MAX_DEPTH and whose
 * declared element counts all fit in the bytes present. Allocates nothing.
 */
int	 frame_check(const void *buf, size_t len, struct veil_err *err);

/*
 * For a stream of msgpack objects with no length prefix (msgpack-RPC):
 * looks for the end of the first object in the len bytes at buf. Returns
 * 0 with *objlen its length; FRAME_MORE if the object is not complete
 * yet; VEIL_E_LIMIT if it cannot complete within cap bytes (a container
 * or value claiming more than the cap, or cap bytes without an end);
 * VEIL_E_PARSE if the bytes are not msgpack. Allocates nothing.
 */
#define FRAME_MORE	1
int	 frame_scan(const void *buf, size_t len, size_t cap, size_t *objlen,
	    struct veil_err *err);

/*
 * frame_check(), then unpacks into *up (msgpack_unpacked_init'ed by the
 * caller, destroyed by the caller with msgpack_unpacked_destroy).
 */
int	 frame_unpack(const void *buf, size_t len, msgpack_unpacked *up,
	    struct veil_err *err);

/* {====== reading unpacked objects */

/* The value under key in a map, or NULL (also if o is not a map). */
const msgpack_object *frame_get(const msgpack_object *o, const char *key);
/* Typed getters: return 0 and set *out, or -1 if absent or mistyped. */
int	 frame_get_uint(const msgpack_object *o, const char *key,
	    uint64_t *out);
int	 frame_get_int(const msgpack_object *o, const char *key, int64_t *out);
int	 frame_get_str(const msgpack_object *o, const char *key,
	    const char **p, size_t *len);
int	 frame_get_bin(const msgpack_object *o, const char *key,
	    const char **p, size_t *len);
/* Is o a string equal to s? */
int	 frame_streq(const msgpack_object *o, const char *s);

/* Packs a NUL-terminated string. */
void	 frame_pack_cstr(msgpack_packer *pk, const char *s);

/* }====== */

#endif /* VEIL_FRAME_H */
