/*
 * csv.c: the streaming RFC 4180 reader of csv.h.
 *
 * The buffer holds at most max_record bytes of a partial record plus one
 * read chunk, so memory stays bounded whatever the input. A record is
 * parsed in two passes: the first finds its fields and its end, and is
 * simply restarted after a refill if the record is cut by the buffer end;
 * only once the record is complete are doubled quotes unescaped in place.
 */
#include <errno.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>
#include <unistd.h>

#include "csv.h"

#define CHUNK		(1u << 20)
#define PAD		16	/* slack after the buffer for 16-byte loads */
#define EXCERPT		40

struct span {
	size_t		 s, e;		/* offsets into buf */
	int		 quoted, esc;
};

struct csv_reader {
	char		*name;
	int		 fd;
	int		 is_mem;	/* reading mem, not fd */
	const char	*mem;
	size_t		 memlen, mempos;
	char		*buf;
	size_t		 cap, start, end;
	int		 eof;
	int		 delim;
	struct csv_limits lim;
	unsigned char	 stop[256];	/* bytes that end an unquoted run */
	uint64_t	 line;		/* line at buf + start */
	uint64_t	 rec_line;	/* line of the record last returned */
	uint64_t	 nrec;
	uint64_t	 consumed;	/* bytes before buf + start */
	struct span	*spans;
	struct csv_field *fields;
	size_t		 fcap;
};

void
csv_limits_default(struct csv_limits *l)
{
	l->max_record = CSV_DEFAULT_MAX_RECORD;
	l->max_fields = CSV_DEFAULT_MAX_FIELDS;
	l->max_rows = CSV_DEFAULT_MAX_ROWS;
}

/* Reads more input after buf + end. Returns 0, or VEIL_E_IO. */
static int
fill(struct csv_reader *rd, struct veil_err *err)
{
	size_t room, n;
	ssize_t got;

	if (rd->start > 0) {
		memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
		rd->consumed += rd->start;
		rd->end -= rd->start;
		rd->start = 0;
	}
	room = rd->cap - rd->end;
	if (rd->is_mem) {
		n = rd->memlen - rd->mempos;
		if (n > room)
			n = room;
		memcpy(rd->buf + rd->end, rd->mem + rd->mempos, n);
		rd->mempos += n;
		rd->end += n;
		if (rd->mempos == rd->memlen)
			rd->eof = 1;
		return 0;
	}
	for (;;) {
		got = read(rd->fd, rd->buf + rd->end, room);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			return veil_seterr(err, VEIL_E_IO, "%s: read: %s",
			    rd->name, strerror(errno));
		break;
	}
	if (got == 0)
		rd->eof = 1;
	rd->end += (size_t)got;
	return 0;
}

static int
delim_ok(int d)
{
	return d == ',' || d == ';' || d == '\t';
}

/* Picks the most frequent of , ; tab outside quotes in the first record. */
static int
detect(const char *p, size_t n)
{
	size_t i, cnt[3] = { 0, 0, 0 };
	int inq = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '"')
			inq = !inq;
		else if (inq)
			continue;
		else if (p[i] == '\n')
			break;
		else if (p[i] == ',')
			cnt[0]++;
		else if (p[i] == ';')
			cnt[1]++;
		else if (p[i] == '\t')
			cnt[2]++;
	}
	if (cnt[1] > cnt[0] && cnt[1] >= cnt[2])
		return ';';
	if (cnt[2] > cnt[0] && cnt[2] > cnt[1])
		return '\t';
	return ',';
}

static struct csv_reader *
open_common(int fd, const void *mem, size_t memlen, const char *name,
    int delim, const struct csv_limits *limits, struct veil_err *err)
{
	struct csv_reader *rd = NULL;

	if (delim != 0 && !delim_ok(delim)) {
		veil_seterr(err, VEIL_E_INVALID, "%s: delimiter must be ',', "
		    "';' or tab", name);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL ||
	    (rd->name = strdup(name)) == NULL)
		goto nomem;
	if (limits != NULL)
		rd->lim = *limits;
	else
		csv_limits_default(&rd->lim);
	if (rd->lim.max_record == 0 || rd->lim.max_record >
	    CSV_HARD_MAX_RECORD || rd->lim.max_fields == 0 ||
	    rd->lim.max_fields > (1u << 20) || rd->lim.max_rows == 0) {
		veil_seterr(err, VEIL_E_INVALID, "%s: CSV limits out of range "
		    "(record 1..%u bytes, fields 1..%u, rows >= 1)", name,
		    CSV_HARD_MAX_RECORD, 1u << 20);
		csv_close(rd);
		return NULL;
	}
	rd->fd = fd;
	rd->is_mem = mem != NULL || fd < 0;
	rd->mem = mem;
	rd->memlen = memlen;
	rd->line = 1;
	rd->cap = rd->lim.max_record + CHUNK;
	if ((rd->buf = calloc(1, rd->cap + PAD)) == NULL)
		goto nomem;
	/*
	 * The BOM and the delimiter are judged on the whole first line, so
	 * read until it is in (a pipe may deliver it a byte at a time).
	 */
	do {
		if (fill(rd, err) != 0) {
			csv_close(rd);
			return NULL;
		}
	} while (!rd->eof && rd->end < rd->cap &&
	    memchr(rd->buf, '\n', rd->end) == NULL);
	if (rd->end >= 3 && memcmp(rd->buf, "\xef\xbb\xbf", 3) == 0)
		rd->start = 3;
	rd->delim = delim != 0 ? delim :
	    detect(rd->buf + rd->start, rd->end - rd->start);
	rd->stop[(unsigned char)rd->delim] = 1;
	rd->stop['\n'] = rd->stop['\r'] = rd->stop['"'] = 1;
	return rd;
 nomem:
	veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
	csv_close(rd);
	return NULL;
}

