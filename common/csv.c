/*
 * csv.c: the streaming RFC 4180 reader of csv.h.
 *
 * The buffer holds at most max_record bytes of a partial record plus one
 * read chunk, so memory stays bounded whatever the input. A record is
 * parsed in two passes: the first finds its fields and its end, and is
 * simply restarted after a refill if the record is cut by the buffer end;
 * only once the record is complete are doubled quotes unescaped in place.
 *
 * The first pass does not look at every byte in turn: the bytes that end
 * an unquoted run (delimiter, CR, LF, quote) are found 64 at a time as a
 * bit mask, and the parser steps from one set bit to the next. A field
 * then costs a count of trailing zeros, not a loop whose length (and
 * branch) depends on the field's.
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
#define BLOCK		64	/* bytes per stop mask */
#define PAD		BLOCK	/* slack after the buffer for block loads */
#define EXCERPT		40

/*
 * The stops (bytes that end an unquoted run) of one BLOCK-aligned block of
 * the buffer, bit i for buf[blk + i]; bits already stepped over may be
 * cleared. bits == 0 with blk == NOBLK means no block is known.
 */
struct stops {
	size_t		 blk;
	uint64_t	 bits;
};
#define NOBLK		SIZE_MAX

struct csv_reader {
	char		*name;
	int		 fd;
	int		 is_mem;	/* reading mem, not fd */
	int		 in_place;	/* buf is the caller's span (csv_open_span) */
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
	size_t		 rec_s, rec_e;	/* the record last returned */
	struct stops	 st;
	struct csv_field *fields;
	size_t		 fcap;
	char		*unesc;		/* in place: unescaped fields */
	size_t		 unesc_cap;
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

	rd->st.blk = NOBLK;	/* the bytes move, and the block may grow */
	rd->st.bits = 0;
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

static int
set_limits(struct csv_reader *rd, const struct csv_limits *limits,
    const char *name, struct veil_err *err)
{
	if (limits != NULL)
		rd->lim = *limits;
	else
		csv_limits_default(&rd->lim);
	if (rd->lim.max_record == 0 || rd->lim.max_record >
	    CSV_HARD_MAX_RECORD || rd->lim.max_fields == 0 ||
	    rd->lim.max_fields > (1u << 20) || rd->lim.max_rows == 0)
		return veil_seterr(err, VEIL_E_INVALID, "%s: CSV limits out of "
		    "range (record 1..%u bytes, fields 1..%u, rows >= 1)", name,
		    CSV_HARD_MAX_RECORD, 1u << 20);
	return 0;
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
	if (set_limits(rd, limits, name, err) != 0) {
		csv_close(rd);
		return NULL;
	}
	rd->fd = fd;
	rd->is_mem = mem != NULL || fd < 0;
	rd->mem = mem;
	rd->memlen = memlen;
	rd->line = 1;
	rd->st.blk = NOBLK;
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

struct csv_reader *
csv_open_span(const void *buf, size_t len, const char *name, int delim,
    const struct csv_limits *limits, struct veil_err *err)
{
	static const char empty[1];
	struct csv_reader *rd = NULL;

	if (!delim_ok(delim)) {
		veil_seterr(err, VEIL_E_INVALID, "%s: delimiter must be ',', "
		    "';' or tab", name);
		return NULL;
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL ||
	    (rd->name = strdup(name)) == NULL) {
		free(rd);
		veil_seterr(err, VEIL_E_NOMEM, "%s: out of memory", name);
		return NULL;
	}
	rd->in_place = 1;
	if (set_limits(rd, limits, name, err) != 0) {
		csv_close(rd);
		return NULL;
	}
	rd->fd = -1;
	rd->is_mem = 1;
	/* Never written: fields with "" are unescaped into rd->unesc. */
	rd->buf = (char *)(uintptr_t)(buf != NULL ? buf : empty);
	rd->cap = rd->end = rd->memlen = rd->mempos = len;
	rd->eof = 1;
	rd->line = 1;
	rd->st.blk = NOBLK;
	rd->delim = delim;
	rd->stop[(unsigned char)rd->delim] = 1;
	rd->stop['\n'] = rd->stop['\r'] = rd->stop['"'] = 1;
	return rd;
}

void
csv_close(struct csv_reader *rd)
{
	if (rd == NULL)
		return;
	free(rd->name);
	if (!rd->in_place)
		free(rd->buf);
	free(rd->fields);
	free(rd->unesc);
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

#define MORE	0	/* parse_record: the record is cut by the buffer end */

/*
 * The stops of the BLOCK bytes at buf + blk: bit i is set when buf[blk + i]
 * is the delimiter, CR, LF or a quote. Bytes from buf + end on are not
 * input and never count; the loads may read them (up to PAD bytes past
 * the buffer's capacity, which it has room for).
 */
static inline uint64_t
block_stops(const struct csv_reader *rd, size_t blk)
{
	const char *q = rd->buf + blk;
	char tail[BLOCK];
	uint64_t m = 0;
	unsigned int i;
#ifdef __SSE2__
	const __m128i vd = _mm_set1_epi8((char)rd->delim);
	const __m128i vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r');
	const __m128i vq = _mm_set1_epi8('"');
	__m128i x;
#endif

	/*
	 * A span read in place has no slack after it: its last partial
	 * block is copied out, so that the loads stay inside the span.
	 */
	if (rd->in_place && rd->end - blk < BLOCK) {
		memset(tail, 0, sizeof(tail));
		memcpy(tail, q, rd->end - blk);
		q = tail;
	}
#ifdef __SSE2__
	for (i = 0; i < BLOCK; i += 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)(q + i));
		m |= (uint64_t)(unsigned int)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, vd), _mm_cmpeq_epi8(x, vn)),
		    _mm_or_si128(_mm_cmpeq_epi8(x, vr),
		    _mm_cmpeq_epi8(x, vq)))) << i;
	}
