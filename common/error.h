/*
 * error.h: veil's shared error codes and the error-detail record.
 *
 * Library functions return 0 on success or a negative VEIL_E_* code.
 * Where a caller needs to tell a person what went wrong and where, the
 * function also takes a struct veil_err, which it fills with one line of
 * text ("FILE:LINE: column 3 (age): ..."); the code alone is for programs.
 */
#ifndef VEIL_ERROR_H
#define VEIL_ERROR_H

#include <stddef.h>

#define VEIL_E_OK		0
#define VEIL_E_INTERNAL		-1	/* broken invariant or unexpected failure */
#define VEIL_E_NOMEM		-2	/* allocation failed */
#define VEIL_E_IO		-3	/* read/write/open failed (errno kept) */
#define VEIL_E_INVALID		-4	/* invalid argument from the caller */
#define VEIL_E_PARSE		-5	/* malformed input: CSV, schema, frame */
#define VEIL_E_LIMIT		-6	/* input exceeds a configured limit */
#define VEIL_E_CORRUPT		-7	/* a buffer failed validation */
#define VEIL_E_SCHEMA		-8	/* schema or policy content is wrong */
#define VEIL_E_TYPE		-9	/* a value does not fit its column type */
#define VEIL_E_RANGE		-10	/* a value is outside its declared range */
#define VEIL_E_LUA		-11	/* a Lua data file failed to evaluate */
#define VEIL_E_NOTFOUND		-12	/* a named thing does not exist */
#define VEIL_E_REFUSED		-13	/* refused by policy (budget, mode) */
#define VEIL_E_MAX		13

#define VEIL_ERR_MSGLEN		512

struct veil_err {
	int	 code;
	char	 msg[VEIL_ERR_MSGLEN];
};

/* Returns a static, never-NULL text for a VEIL_E_* code. */
const char	*veil_strerror(int code);

/*
 * Records code and a printf-style message in err (which may be NULL) and
 * returns code, so that callers can write "return veil_seterr(err, ...)".
 */
int	 veil_seterr(struct veil_err *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Clears err (msg becomes the empty string, code 0). NULL is a no-op. */
void	 veil_err_clear(struct veil_err *err);

/*
 * Writes at most outlen-1 bytes of a printable, quoted excerpt of the
 * len bytes at p into out: control and non-UTF-8 bytes become \xNN, and
 * text longer than max bytes is cut with "...". Used to show offending
 * input in error messages without echoing megabytes or terminal escapes.
 */
void	 veil_excerpt(char *out, size_t outlen, const char *p, size_t len,
	    size_t max);

#endif /* VEIL_ERROR_H */