struct csv_reader *
csv_open_fd(int fd, const char *name, int delim,
    const struct csv_limits *limits, struct veil_err *err)
{
	if (fd < 0) {
		veil_seterr(err, VEIL_E_INVALID, "%s: bad descriptor", name);
		return NULL;
	}
	return open_common(fd, NULL, 0, name, delim, limits, err);
}

struct csv_reader *
csv_open_mem(const void *buf, size_t len, const char *name, int delim,
    const struct csv_limits *limits, struct veil_err *err)
{
	static const char empty[1];

	return open_common(-1, buf != NULL ? buf : empty, len, name, delim,
	    limits, err);
}

void
csv_close(struct csv_reader *rd)
{
	if (rd == NULL)
		return;
	free(rd->name);
	free(rd->buf);
	free(rd->spans);
	free(rd->fields);
	free(rd);
}

int
csv_delimiter(const struct csv_reader *rd)
{
	return rd->delim;
}

uint64_t
csv_line(const struct csv_reader *rd)
{
	return rd->rec_line;
}

uint64_t
csv_bytes(const struct csv_reader *rd)
{
	return rd->consumed + rd->start;
}

const char *
csv_name(const struct csv_reader *rd)
{
	return rd->name;
}

static int
perr(struct csv_reader *rd, struct veil_err *err, int code, uint64_t line,
    size_t field, const char *what, const char *at, size_t n)
{
	char ex[3 * EXCERPT];

	veil_excerpt(ex, sizeof(ex), at, n, EXCERPT);
	return veil_seterr(err, code, "%s:%llu: field %zu: %s near %s",
	    rd->name, (unsigned long long)line, field + 1, what, ex);
}

static size_t
count_nl(const char *p, const char *e)
{
	size_t n = 0;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

#define MORE	0	/* parse_record: the record is cut by the buffer end */

/*
 * Returns the first byte in [q, e) that ends an unquoted run (delimiter,
 * CR, LF or quote), or e. With SSE2 it looks at 16 bytes at a time; the
 * loads may run up to PAD bytes past e, which the buffer has room for.
 */
static inline const char *
scan_unquoted(const struct csv_reader *rd, const char *q, const char *e)
{
#ifdef __SSE2__
	const __m128i vd = _mm_set1_epi8((char)rd->delim);
	const __m128i vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
	const __m128i vq = _mm_set1_epi8('"');
	__m128i x;
	unsigned int m;

	while (q < e) {
		x = _mm_loadu_si128((const __m128i *)(const void *)q);
		m = (unsigned int)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
		    _mm_or_si128(_mm_cmpeq_epi8(x, vr), _mm_cmpeq_epi8(x, vq))));
		if (m != 0) {
			q += __builtin_ctz(m);
			return q < e ? q : e;
		}
		q += 16;
	}
	return e;
#else
	const unsigned char *stop = rd->stop;

	while (q < e && !stop[(unsigned char)*q])
		q++;
	return q;
#endif
}

/*
 * Finds the fields of the record at buf + start. Returns 1 when the record
 * is complete (rd->start then points past it and *nfp is set), MORE when
 * more input is needed, or a negative code.
 */
static int
parse_record(struct csv_reader *rd, size_t *nfp, uint64_t *nlp,
    struct veil_err *err)
{
	const char *base = rd->buf, *p = base + rd->start;
	const char *e = base + rd->end, *q, *x;
	size_t nf = 0, ncap;
	uint64_t nl = 0;
	int eof = rd->eof, delim = rd->delim;
	struct span *sp;