#else
	for (i = 0; i < BLOCK; i++)
		m |= (uint64_t)rd->stop[(unsigned char)q[i]] << i;
#endif
	if (rd->end - blk < BLOCK)
		m &= (UINT64_C(1) << (rd->end - blk)) - 1;
	return m;
}

/*
 * Returns the offset of the first stop at or after off, or rd->end, when
 * it is not in the block st already has (see next_stop).
 */
static size_t
next_stop_block(const struct csv_reader *rd, struct stops *st, size_t off)
{
	size_t blk = off & ~(size_t)(BLOCK - 1);
	uint64_t m;

	if (off >= rd->end)
		return rd->end;
	m = block_stops(rd, blk) & (~UINT64_C(0) << (off - blk));
	while (m == 0) {
		blk += BLOCK;
		if (blk >= rd->end) {
			st->blk = NOBLK;
			st->bits = 0;
			return rd->end;
		}
		m = block_stops(rd, blk);
	}
	st->blk = blk;
	st->bits = m;
	return blk + (size_t)__builtin_ctzll(m);
}

/*
 * Returns the offset of the first stop at or after off, or rd->end. Off
 * only moves forward within a record, and the next field almost always
 * ends in the block of the last one, whose mask st keeps: then this is a
 * mask and a count of trailing zeros.
 */
static inline size_t
next_stop(const struct csv_reader *rd, struct stops *st, size_t off)
{
	uint64_t m;

	if (off - st->blk < BLOCK) {
		m = st->bits & (~UINT64_C(0) << (off - st->blk));
		if (m != 0) {
			st->bits = m;
			return st->blk + (size_t)__builtin_ctzll(m);
		}
	}
	return next_stop_block(rd, st, off);
}

/* Makes room for one more field. */
static int
grow_fields(struct csv_reader *rd, size_t nf, uint64_t line, const char *p,
    size_t n, struct veil_err *err)
{
	struct csv_field *nfp;
	size_t ncap;

	if (nf >= rd->lim.max_fields)
		return perr(rd, err, VEIL_E_LIMIT, line, nf, "too many fields "
		    "(limit max_fields)", p, n);
	ncap = rd->fcap ? rd->fcap * 2 : 64;
	if (ncap > rd->lim.max_fields)
		ncap = rd->lim.max_fields;
	if ((nfp = reallocarray(rd->fields, ncap, sizeof(*nfp))) == NULL)
		return veil_seterr(err, VEIL_E_NOMEM, "csv: out of memory");
	rd->fields = nfp;
	rd->fcap = ncap;
	return 0;
}

/*
 * Finds the fields of the record at buf + start and points rd->fields at
 * them. Returns 1 when the record is complete (rd->start then points past
 * it, *nfp is set and *escp says whether a field has doubled quotes), MORE
 * when more input is needed, or a negative code.
 */
static int
parse_record(struct csv_reader *rd, size_t *nfp, uint64_t *nlp, int *escp,
    struct veil_err *err)
{
	const char *base = rd->buf;
	struct stops st = rd->st;
	size_t p = rd->start, end = rd->end, q, nf = 0;
	uint64_t nl = 0, fnl;
	int eof = rd->eof, delim = rd->delim, esc = 0, r;
	struct csv_field *f;
	char c;

