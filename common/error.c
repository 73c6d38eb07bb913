/*
 * error.c: texts for VEIL_E_* codes, the error-detail record, and the
 * excerpt helper every parser uses to show the offending input.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const errtab[] = {
	"success",
	"internal error",
	"out of memory",
	"input/output error",
	"invalid argument",
	"parse error",
	"limit exceeded",
	"corrupt buffer",
	"schema error",
	"type error",
	"value out of range",
	"Lua evaluation error",
	"not found",
	"refused by policy",
};

const char *
veil_strerror(int code)
{
	if (code > 0 || -code > VEIL_E_MAX)
		return "unknown error";
	return errtab[-code];
}

int
veil_seterr(struct veil_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
veil_err_clear(struct veil_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned int c = p[0], cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void
veil_excerpt(char *out, size_t outlen, const char *p, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t o = 0, i = 0, n;
	int cut = 0;

	if (outlen == 0)
		return;
	if (len > max) {
		len = max;
		cut = 1;
	}
	/* Leave room for the closing quote, "..." and the NUL. */
#define ROOM(k)	(o + (k) + 5 < outlen)
	if (ROOM(1))
		out[o++] = '"';
	while (i < len) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') {
			if (!ROOM(1))
				break;
			out[o++] = s[i++];
		} else if (s[i] >= 0x80 && (n = utf8_seq(s + i, len - i)) > 0) {
			if (!ROOM(n))
				break;
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			if (!ROOM(4))
				break;
			if (s[i] == '"' || s[i] == '\\') {
				out[o++] = '\\';
				out[o++] = s[i];
			} else
				o += snprintf(out + o, outlen - o, "\\x%02x", s[i]);
			i++;
		}
	}
#undef ROOM
	if (i < len)
		cut = 1;
	if (o + 1 < outlen)
		out[o++] = '"';
	if (cut && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