	for (;;) {
		if (nf == rd->fcap) {
			if (nf >= rd->lim.max_fields)
				return perr(rd, err, VEIL_E_LIMIT, rd->line + nl,
				    nf, "too many fields (limit "
				    "max_fields)", p, (size_t)(e - p));
			ncap = rd->fcap ? rd->fcap * 2 : 64;
			if (ncap > rd->lim.max_fields)
				ncap = rd->lim.max_fields;
			if ((sp = reallocarray(rd->spans, ncap,
			    sizeof(*sp))) == NULL)
				return veil_seterr(err, VEIL_E_NOMEM, "csv: "
				    "out of memory");
			rd->spans = sp;
			if ((rd->fields = reallocarray(rd->fields, ncap,
			    sizeof(*rd->fields))) == NULL)
				return veil_seterr(err, VEIL_E_NOMEM, "csv: "
				    "out of memory");
			rd->fcap = ncap;
		}
		sp = &rd->spans[nf++];
		if (p < e && *p == '"') {
			sp->quoted = 1;
			sp->esc = 0;
			q = p + 1;
			for (;;) {
				if ((x = memchr(q, '"', (size_t)(e - q))) == NULL) {
					if (!eof)
						return MORE;
					return perr(rd, err, VEIL_E_PARSE,
					    rd->line + nl, nf - 1, "quoted field "
					    "never closed", p, (size_t)(e - p));
				}
				if (x + 1 == e && !eof)
					return MORE;
				if (x + 1 < e && x[1] == '"') {
					sp->esc = 1;
					q = x + 2;
					continue;
				}
				break;
			}
			sp->s = (size_t)(p + 1 - base);
			sp->e = (size_t)(x - base);
			nl += count_nl(p + 1, x);
			p = x + 1;
			if (p < e && *p != delim && *p != '\n' && *p != '\r')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "unexpected character after "
				    "closing quote", p, (size_t)(e - p));
		} else {
			sp->quoted = sp->esc = 0;
			q = scan_unquoted(rd, p, e);
			if (q < e && *q == '"')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "quote inside an unquoted field "
				    "(quote the whole field and double the "
				    "quote)", p, (size_t)(e - p));
			sp->s = (size_t)(p - base);
			sp->e = (size_t)(q - base);
			p = q;
		}
		if (p == e) {
			if (!eof)
				return MORE;
			break;
		}
		if (*p == delim) {
			p++;
			continue;
		}
		if (*p == '\r') {
			if (p + 1 == e && !eof)
				return MORE;
			if (p + 1 == e || p[1] != '\n')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "carriage return not followed by "
				    "a line feed", p, (size_t)(e - p));
			p++;
		}
		p++;	/* the '\n' */
		break;
	}
	if ((size_t)(p - (base + rd->start)) > rd->lim.max_record) {
		q = p;	/* show the record without its line end */
		while (q > base + rd->start && (q[-1] == '\n' || q[-1] == '\r'))
			q--;
		return perr(rd, err, VEIL_E_LIMIT, rd->line, 0, "record longer "
		    "than max_record", base + rd->start,
		    (size_t)(q - (base + rd->start)));
	}
	*nfp = nf;
	*nlp = nl;
	rd->start = (size_t)(p - base);
	return 1;
}

/* Skips blank lines at buf + start. Returns MORE if it cannot tell yet. */
static int
skip_blank(struct csv_reader *rd)
{
	const char *p = rd->buf + rd->start, *e = rd->buf + rd->end;

	for (;;) {
		if (p < e && *p == '\n') {
			p++;
		} else if (p < e && *p == '\r') {
			if (p + 1 == e && !rd->eof)
				break;
			if (p + 1 == e || p[1] != '\n')
				break;	/* parse_record reports it */
			p += 2;
		} else
			break;
		rd->line++;
	}
	rd->start = (size_t)(p - rd->buf);
	return p < e ? 1 : MORE;
}

int
csv_next(struct csv_reader *rd, struct csv_field **fieldsp, size_t *nfieldsp,
    struct veil_err *err)
{
	struct span *sp;
	struct csv_field *f;
	size_t nf = 0, i;
	uint64_t nl = 0;
	char *s, *d, *e;
	int r;

	*fieldsp = NULL;
	*nfieldsp = 0;
	for (;;) {
		if (skip_blank(rd) == 1) {
			if ((r = parse_record(rd, &nf, &nl, err)) != MORE)
				break;
		} else if (rd->eof)
			return 0;
		if (rd->eof)
			return veil_seterr(err, VEIL_E_INTERNAL, "%s: reader "
			    "stalled at end of input", rd->name);
		if (rd->end - rd->start > rd->lim.max_record)
			return perr(rd, err, VEIL_E_LIMIT, rd->line, 0,
			    "record longer than max_record",
			    rd->buf + rd->start, rd->end - rd->start);
		if ((r = fill(rd, err)) != 0)
			return r;
	}
	if (r < 0)
		return r;
	if (rd->nrec >= rd->lim.max_rows)
		return veil_seterr(err, VEIL_E_LIMIT, "%s:%llu: more than "
		    "%llu records (limit max_rows)", rd->name,
		    (unsigned long long)rd->line,
		    (unsigned long long)rd->lim.max_rows);
	rd->nrec++;
	rd->rec_line = rd->line;
	rd->line += 1 + nl;
	for (i = 0; i < nf; i++) {
		sp = &rd->spans[i];
		f = &rd->fields[i];
		s = rd->buf + sp->s;
		e = rd->buf + sp->e;
		if (sp->esc) {	/* "" -> " in place */
			for (d = s; s < e; s++) {
				*d++ = *s;
				if (*s == '"')
					s++;
			}
			e = d;
			s = rd->buf + sp->s;
		}
		f->p = s;
		f->len = (size_t)(e - s);
		f->quoted = sp->quoted;
	}
	*fieldsp = rd->fields;
	*nfieldsp = nf;
	return 1;
}