	for (;;) {
		if (nf == rd->fcap && (r = grow_fields(rd, nf, rd->line + nl,
		    base + p, end - p, err)) != 0)
			return r;
		f = &rd->fields[nf++];
		if (p < end && base[p] == '"') {
			f->quoted = 1;
			fnl = 0;
			for (q = p + 1;; q++) {
				if ((q = next_stop(rd, &st, q)) == end) {
					if (!eof)
						return MORE;
					return perr(rd, err, VEIL_E_PARSE,
					    rd->line + nl, nf - 1, "quoted field "
					    "never closed", base + p, end - p);
				}
				if ((c = base[q]) == '\n')
					fnl++;
				if (c != '"')
					continue;
				if (q + 1 == end && !eof)
					return MORE;
				if (q + 1 < end && base[q + 1] == '"') {
					esc = 1;
					q++;
					continue;
				}
				break;
			}
			f->p = base + p + 1;
			f->len = q - p - 1;
			nl += fnl;
			p = q + 1;
			if (p < end && base[p] != delim && base[p] != '\n' &&
			    base[p] != '\r')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "unexpected character after "
				    "closing quote", base + p, end - p);
		} else {
			f->quoted = 0;
			q = next_stop(rd, &st, p);
			if (q < end && base[q] == '"')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "quote inside an unquoted field "
				    "(quote the whole field and double the "
				    "quote)", base + p, end - p);
			f->p = base + p;
			f->len = q - p;
			p = q;
		}
		if (p == end) {
			if (!eof)
				return MORE;
			break;
		}
		if (base[p] == delim) {
			p++;
			continue;
		}
		if (base[p] == '\r') {
			if (p + 1 == end && !eof)
				return MORE;
			if (p + 1 == end || base[p + 1] != '\n')
				return perr(rd, err, VEIL_E_PARSE, rd->line + nl,
				    nf - 1, "carriage return not followed by "
				    "a line feed", base + p, end - p);
			p++;
		}
		p++;	/* the '\n' */
		break;
	}
	if (p - rd->start > rd->lim.max_record) {
		q = p;	/* show the record without its line end */
		while (q > rd->start && (base[q - 1] == '\n' ||
		    base[q - 1] == '\r'))
			q--;
		return perr(rd, err, VEIL_E_LIMIT, rd->line, 0, "record longer "
		    "than max_record", base + rd->start, q - rd->start);
	}
	*nfp = nf;
	*nlp = nl;
	*escp = esc;
	rd->st = st;
	rd->rec_s = rd->start;
	rd->rec_e = p;
	rd->start = p;
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

/*
 * csv_next's "" -> " for a span read in place, which is never written:
 * the fields with a quote are unescaped into rd->unesc instead, which is
 * at least as long as the record (and so no longer than max_record).
 */
static int
unescape_aside(struct csv_reader *rd, struct csv_field **fieldsp,
    size_t *nfieldsp, size_t nf, struct veil_err *err)
{
	struct csv_field *f;
	size_t i, n = rd->rec_e - rd->rec_s;
	const char *s, *e;
	char *d, *nb;

	if (rd->unesc_cap < n) {
		if ((nb = realloc(rd->unesc, n)) == NULL)
			return veil_seterr(err, VEIL_E_NOMEM, "csv: out of "
			    "memory");
		rd->unesc = nb;
		rd->unesc_cap = n;
	}
	d = rd->unesc;
	for (i = 0; i < nf; i++) {
		f = &rd->fields[i];
		if (!f->quoted || memchr(f->p, '"', f->len) == NULL)
			continue;
		e = f->p + f->len;
		nb = d;
		for (s = f->p; s < e; s++) {
			*d++ = *s;
			if (*s == '"')
				s++;
		}
		f->p = nb;
		f->len = (size_t)(d - nb);
	}
	*fieldsp = rd->fields;
	*nfieldsp = nf;
	return 1;
}

int
csv_next(struct csv_reader *rd, struct csv_field **fieldsp, size_t *nfieldsp,
    struct veil_err *err)
{
	struct csv_field *f;
	size_t nf = 0, i;
	uint64_t nl = 0;
	char *s, *d, *e;
	int r, esc = 0;

	*fieldsp = NULL;
	*nfieldsp = 0;
	for (;;) {
		if (skip_blank(rd) == 1) {
			if ((r = parse_record(rd, &nf, &nl, &esc, err)) != MORE)
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
	/*
	 * "" -> " in place. Inside a quoted field a quote can only be the
	 * first of a pair, so the fields to fix are those with one. The bytes
	 * freed at the end of the field become spaces, so that the record
	 * stays valid UTF-8 exactly when its fields are (csv_record).
	 */
	if (esc && rd->in_place)
		return unescape_aside(rd, fieldsp, nfieldsp, nf, err);
	for (i = 0; esc && i < nf; i++) {
		f = &rd->fields[i];
		if (!f->quoted || (s = memchr(f->p, '"', f->len)) == NULL)
			continue;
		e = (char *)f->p + f->len;
		for (d = s; s < e; s++) {
			*d++ = *s;
			if (*s == '"')
				s++;
		}
		memset(d, ' ', (size_t)(e - d));
		f->len = (size_t)(d - f->p);
	}
	*fieldsp = rd->fields;
	*nfieldsp = nf;
	return 1;
}

const char *
csv_record(const struct csv_reader *rd, size_t *lenp)
{
	*lenp = rd->rec_e - rd->rec_s;
	return rd->buf + rd->rec_s;
}

void
csv_view(const struct csv_reader *rd, struct csv_view *v)
{
	v->p = rd->buf + rd->start;
	v->len = rd->end - rd->start;
	/* The buffer has PAD bytes past its capacity; a span has none. */
	v->slack = rd->in_place ? 0 : rd->cap + PAD - rd->end;
	v->rows_left = rd->lim.max_rows - rd->nrec;
	v->max_record = rd->lim.max_record;
	v->delim = rd->delim;
}

void
csv_take(struct csv_reader *rd, size_t len, uint64_t nl)
{
	rd->nrec++;
	rd->rec_line = rd->line;
	rd->line += 1 + nl;
	rd->rec_s = rd->start;
	rd->rec_e = rd->start + len;
	rd->start += len;
}

/* {====== splitting an input for parallel parsing */

uint64_t
csv_count_quotes(const char *p, size_t len)
{
	uint64_t n = 0;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i vq = _mm_set1_epi8('"'), zero = _mm_setzero_si128();
	__m128i acc, x;
	unsigned int k;

	/* Byte counters (a match is -1), summed before they can wrap. */
	while (len - i >= 16) {
		acc = zero;
		for (k = 0; k < 255 && len - i >= 16; k++, i += 16) {
			x = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(x, vq));
		}
		acc = _mm_sad_epu8(acc, zero);
		n += (uint64_t)_mm_cvtsi128_si32(acc) +
		    (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
	}
#endif
	for (; i < len; i++)
		n += p[i] == '"';
	return n;
}

#define GUESS_SPAN	4096	/* bytes csv_guess_quoted looks at */

/* Where a reader of valid CSV can be, for csv_guess_quoted. */
enum gstate { G_DEAD, G_START, G_BARE, G_QUOTED, G_QQ };

/* The state after byte c; an eol is '\n' or '\r' (either ends a field). */
static enum gstate
gstep(enum gstate st, int c, int delim)
{
	int end = c == delim || c == '\n' || c == '\r';

	switch (st) {
	case G_START:		/* a field begins */
		return c == '"' ? G_QUOTED : end ? G_START : G_BARE;
	case G_BARE:		/* in an unquoted field: no quote allowed */
		return c == '"' ? G_DEAD : end ? G_START : G_BARE;
	case G_QUOTED:
		return c == '"' ? G_QQ : G_QUOTED;
	case G_QQ:		/* a quote in quotes: "" or the closing one */
		return c == '"' ? G_QUOTED : end ? G_START : G_DEAD;
	default:
		return G_DEAD;
	}
}

/*
 * Two readers go on from from: one as if it lay inside quotes, one as if
 * outside, by the rules of valid CSV (a quote opens a field only at its
 * start; in quotes a quote is doubled or closes the field before a
 * delimiter or line end). The first to meet what it cannot read is the
 * wrong one. The bytes before from are left to the outside reader only,
 * to say whether a field starts there.
 */
int
csv_guess_quoted(const char *p, size_t len, size_t *fromp, int delim)
{
	size_t i, from = *fromp, end;
	enum gstate in = G_QUOTED, out;
	int c;

	if (from >= len)
		return 0;
	end = len - from < GUESS_SPAN ? len : from + GUESS_SPAN;
	/* Not just after a quote: inside, that could be either state. */
	while (from > 0 && from < end && p[from - 1] == '"')
		from++;
	if (from >= end)
		return -1;
	*fromp = from;
	c = from > 0 ? (unsigned char)p[from - 1] : '\n';
	out = c == delim || c == '\n' || c == '\r' ? G_START : G_BARE;
	for (i = from; i < end && in != G_DEAD && out != G_DEAD; i++) {
		c = (unsigned char)p[i];
		in = gstep(in, c, delim);
		out = gstep(out, c, delim);
	}
	if (in == G_DEAD && out != G_DEAD)
		return 0;
	if (out == G_DEAD && in != G_DEAD)
		return 1;
	return -1;
}

size_t
csv_boundary(const char *p, size_t len, size_t from, int odd)
{
	for (; from < len; from++) {
		if (p[from] == '"')
			odd = !odd;
		else if (p[from] == '\n' && !odd)
			return from + 1;
	}
	return len;
}

/* }====== */
