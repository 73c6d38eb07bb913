/*
 * test_csv.c: the streaming RFC 4180 reader. Quoting ("" escapes, embedded
 * delimiters and newlines), line ends, the BOM, delimiter detection, empty
 * and blank input, every error with the line, field and text it names, the
 * limits, and the refill logic: records cut at every byte of the internal
 * buffer's end, several MiB through a pipe fed by a thread and through a
 * temporary file, and a child that writes one byte at a time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"

/* csv.c's read chunk: the reader's buffer is max_record + CHUNK */
#define CHUNK	(1u << 20)

/* {====== helpers */

static struct csv_reader *
open_str(const char *s, int delim, const struct csv_limits *lim,
    struct veil_err *err)
{
	struct csv_reader *rd;

	veil_err_clear(err);
	rd = csv_open_mem(s, strlen(s), "t.csv", delim, lim, err);
	if (rd == NULL)
		fail_msg("csv_open_mem: %s", err->msg);
	return rd;
}

/*
 * Reads one record and checks its start line and fields. The variadic
 * part is n pairs (int quoted, const char *text).
 */
static void
next_is(struct csv_reader *rd, uint64_t line, size_t n, ...)
{
	struct csv_field *f;
	struct veil_err err;
	const char *want;
	size_t nf, i;
	va_list ap;
	int r, q;

	veil_err_clear(&err);
	r = csv_next(rd, &f, &nf, &err);
	if (r != 1)
		fail_msg("csv_next = %d (%s), expected a record at line %llu",
		    r, err.msg, (unsigned long long)line);
	if (nf != n)
		fail_msg("line %llu: %zu fields, expected %zu",
		    (unsigned long long)line, nf, n);
	assert_int_equal(csv_line(rd), line);
	va_start(ap, n);
	for (i = 0; i < n; i++) {
		q = va_arg(ap, int);
		want = va_arg(ap, const char *);
		if (f[i].len != strlen(want) ||
		    memcmp(f[i].p, want, f[i].len) != 0)
			fail_msg("line %llu field %zu: got \"%.*s\", expected "
			    "\"%s\"", (unsigned long long)line, i + 1,
			    (int)f[i].len, f[i].p, want);
		if (f[i].quoted != q)
			fail_msg("line %llu field %zu: quoted %d, expected %d",
			    (unsigned long long)line, i + 1, f[i].quoted, q);
	}
	va_end(ap);
}

static void
at_end(struct csv_reader *rd)
{
	struct csv_field *f = (struct csv_field *)1;
	struct veil_err err;
	size_t nf = 99;

	veil_err_clear(&err);
	assert_int_equal(csv_next(rd, &f, &nf, &err), 0);
	assert_null(f);
	assert_int_equal(nf, 0);
	/* and it stays at the end */
	assert_int_equal(csv_next(rd, &f, &nf, &err), 0);
}

/*
 * Renders every record as "LINE:[field][field]\n" into out, and an error
 * as "error N: message". Lets a test close the reader (and reap a writer)
 * before it compares, so that a failure leaks nothing.
 */
static void
render(struct csv_reader *rd, char *out, size_t outlen)
{
	struct csv_field *f;
	struct veil_err err;
	size_t nf, i, o = 0;
	int r;

	out[0] = '\0';
	veil_err_clear(&err);
	while ((r = csv_next(rd, &f, &nf, &err)) == 1 && o < outlen) {
		o += (size_t)snprintf(out + o, outlen - o, "%llu:",
		    (unsigned long long)csv_line(rd));
		for (i = 0; i < nf && o < outlen; i++)
			o += (size_t)snprintf(out + o, outlen - o, "[%.*s]",
			    (int)f[i].len, f[i].p);
		if (o < outlen)
			o += (size_t)snprintf(out + o, outlen - o, "\n");
	}
	if (r < 0 && o < outlen)
		snprintf(out + o, outlen - o, "error %d: %s", r, err.msg);
}

static void
has(const struct veil_err *err, const char *needle)
{
	if (strstr(err->msg, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err->msg,
		    needle);
}

/*
 * Reads records from rd until an error, which must be code, and returns
 * the number of records read before it.
 */
static size_t
read_to_error(struct csv_reader *rd, int code, struct veil_err *err)
{
	struct csv_field *f;
	size_t nf, n = 0;
	int r;

	veil_err_clear(err);
	while ((r = csv_next(rd, &f, &nf, err)) == 1)
		n++;
	if (r != code)
		fail_msg("csv_next = %d (%s), expected %d", r, err->msg, code);
	assert_int_equal(err->code, code);
	return n;
}

/* Expects s to fail with code after nok good records, naming needles. */
static void
expect_error(const char *s, int delim, const struct csv_limits *lim,
    size_t nok, int code, const char *n1, const char *n2, const char *n3)
{
	struct csv_reader *rd;
	struct veil_err err;

	rd = open_str(s, delim, lim, &err);
	assert_int_equal(read_to_error(rd, code, &err), nok);
	has(&err, n1);
	if (n2 != NULL)
		has(&err, n2);
	if (n3 != NULL)
		has(&err, n3);
	csv_close(rd);
}

/* A temporary file holding len bytes of p, opened for reading. */
static int
temp_fd(const void *p, size_t len)
{
	char path[] = "/tmp/veil-test-csv-XXXXXX";
	const char *s = p;
	ssize_t w;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	while (len > 0) {
		w = write(fd, s, len);
		assert_true(w > 0);
		s += w;
		len -= (size_t)w;
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* the reader went away */
		p += w;
		len -= (size_t)w;
	}
}

/*
 * Forks a child that writes p one byte per write(2) to the returned
 * descriptor, sleeping usec between bytes. With seqpacket, each byte is
 * its own message, so every read(2) of the reader returns exactly one.
 */
static int
dribble(const char *p, size_t len, int seqpacket, unsigned usec, pid_t *pidp)
{
	int sv[2];
	size_t i;
	pid_t pid;

	if (seqpacket)
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	else {
		assert_int_equal(pipe(sv), 0);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		for (i = 0; i < len; i++) {
			if (write(sv[1], p + i, 1) != 1)
				_exit(1);
			if (usec > 0)
				usleep(usec);
		}
		close(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	*pidp = pid;
	return sv[0];
}

/* Reads fd to its end, so that a writer never sees EPIPE. */
static void
drain(int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) != 0)
		if (n == -1 && errno != EINTR)
			break;
}

static void
reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* }====== */

/* {====== quoting, line ends, BOM */

static void
test_line_ends(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;
	const char *s = "a,b,c\n1,2,3\r\n4,5,6\n7,8,9";

	(void)state;
	rd = open_str(s, 0, NULL, &err);
	assert_string_equal(csv_name(rd), "t.csv");
	assert_int_equal(csv_delimiter(rd), ',');
	next_is(rd, 1, 3, 0, "a", 0, "b", 0, "c");
	next_is(rd, 2, 3, 0, "1", 0, "2", 0, "3");	/* CRLF */
	next_is(rd, 3, 3, 0, "4", 0, "5", 0, "6");	/* LF after CRLF */
	next_is(rd, 4, 3, 0, "7", 0, "8", 0, "9");	/* no newline */
	at_end(rd);
	assert_int_equal(csv_bytes(rd), strlen(s));
	csv_close(rd);

	/* all CRLF, with a trailing CRLF: no empty record at the end */
	rd = open_str("x,y\r\n1,2\r\n", 0, NULL, &err);
	next_is(rd, 1, 2, 0, "x", 0, "y");
	next_is(rd, 2, 2, 0, "1", 0, "2");
	at_end(rd);
	csv_close(rd);
}

static void
test_quoting(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("\"a \"\"quoted\"\" word\",\"x,y\",plain,\"\"\"\"\n"
	    "\"\"\"lead\",\"trail\"\"\",\"a\"\"\"\"b\",\"\"\"\"\"\"\n", ',',
	    NULL, &err);
	next_is(rd, 1, 4, 1, "a \"quoted\" word", 1, "x,y", 0, "plain",
	    1, "\"");
	next_is(rd, 2, 4, 1, "\"lead", 1, "trail\"", 1, "a\"\"b", 1, "\"\"");
	at_end(rd);
	csv_close(rd);

	/* the other delimiters inside quotes are data too */
	rd = open_str("\"a;b\";\"c\td\";\"e,f\"\n", ';', NULL, &err);
	next_is(rd, 1, 3, 1, "a;b", 1, "c\td", 1, "e,f");
	at_end(rd);
	csv_close(rd);
}

static void
test_embedded_newlines(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("h1,h2\n"
	    "\"line1\nline2\",x\n"			/* lines 2-3 */
	    "\"crlf\r\ninside\",y\r\n"			/* lines 4-5 */
	    "\"\n\n\n\",\"two\nlines\"\n"		/* lines 6-10 */
	    "last,\"cr\rin quotes\"\n"			/* line 11 */
	    "after,z\n", 0, NULL, &err);
	next_is(rd, 1, 2, 0, "h1", 0, "h2");
	next_is(rd, 2, 2, 1, "line1\nline2", 0, "x");
	next_is(rd, 4, 2, 1, "crlf\r\ninside", 0, "y");
	next_is(rd, 6, 2, 1, "\n\n\n", 1, "two\nlines");
	next_is(rd, 11, 2, 0, "last", 1, "cr\rin quotes");
	next_is(rd, 12, 2, 0, "after", 0, "z");
	at_end(rd);
	csv_close(rd);
}

static void
test_bom(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("\xef\xbb\xbfname;age\nann;42\n", 0, NULL, &err);
	assert_int_equal(csv_delimiter(rd), ';');
	next_is(rd, 1, 2, 0, "name", 0, "age");
	next_is(rd, 2, 2, 0, "ann", 0, "42");
	at_end(rd);
	assert_int_equal(csv_bytes(rd), 3 + 9 + 7);
	csv_close(rd);

	/* a BOM before a quoted field */
	rd = open_str("\xef\xbb\xbf\"a,b\",c\n", 0, NULL, &err);
	next_is(rd, 1, 2, 1, "a,b", 0, "c");
	at_end(rd);
	csv_close(rd);

	/* only a BOM: no records */
	rd = open_str("\xef\xbb\xbf", 0, NULL, &err);
	at_end(rd);
	csv_close(rd);

	/* a BOM anywhere else is data */
	rd = open_str("a\n\xef\xbb\xbf" "b\n", 0, NULL, &err);
	next_is(rd, 1, 1, 0, "a");
	next_is(rd, 2, 1, 0, "\xef\xbb\xbf" "b");
	at_end(rd);
	csv_close(rd);

	/* a partial BOM is data */
	rd = open_str("\xef\xbb" "x\n", 0, NULL, &err);
	next_is(rd, 1, 1, 0, "\xef\xbb" "x");
	csv_close(rd);
}

/* }====== */

/* {====== delimiters */

static int
detected(const char *s)
{
	struct csv_reader *rd;
	struct veil_err err;
	int d;

	rd = open_str(s, 0, NULL, &err);
	d = csv_delimiter(rd);
	csv_close(rd);
	return d;
}

static void
test_detect(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	assert_int_equal(detected("a,b,c\n1,2,3\n"), ',');
	assert_int_equal(detected("a;b;c\n1;2;3\n"), ';');
	assert_int_equal(detected("a\tb\tc\n1\t2\t3\n"), '\t');
	assert_int_equal(detected("name\n"), ',');	/* nothing: ',' */
	assert_int_equal(detected(""), ',');
	assert_int_equal(detected("a;b;c,d\n"), ';');	/* majority */
	assert_int_equal(detected("a,b,c;d\n"), ',');
	assert_int_equal(detected("a,b\tc\td\te\n"), '\t');
	/* ties: ',' over ';' and tab, ';' over tab */
	assert_int_equal(detected("a,b;c\n"), ',');
	assert_int_equal(detected("a,b\tc\n"), ',');
	assert_int_equal(detected("a;b\tc\n"), ';');
	assert_int_equal(detected("a;b;c\td\te\n"), ';');
	assert_int_equal(detected("a,b,c;d;e;f\tg\th\ti\n"), ';');
	/* delimiters inside quotes do not count */
	assert_int_equal(detected("\"x,y,z\";b\n"), ';');
	assert_int_equal(detected("\"a;b;c\"\tx\n"), '\t');
	/* only the first record counts */
	assert_int_equal(detected("a;b\nc,d,e,f,g\n"), ';');
	/* nor does a newline inside quotes end the first record */
	assert_int_equal(detected("\"a\n,,,,\";b;c\n"), ';');
	/* CRLF header */
	assert_int_equal(detected("a;b\r\n1;2\r\n"), ';');

	/* detection is used for every record after the header */
	rd = open_str("a\tb\n1,5\t2;5\n", 0, NULL, &err);
	next_is(rd, 1, 2, 0, "a", 0, "b");
	next_is(rd, 2, 2, 0, "1,5", 0, "2;5");
	at_end(rd);
	csv_close(rd);
}

static void
test_explicit_delimiter(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	/* the header says ';', the caller says ',' */
	rd = open_str("a;b;c,d\n1;2,3\n", ',', NULL, &err);
	assert_int_equal(csv_delimiter(rd), ',');
	next_is(rd, 1, 2, 0, "a;b;c", 0, "d");
	next_is(rd, 2, 2, 0, "1;2", 0, "3");
	at_end(rd);
	csv_close(rd);

	rd = open_str("a,b,c\tx\n", '\t', NULL, &err);
	assert_int_equal(csv_delimiter(rd), '\t');
	next_is(rd, 1, 2, 0, "a,b,c", 0, "x");
	csv_close(rd);

	rd = open_str("a,b,c;x\n", ';', NULL, &err);
	assert_int_equal(csv_delimiter(rd), ';');
	next_is(rd, 1, 2, 0, "a,b,c", 0, "x");
	csv_close(rd);

	/* anything else is refused at open */
	veil_err_clear(&err);
	assert_null(csv_open_mem("a|b\n", 4, "t.csv", '|', NULL, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	has(&err, "t.csv");
	has(&err, "delimiter");
	veil_err_clear(&err);
	assert_null(csv_open_mem("a b\n", 4, "t.csv", ' ', NULL, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	veil_err_clear(&err);
	assert_null(csv_open_mem("a\"b\n", 4, "t.csv", '"', NULL, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	veil_err_clear(&err);
	assert_null(csv_open_mem("a\nb\n", 4, "t.csv", '\n', NULL, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	/* err may be NULL */
	assert_null(csv_open_mem("a\n", 2, "t.csv", '|', NULL, NULL));
}

/* }====== */

/* {====== empty fields, blank lines, the last record */

static void
test_empty_fields(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("a,\"\",,\"\"\n"
	    ",\n"
	    "\"\"\n"
	    "x,\n"
	    "\"\",", 0, NULL, &err);
	next_is(rd, 1, 4, 0, "a", 1, "", 0, "", 1, "");
	next_is(rd, 2, 2, 0, "", 0, "");
	next_is(rd, 3, 1, 1, "");
	next_is(rd, 4, 2, 0, "x", 0, "");
	next_is(rd, 5, 2, 1, "", 0, "");	/* "", at the very end */
	at_end(rd);
	csv_close(rd);

	/* quoted and unquoted empties differ at the end of input too */
	rd = open_str("a,\"\"", 0, NULL, &err);
	next_is(rd, 1, 2, 0, "a", 1, "");
	at_end(rd);
	csv_close(rd);
	rd = open_str("a,", 0, NULL, &err);
	next_is(rd, 1, 2, 0, "a", 0, "");
	at_end(rd);
	csv_close(rd);
}

static void
test_blank_lines(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("\n\r\n\na,b\n\n\r\nc,d\n\n\r\n\n", 0, NULL, &err);
	next_is(rd, 4, 2, 0, "a", 0, "b");
	next_is(rd, 7, 2, 0, "c", 0, "d");
	at_end(rd);
	csv_close(rd);

	/* blank lines only: no record at all */
	rd = open_str("\n\n\r\n\n", 0, NULL, &err);
	at_end(rd);
	csv_close(rd);

	/* a line holding only a delimiter is not blank */
	rd = open_str("\n,\n", 0, NULL, &err);
	next_is(rd, 2, 2, 0, "", 0, "");
	at_end(rd);
	csv_close(rd);
}

static void
test_last_record(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	rd = open_str("h\nc,\"d\"", 0, NULL, &err);
	next_is(rd, 1, 1, 0, "h");
	next_is(rd, 2, 2, 0, "c", 1, "d");
	at_end(rd);
	csv_close(rd);

	rd = open_str("h\n\"multi\nline\"", 0, NULL, &err);
	next_is(rd, 1, 1, 0, "h");
	next_is(rd, 2, 1, 1, "multi\nline");
	at_end(rd);
	csv_close(rd);

	rd = open_str("only", 0, NULL, &err);
	next_is(rd, 1, 1, 0, "only");
	at_end(rd);
	assert_int_equal(csv_bytes(rd), 4);
	csv_close(rd);
}

/* NUL and other control bytes are data to the reader (ingest checks). */
static void
test_binary_bytes(void **state)
{
	static const char s[] = "a\0b,\"c\0\x01\"\n\x7f\xff,z\n";
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	size_t nf;

	(void)state;
	rd = csv_open_mem(s, sizeof(s) - 1, "t.csv", 0, NULL, &err);
	assert_non_null(rd);
	assert_int_equal(csv_next(rd, &f, &nf, &err), 1);
	assert_int_equal(nf, 2);
	assert_int_equal(f[0].len, 3);
	assert_memory_equal(f[0].p, "a\0b", 3);
	assert_int_equal(f[1].len, 3);
	assert_memory_equal(f[1].p, "c\0\x01", 3);
	assert_int_equal(csv_next(rd, &f, &nf, &err), 1);
	assert_int_equal(nf, 2);
	assert_int_equal(f[0].len, 2);
	assert_memory_equal(f[0].p, "\x7f\xff", 2);
	at_end(rd);
	csv_close(rd);
}

static void
test_empty_input(void **state)
{
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	size_t nf;
	pid_t pid;
	int fd;

	(void)state;
	veil_err_clear(&err);
	rd = csv_open_mem("", 0, "t.csv", 0, NULL, &err);
	assert_non_null(rd);
	assert_int_equal(csv_next(rd, &f, &nf, &err), 0);
	assert_null(f);
	assert_int_equal(nf, 0);
	assert_int_equal(csv_bytes(rd), 0);
	assert_int_equal(err.code, 0);
	csv_close(rd);

	/* an empty file and a pipe closed at once */
	fd = temp_fd("", 0);
	rd = csv_open_fd(fd, "t.csv", 0, NULL, &err);
	assert_non_null(rd);
	at_end(rd);
	csv_close(rd);
	close(fd);

	fd = dribble("", 0, 0, 0, &pid);
	rd = csv_open_fd(fd, "t.csv", 0, NULL, &err);
	assert_non_null(rd);
	at_end(rd);
	csv_close(rd);
	close(fd);
	reap(pid);
	csv_close(NULL);
}

/* }====== */

/* {====== errors */

static void
test_unclosed_quote(void **state)
{
	(void)state;
	expect_error("a,b\n1,\"never\nclosed\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:2: field 2:", "never closed", "\"\\\"never\\x0aclosed");
	/* the line is where the field opened, after a multi-line record */
	expect_error("h\n\"a\nb\"\n\n\"open\n\nstill\n", 0, NULL, 2,
	    VEIL_E_PARSE, "t.csv:5: field 1:", "never closed", "open");
	/* a lone quote at the very end */
	expect_error("a,\"", 0, NULL, 0, VEIL_E_PARSE, "t.csv:1: field 2:",
	    "never closed", NULL);
	/* an escaped quote at the end does not close the field */
	expect_error("\"abc\"\"", 0, NULL, 0, VEIL_E_PARSE, "t.csv:1: field 1:",
	    "never closed", "abc");
}

static void
test_after_closing_quote(void **state)
{
	(void)state;
	expect_error("a,b\nx,\"y\"z\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:2: field 2:", "after closing quote", "\"z\\x0a\"");
	expect_error("\"y\" ,b\n", 0, NULL, 0, VEIL_E_PARSE,
	    "t.csv:1: field 1:", "after closing quote", "\" ,b");
	/* the line counts the newlines inside the field */
	expect_error("\"a\nb\nc\"x\n", 0, NULL, 0, VEIL_E_PARSE,
	    "t.csv:3: field 1:", "after closing quote", "\"x");
	/* with ';' as delimiter, a ',' after a quote is wrong */
	expect_error("\"a\",b;c\n", ';', NULL, 0, VEIL_E_PARSE,
	    "t.csv:1: field 1:", "after closing quote", ",b;c");
}

static void
test_quote_in_unquoted(void **state)
{
	(void)state;
	expect_error("a,b\nx,ab\"c\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:2: field 2:", "quote inside an unquoted field",
	    "\"ab\\\"c\\x0a\"");
	expect_error("a,b\n\nx\"\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:3: field 1:", "quote inside an unquoted field", "x\\\"");
	/* a space before the opening quote makes it unquoted */
	expect_error(" \"a\"\n", 0, NULL, 0, VEIL_E_PARSE, "t.csv:1: field 1:",
	    "quote inside", NULL);
}

static void
test_bare_cr(void **state)
{
	(void)state;
	expect_error("a,b\nx,y\rz\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:2: field 2:", "carriage return not followed by a line feed",
	    "\"\\x0dz\\x0a\"");
	/* at the very end */
	expect_error("a,b\r", 0, NULL, 0, VEIL_E_PARSE, "t.csv:1: field 2:",
	    "carriage return", "\\x0d");
	/* after a closing quote */
	expect_error("h\n\"q\"\rx\n", 0, NULL, 1, VEIL_E_PARSE,
	    "t.csv:2: field 1:", "carriage return", "\\x0dx");
	/* on a blank line */
	expect_error("h\n\r\rx\n", 0, NULL, 1, VEIL_E_PARSE, "t.csv:2:",
	    "carriage return", NULL);
	/* old Mac line ends */
	expect_error("a\rb\rc\r", 0, NULL, 0, VEIL_E_PARSE, "t.csv:1:",
	    "carriage return", NULL);
}

static void
test_max_fields(void **state)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	char s[512];
	size_t i, o = 0;

	(void)state;
	csv_limits_default(&lim);
	lim.max_fields = 3;
	expect_error("a,b,c\n1,2,3,4\n", 0, &lim, 1, VEIL_E_LIMIT,
	    "t.csv:2: field 4:", "too many fields", "max_fields");
	expect_error("a,b,c,\n", 0, &lim, 0, VEIL_E_LIMIT, "t.csv:1: field 4:",
	    "too many fields", NULL);
	/* exactly max_fields, including empty ones, is fine */
	rd = open_str("a,b,c\n,,\n\"\",\"\",\"\"\n", 0, &lim, &err);
	next_is(rd, 1, 3, 0, "a", 0, "b", 0, "c");
	next_is(rd, 2, 3, 0, "", 0, "", 0, "");
	next_is(rd, 3, 3, 1, "", 1, "", 1, "");
	at_end(rd);
	csv_close(rd);

	/* one field only, and more than 64 (the first growth step) */
	lim.max_fields = 1;
	expect_error("a\nb,c\n", 0, &lim, 1, VEIL_E_LIMIT, "t.csv:2: field 2:",
	    "too many fields", NULL);
	lim.max_fields = 100;
	for (i = 0; i < 100; i++)
		o += (size_t)snprintf(s + o, sizeof(s) - o, "%s%zu",
		    i ? "," : "", i % 10);
	rd = open_str(s, 0, &lim, &err);
	assert_int_equal(read_to_error(rd, 0, &err), 1);
	csv_close(rd);
	snprintf(s + o, sizeof(s) - o, ",x\n");
	expect_error(s, 0, &lim, 0, VEIL_E_LIMIT, "t.csv:1: field 101:",
	    "too many fields", NULL);
}

static void
test_max_record(void **state)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	char *big;
	size_t n;
	int fd;

	(void)state;
	csv_limits_default(&lim);
	lim.max_record = 16;
	/* cut while the record is complete in the buffer */
	expect_error("short\nthis line is far longer than sixteen bytes\n", 0,
	    &lim, 1, VEIL_E_LIMIT, "t.csv:2:", "max_record", "this line is");
	/* a quoted record spanning lines reports its first line */
	expect_error("a\n\n\"0123456789\n0123456789\"\n", 0, &lim, 1,
	    VEIL_E_LIMIT, "t.csv:3:", "max_record", "0123456789");
	/* up to the limit is fine: 15 bytes and the newline */
	rd = open_str("0123456789abcde\n0123456789abcd\r\n", 0, &lim, &err);
	next_is(rd, 1, 1, 0, "0123456789abcde");
	next_is(rd, 2, 1, 0, "0123456789abcd");
	at_end(rd);
	csv_close(rd);

	/* a record longer than the whole buffer (max_record + 1 MiB) */
	n = CHUNK * 3;
	big = malloc(n + 1);
	assert_non_null(big);
	memcpy(big, "ok\n", 3);
	memset(big + 3, 'x', n - 4);
	big[n - 1] = '\n';
	big[n] = '\0';
	expect_error(big, 0, &lim, 1, VEIL_E_LIMIT, "t.csv:2:", "max_record",
	    "xxxxxxxx");
	/* the same quoted, from a file */
	big[3] = '"';
	big[n - 2] = '"';
	fd = temp_fd(big, n);
	veil_err_clear(&err);
	rd = csv_open_fd(fd, "f.csv", 0, &lim, &err);
	assert_non_null(rd);
	assert_int_equal(read_to_error(rd, VEIL_E_LIMIT, &err), 1);
	has(&err, "f.csv:2:");
	has(&err, "max_record");
	csv_close(rd);
	close(fd);
	free(big);
}

/*
 * A last record of exactly max_record bytes without a newline is within
 * the limit: the memory reader accepts it, and so must the descriptor
 * reader, which cannot know the record is complete until read(2) says
 * end of file.
 */
static void
test_max_record_exact_fd(void **state)
{
	static const char s[] = "abcd\n0123456789abcdef";	/* 16 bytes */
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	char out[512];
	int fd;

	(void)state;
	csv_limits_default(&lim);
	lim.max_record = 16;
	rd = csv_open_mem(s, sizeof(s) - 1, "t.csv", 0, &lim, &err);
	assert_non_null(rd);
	render(rd, out, sizeof(out));
	csv_close(rd);
	assert_string_equal(out, "1:[abcd]\n2:[0123456789abcdef]\n");

	fd = temp_fd(s, sizeof(s) - 1);
	rd = csv_open_fd(fd, "t.csv", 0, &lim, &err);
	assert_non_null(rd);
	render(rd, out, sizeof(out));
	csv_close(rd);
	close(fd);
	assert_string_equal(out, "1:[abcd]\n2:[0123456789abcdef]\n");
}

/*
 * The excerpt in a max_record error shows the record's own bytes, never
 * what lies in the buffer after them.
 */
static void
test_max_record_excerpt(void **state)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	char out[512];

	(void)state;
	csv_limits_default(&lim);
	lim.max_record = 4;
	rd = open_str("ab\nabcdefgh", 0, &lim, &err);
	render(rd, out, sizeof(out));
	csv_close(rd);
	assert_string_equal(out, "1:[ab]\nerror -6: t.csv:2: field 1: record "
	    "longer than max_record near \"abcdefgh\"");
}

/*
 * Runs in a child: an over-long record that ends exactly at the end of
 * the reader's buffer (max_record + 1 MiB), complete (at_eof) or cut.
 * Exits 0 if the error is right, 3 or 4 if not; under ASan a read past
 * the buffer makes it exit 1 with a report.
 */
static void
excerpt_child(int cut)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	size_t cap, fill, len, o;
	char *buf, *exp;
	size_t nf;
	int r;

	csv_limits_default(&lim);
	lim.max_record = 4;
	cap = lim.max_record + CHUNK;
	fill = cut ? cap - 4 : cap - 8;		/* even: "a\n" records */
	len = fill + 9;
	if ((buf = malloc(len)) == NULL)
		_exit(5);
	for (o = 0; o < fill; o += 2)
		memcpy(buf + o, "a\n", 2);
	memcpy(buf + fill, "abcdefgh\n", 9);
	if (!cut)
		len = fill + 8;		/* ends at cap, no newline */
	if ((rd = csv_open_mem(buf, len, "t.csv", 0, &lim, &err)) == NULL)
		_exit(5);
	while ((r = csv_next(rd, &f, &nf, &err)) == 1)
		;
	if (r != VEIL_E_LIMIT)
		_exit(4);
	/* Cut by the buffer or not, the whole record is read and shown. */
	exp = "record longer than max_record near \"abcdefgh\"";
	(void)cut;
	if (strstr(err.msg, exp) == NULL ||
	    strcmp(err.msg + strlen(err.msg) - strlen(exp), exp) != 0) {
		fprintf(stderr, "excerpt_child(%d): %s\n", cut, err.msg);
		_exit(3);
	}
	csv_close(rd);
	free(buf);
	_exit(0);
}

static void
test_max_record_excerpt_at_buffer_end(void **state)
{
	pid_t pid;
	int cut, st, bad = 0;

	(void)state;
	for (cut = 0; cut < 2; cut++) {
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			excerpt_child(cut);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			print_error("record at the buffer end (%s): child %s "
			    "%d\n", cut ? "cut" : "complete", WIFEXITED(st) ?
			    "exited" : "killed by signal", WIFEXITED(st) ?
			    WEXITSTATUS(st) : WTERMSIG(st));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_max_rows(void **state)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;

	(void)state;
	csv_limits_default(&lim);
	lim.max_rows = 3;	/* the header counts */
	rd = open_str("h\n1\n\n2\n", 0, &lim, &err);
	assert_int_equal(read_to_error(rd, 0, &err), 3);
	csv_close(rd);
	expect_error("h\n1\n\n2\n\n3\n4\n", 0, &lim, 3, VEIL_E_LIMIT,
	    "t.csv:6:", "more than 3 records", "max_rows");
	lim.max_rows = 1;
	expect_error("h\n1\n", 0, &lim, 1, VEIL_E_LIMIT, "t.csv:2:",
	    "more than 1 records", NULL);
}

static void
test_invalid_limits(void **state)
{
	static const struct {
		size_t		rec, fields;
		uint64_t	rows;
	} bad[] = {
		{ 0, 10, 10 },
		{ CSV_HARD_MAX_RECORD + 1, 10, 10 },
		{ SIZE_MAX, 10, 10 },
		{ 100, 0, 10 },
		{ 100, (1u << 20) + 1, 10 },
		{ 100, SIZE_MAX, 10 },
		{ 100, 10, 0 },
	};
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	size_t i;
	int fd;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		lim.max_record = bad[i].rec;
		lim.max_fields = bad[i].fields;
		lim.max_rows = bad[i].rows;
		veil_err_clear(&err);
		assert_null(csv_open_mem("a\n", 2, "t.csv", 0, &lim, &err));
		assert_int_equal(err.code, VEIL_E_INVALID);
		has(&err, "t.csv");
		has(&err, "limits");
		fd = temp_fd("a\n", 2);
		veil_err_clear(&err);
		assert_null(csv_open_fd(fd, "t.csv", 0, &lim, &err));
		assert_int_equal(err.code, VEIL_E_INVALID);
		close(fd);
	}
	/* the extremes themselves are allowed */
	lim.max_record = CSV_HARD_MAX_RECORD;
	lim.max_fields = 1u << 20;
	lim.max_rows = 1;
	rd = open_str("a\n", 0, &lim, &err);
	next_is(rd, 1, 1, 0, "a");
	csv_close(rd);
	lim.max_record = 1;
	lim.max_fields = 1;
	lim.max_rows = UINT64_MAX;
	rd = open_str("a", 0, &lim, &err);
	next_is(rd, 1, 1, 0, "a");
	csv_close(rd);
	/* the defaults */
	csv_limits_default(&lim);
	assert_int_equal(lim.max_record, CSV_DEFAULT_MAX_RECORD);
	assert_int_equal(lim.max_fields, CSV_DEFAULT_MAX_FIELDS);
	assert_int_equal(lim.max_rows, CSV_DEFAULT_MAX_ROWS);
}

static void
test_read_error(void **state)
{
	struct veil_err err;
	int fd;

	(void)state;
	fd = open("/", O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	veil_err_clear(&err);
	assert_null(csv_open_fd(fd, "dir.csv", 0, NULL, &err));
	assert_int_equal(err.code, VEIL_E_IO);
	has(&err, "dir.csv");
	has(&err, "read");
	close(fd);
}

/*
 * -1 is no descriptor: the reader must refuse it, not read it as an empty
 * memory buffer (with memcpy from NULL). In a child, since UBSan aborts.
 */
static void
test_bad_fd(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;
	pid_t pid;
	int st;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		veil_err_clear(&err);
		rd = csv_open_fd(-1, "bad.csv", 0, NULL, &err);
		if (rd != NULL) {
			fprintf(stderr, "csv_open_fd(-1) returned a reader\n");
			csv_close(rd);
			_exit(3);
		}
		_exit(err.code < 0 && strstr(err.msg, "bad.csv") != NULL ?
		    0 : 4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("csv_open_fd(-1): child %s %d", WIFEXITED(st) ?
		    "exited" : "killed by signal", WIFEXITED(st) ?
		    WEXITSTATUS(st) : WTERMSIG(st));
}

/* }====== */

/* {====== refills */

/*
 * The memory reader (like a file) fills the buffer, max_record + 1 MiB,
 * at once. Filler records bring a crafted record to each offset around
 * the end of that first fill, so that the cut falls on every byte of it:
 * inside "" escapes, before and after a closing quote, between CR and LF.
 */
static void
test_buffer_boundary(void **state)
{
	static const char rec[] =
	    "\"ab\"\"cd\",x\r\n\"e\"\"\",\"\",\"l1\r\nl2\"\r\n"
	    "\"\"\"\",;\n\r\n\"tail\"\"\"";
	struct csv_limits lim;
	struct csv_reader *rd;
	struct csv_field *f;
	struct veil_err err;
	size_t cap, shift, fill, nfull, rem, i, o, nf, len;
	char *buf;
	int pass, fd;

	(void)state;
	csv_limits_default(&lim);
	lim.max_record = 4096;
	cap = lim.max_record + CHUNK;
	len = sizeof(rec) - 1;
	buf = malloc(cap + len + 8);
	assert_non_null(buf);
	for (shift = 0; shift <= len + 1; shift++) {
		fill = cap - shift;
		nfull = (fill - 2) / 1000;
		rem = fill - nfull * 1000;
		for (i = 0, o = 0; i < nfull; i++, o += 1000) {
			memset(buf + o, 'x', 999);
			buf[o + 999] = '\n';
		}
		memset(buf + o, 'y', rem - 1);
		buf[o + rem - 1] = '\n';
		o += rem;
		assert_int_equal(o, fill);
		memcpy(buf + o, rec, len);
		for (pass = 0; pass < 2; pass++) {
			veil_err_clear(&err);
			fd = -1;
			if (pass == 0)
				rd = csv_open_mem(buf, fill + len, "t.csv", 0,
				    &lim, &err);
			else {
				fd = temp_fd(buf, fill + len);
				rd = csv_open_fd(fd, "t.csv", 0, &lim, &err);
			}
			assert_non_null(rd);
			for (i = 0; i < nfull; i++) {
				assert_int_equal(csv_next(rd, &f, &nf, &err),
				    1);
				assert_int_equal(nf, 1);
				assert_int_equal(f[0].len, 999);
			}
			assert_int_equal(csv_next(rd, &f, &nf, &err), 1);
			assert_int_equal(f[0].len, rem - 1);
			assert_int_equal(f[0].p[0], 'y');
			next_is(rd, nfull + 2, 2, 1, "ab\"cd", 0, "x");
			next_is(rd, nfull + 3, 3, 1, "e\"", 1, "", 1,
			    "l1\r\nl2");
			next_is(rd, nfull + 5, 2, 1, "\"", 0, ";");
			next_is(rd, nfull + 7, 1, 1, "tail\"");
			at_end(rd);
			assert_int_equal(csv_bytes(rd), fill + len);
			csv_close(rd);
			if (fd != -1)
				close(fd);
		}
	}
	free(buf);
}

/* {======= several MiB of generated records */

struct gen {
	char		*csv;		/* the encoded input */
	size_t		 len;
	size_t		 nrec;
	char		**fields;	/* nrec * GEN_NF expected texts */
	size_t		*flen;
	int		*fquoted;
	uint64_t	*lines;		/* first line of each record */
};

#define GEN_NF		4
#define GEN_TOTAL	(6u << 20)

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
gen_append(struct gen *g, size_t *cap, const char *p, size_t n)
{
	while (g->len + n > *cap) {
		*cap *= 2;
		g->csv = realloc(g->csv, *cap);
		assert_non_null(g->csv);
	}
	memcpy(g->csv + g->len, p, n);
	g->len += n;
}

/* An LF or a CRLF. */
static void
gen_eol(struct gen *g, size_t *cap, uint64_t *s)
{
	if (rnd(s) & 1)
		gen_append(g, cap, "\n", 1);
	else
		gen_append(g, cap, "\r\n", 2);
}

static void
gen_make(struct gen *g, uint64_t seed)
{
	static const char *const pieces[] = { "a", "b", "z", "0", ",", ";",
	    "\t", "\"", "\"\"", "\n", "\r\n", "\r", " ", "\xc3\xa9",
	    "\xe2\x82\xac" };
#define NPIECES	(sizeof(pieces) / sizeof(pieces[0]))
	size_t cap = 1 << 20, rcap = 1024, i, j, n, k, want;
	uint64_t s = seed, line = 1;
	char *t;
	int kind;

	memset(g, 0, sizeof(*g));
	g->csv = malloc(cap);
	assert_non_null(g->csv);
	while (g->len < GEN_TOTAL) {
		if (g->nrec == rcap || g->nrec == 0) {
			if (g->nrec == rcap)
				rcap *= 2;
			g->fields = realloc(g->fields, rcap * GEN_NF *
			    sizeof(char *));
			g->flen = realloc(g->flen, rcap * GEN_NF *
			    sizeof(size_t));
			g->fquoted = realloc(g->fquoted, rcap * GEN_NF *
			    sizeof(int));
			g->lines = realloc(g->lines, rcap * sizeof(uint64_t));
			assert_non_null(g->fields);
			assert_non_null(g->flen);
			assert_non_null(g->fquoted);
			assert_non_null(g->lines);
		}
		if (rnd(&s) % 5 == 0) {		/* a blank line */
			gen_eol(g, &cap, &s);
			line++;
		}
		g->lines[g->nrec] = line;
		for (j = 0; j < GEN_NF; j++) {
			k = g->nrec * GEN_NF + j;
			kind = (int)(rnd(&s) % 8);
			/* long, with every kind of byte */
			if (j == 1 || kind == 0)
				want = (size_t)(rnd(&s) % (j == 1 ? 200000 :
				    3000));
			else
				want = (size_t)(rnd(&s) % 20);
			t = malloc(want + 8);
			assert_non_null(t);
			n = 0;
			if (kind == 1 && j != 1)	/* unquoted */
				for (; n < want; n++)
					t[n] = (char)('a' + rnd(&s) % 26);
			else if (kind != 2 || j == 1)
				while (n < want) {
					const char *pc = pieces[rnd(&s) %
					    NPIECES];

					memcpy(t + n, pc, strlen(pc));
					n += strlen(pc);
				}
			g->fields[k] = t;
			g->flen[k] = n;
			g->fquoted[k] = !(kind == 1 && j != 1) &&
			    !(kind == 2 && j != 1 && rnd(&s) & 1);
			if (j > 0)
				gen_append(g, &cap, ",", 1);
			if (!g->fquoted[k]) {
				gen_append(g, &cap, t, n);
				continue;
			}
			gen_append(g, &cap, "\"", 1);
			for (i = 0; i < n; i++) {
				if (t[i] == '"')
					gen_append(g, &cap, "\"", 1);
				else if (t[i] == '\n')
					line++;
				gen_append(g, &cap, t + i, 1);
			}
			gen_append(g, &cap, "\"", 1);
		}
		g->nrec++;
		line++;
		/* the last record has no line end half of the time */
		if (g->len < GEN_TOTAL || seed & 1)
			gen_eol(g, &cap, &s);
	}
#undef NPIECES
}

static void
gen_free(struct gen *g)
{
	size_t i;

	for (i = 0; i < g->nrec * GEN_NF; i++)
		free(g->fields[i]);
	free(g->fields);
	free(g->flen);
	free(g->fquoted);
	free(g->lines);
	free(g->csv);
}

static void
gen_verify(struct gen *g, struct csv_reader *rd)
{
	struct csv_field *f;
	struct veil_err err;
	size_t r, j, k, nf;
	int ret;

	for (r = 0; r < g->nrec; r++) {
		veil_err_clear(&err);
		ret = csv_next(rd, &f, &nf, &err);
		if (ret != 1)
			fail_msg("record %zu: csv_next = %d (%s)", r, ret,
			    err.msg);
		assert_int_equal(nf, GEN_NF);
		if (csv_line(rd) != g->lines[r])
			fail_msg("record %zu: line %llu, expected %llu", r,
			    (unsigned long long)csv_line(rd),
			    (unsigned long long)g->lines[r]);
		for (j = 0; j < GEN_NF; j++) {
			k = r * GEN_NF + j;
			if (f[j].len != g->flen[k] || (f[j].len > 0 &&
			    memcmp(f[j].p, g->fields[k], f[j].len) != 0))
				fail_msg("record %zu field %zu differs (len "
				    "%zu, expected %zu)", r, j, f[j].len,
				    g->flen[k]);
			assert_int_equal(f[j].quoted, g->fquoted[k]);
		}
	}
	at_end(rd);
	assert_int_equal(csv_bytes(rd), g->len);
}

struct writer {
	int		 fd;
	const char	*p;
	size_t		 len;
};

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	size_t o = 0, n, step = 1;

	/* odd-sized writes, so reads end at ever-changing places */
	while (o < w->len) {
		n = step * 7919 % 100003 + 1;
		if (n > w->len - o)
			n = w->len - o;
		write_all(w->fd, w->p + o, n);
		o += n;
		step++;
	}
	close(w->fd);
	return NULL;
}

static void
test_big_mem_file_pipe(void **state)
{
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	struct writer w;
	struct gen g;
	pthread_t th;
	int fd, p[2];
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 2; seed++) {
		gen_make(&g, UINT64_C(0x9e3779b97f4a7c15) * seed);
		assert_true(g.len >= GEN_TOTAL);

		/* memory, default limits */
		veil_err_clear(&err);
		rd = csv_open_mem(g.csv, g.len, "t.csv", ',', NULL, &err);
		assert_non_null(rd);
		gen_verify(&g, rd);
		csv_close(rd);

		/* a file, with a smaller max_record: a 1.5 MiB buffer */
		csv_limits_default(&lim);
		lim.max_record = 512 << 10;
		fd = temp_fd(g.csv, g.len);
		rd = csv_open_fd(fd, "t.csv", ',', &lim, &err);
		assert_non_null(rd);
		gen_verify(&g, rd);
		csv_close(rd);
		close(fd);

		/* a pipe fed by a thread, delimiter detected */
		assert_int_equal(pipe(p), 0);
		w.fd = p[1];
		w.p = g.csv;
		w.len = g.len;
		assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
		rd = csv_open_fd(p[0], "t.csv", 0, NULL, &err);
		assert_non_null(rd);
		assert_int_equal(csv_delimiter(rd), ',');
		gen_verify(&g, rd);
		csv_close(rd);
		assert_int_equal(pthread_join(th, NULL), 0);
		close(p[0]);
		gen_free(&g);
	}
}

/* }======= */

static const char dribble_src[] =
    "id,\"na,me\",note\r\n"
    "\r\n"
    "1,\"a \"\"b\"\"\",\"multi\r\nline\"\n"
    "2,,\"\"\n"
    "\n"
    "3,\"x\ny\nz\",\"\"\"\"\r\n"
    "4,last,\"no newline\"";

static void
dribble_check(struct csv_reader *rd)
{
	next_is(rd, 1, 3, 0, "id", 1, "na,me", 0, "note");
	next_is(rd, 3, 3, 0, "1", 1, "a \"b\"", 1, "multi\r\nline");
	next_is(rd, 5, 3, 0, "2", 0, "", 1, "");
	next_is(rd, 7, 3, 0, "3", 1, "x\ny\nz", 1, "\"");
	next_is(rd, 10, 3, 0, "4", 0, "last", 1, "no newline");
	at_end(rd);
	assert_int_equal(csv_bytes(rd), sizeof(dribble_src) - 1);
}

/* A child writes one byte at a time into a pipe. */
static void
test_dribble_pipe(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;
	pid_t pid;
	int fd;

	(void)state;
	fd = dribble(dribble_src, sizeof(dribble_src) - 1, 0, 300, &pid);
	veil_err_clear(&err);
	rd = csv_open_fd(fd, "t.csv", ',', NULL, &err);
	assert_non_null(rd);
	dribble_check(rd);
	csv_close(rd);
	close(fd);
	reap(pid);
}

/* The same, where each read(2) is sure to return a single byte. */
static void
test_dribble_seqpacket(void **state)
{
	struct csv_reader *rd;
	struct veil_err err;
	pid_t pid;
	int fd;

	(void)state;
	fd = dribble(dribble_src, sizeof(dribble_src) - 1, 1, 0, &pid);
	veil_err_clear(&err);
	rd = csv_open_fd(fd, "t.csv", ',', NULL, &err);
	assert_non_null(rd);
	dribble_check(rd);
	csv_close(rd);
	close(fd);
	reap(pid);

	/* errors are still found and placed when input comes bytewise */
	fd = dribble("a,b\n\"x\ny\"z\n", 11, 1, 0, &pid);
	rd = csv_open_fd(fd, "t.csv", ',', NULL, &err);
	assert_non_null(rd);
	assert_int_equal(read_to_error(rd, VEIL_E_PARSE, &err), 1);
	has(&err, "t.csv:3: field 1:");
	has(&err, "after closing quote");
	csv_close(rd);
	drain(fd);
	close(fd);
	reap(pid);
}

/*
 * A BOM and the header's delimiter are found however the input arrives:
 * here the first read(2) returns one byte.
 */
static void
test_dribble_bom_detect(void **state)
{
	static const char src[] = "\xef\xbb\xbfname;age\nann;42\n";
	struct csv_reader *rd;
	struct veil_err err;
	char out[256];
	pid_t pid;
	int fd, delim;

	(void)state;
	fd = dribble(src, sizeof(src) - 1, 1, 0, &pid);
	veil_err_clear(&err);
	rd = csv_open_fd(fd, "t.csv", 0, NULL, &err);
	assert_non_null(rd);
	render(rd, out, sizeof(out));
	delim = csv_delimiter(rd);
	csv_close(rd);
	drain(fd);
	close(fd);
	reap(pid);
	assert_string_equal(out, "1:[name][age]\n2:[ann][42]\n");
	assert_int_equal(delim, ';');
}

/* }====== */

/* {====== spans read in place, and splitting */

/*
 * A span read in place gives what the streaming reader gives for the
 * same bytes, never writes them ("" is unescaped aside), and reads
 * nothing past them: each span is a heap block of its exact size, for
 * ASan to watch, and the lengths cross the 64-byte blocks' edges.
 */
static void
test_span(void **state)
{
	static const char *in[] = {
		"a,b\n1,2\n",
		"a,\"b\"\"c\",\"\"\"\"\nx,\"multi\nline \"\"q\"\"\",y\r\n",
		"\"one\"\"\",\"two\"\"\"\n\"\"\"three\",\"\"\n",
		"\n\nlast,no,newline",
		"a,\"never closed\n",
		"a,b\"c\n",
		"\"x\"y\n",
		"a\rb\n",
		"\"ab\"\"cd\",x\r\n\"e\"\"\",\"\",\"l1\r\nl2\"\r\n",
	};
	char ref[2048], out[2048], *span, *copy, pad[200];
	struct csv_limits lim;
	struct csv_reader *rd;
	struct veil_err err;
	size_t i, n, k;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		for (k = 0; k < 3; k++) {
			/* shift the record across a block edge */
			memset(pad, 'p', sizeof(pad));
			n = k == 0 ? 0 : k == 1 ? 61 : 127;
			pad[n] = '\n';
			n = n + 1 + strlen(in[i]);
			assert_non_null(span = malloc(n));
			memcpy(span, pad, n - strlen(in[i]));
			memcpy(span + n - strlen(in[i]), in[i], strlen(in[i]));
			assert_non_null(copy = malloc(n));
			memcpy(copy, span, n);
			rd = csv_open_mem(span, n, "t.csv", ',', NULL, &err);
			assert_non_null(rd);
			render(rd, ref, sizeof(ref));
			csv_close(rd);
			rd = csv_open_span(span, n, "t.csv", ',', NULL, &err);
			assert_non_null(rd);
			render(rd, out, sizeof(out));
			assert_int_equal(csv_bytes(rd), strstr(out, "error") ?
			    csv_bytes(rd) : n);
			csv_close(rd);
			assert_string_equal(out, ref);
			assert_memory_equal(span, copy, n);
			free(span);
			free(copy);
		}
	}
	/* the delimiter is given, and must be one */
	assert_null(csv_open_span("a\n", 2, "t.csv", 0, NULL, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
	/* limits are checked as for the other readers */
	csv_limits_default(&lim);
	lim.max_record = 0;
	veil_err_clear(&err);
	assert_null(csv_open_span("a\n", 2, "t.csv", ',', &lim, &err));
	assert_int_equal(err.code, VEIL_E_INVALID);
}

static void
test_count_quotes(void **state)
{
	char buf[5000];
	uint64_t want;
	size_t n, i, off;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i % 3 == 0 || i % 1000 < 300 ? '"' : 'x';
	for (off = 0; off < 3; off++)
		for (n = 0; n + off <= sizeof(buf); n += 97) {
			for (i = 0, want = 0; i < n; i++)
				want += buf[off + i] == '"';
			assert_int_equal(csv_count_quotes(buf + off, n), want);
		}
	/* more than 255 blocks of quotes: the byte counters must not wrap */
	memset(buf, '"', sizeof(buf));
	assert_int_equal(csv_count_quotes(buf, sizeof(buf)), sizeof(buf));
}

static void
test_boundary(void **state)
{
	static const char s[] = "a,\"x\ny\"\nb,c\n\"\"\"\n\"\nd\n";
	size_t n = sizeof(s) - 1;

	(void)state;
	/* from a record start: the line feed ending the first record */
	assert_int_equal(csv_boundary(s, n, 0, 0), 8);
	/* inside the quotes (odd): the same */
	assert_int_equal(csv_boundary(s, n, 3, 1), 8);
	assert_int_equal(csv_boundary(s, n, 8, 0), 12);
	/* a "" pair and a quoted line feed: the record ends after them */
	assert_int_equal(csv_boundary(s, n, 12, 0), 18);
	assert_int_equal(csv_boundary(s, n, 18, 0), n);
	assert_int_equal(csv_boundary(s, n, n, 0), n);
	/* the parity is believed: wrong, it finds a quoted line feed */
	assert_int_equal(csv_boundary(s, n, 0, 1), 5);
	/* no line feed outside quotes */
	assert_int_equal(csv_boundary("\"a\nb", 4, 0, 0), 4);
}

/* }====== */

/*
 * csv_guess_quoted on valid CSV of every kind of field, at every offset:
 * never wrong (its answer is the parity of the quotes since the record
 * began, where it moved from to), and often sure.
 */
static void
test_guess_quoted(void **state)
{
	static const char *const fields[] = { "plain", "", "\"\"",
	    "\"a,b\"", "\"say \"\"hi\"\"\"", "\"two\nlines\"",
	    "\"\"\"\"", "\"\"\"x\"\"\"", "\"x,\"\"y\"\"\"", "\",\"",
	    "\"\r\n\"", "12.5", "\"ends in \"\"\"\"\"", "caf\xc3\xa9" };
	static const char *const eols[] = { "\n", "\r\n" };
	char buf[4096];
	unsigned char odd[4096];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t n, i, at, k, f, sure = 0, total = 0;
	int g, q, trial;

	(void)state;
	for (trial = 0; trial < 300; trial++) {
		const char *eol = eols[trial % 2];

		for (n = 0, k = 0; n + 200 < sizeof(buf); k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			f = (size_t)(x % (sizeof(fields) / sizeof(fields[0])));
			if (k > 0 && k % 4 == 0) {	/* 4 fields a record */
				memcpy(buf + n, eol, strlen(eol));
				n += strlen(eol);
			} else if (k > 0)
				buf[n++] = ',';
			memcpy(buf + n, fields[f], strlen(fields[f]));
			n += strlen(fields[f]);
		}
		memcpy(buf + n, eol, strlen(eol));
		n += strlen(eol);
		/* the truth: quotes since the record began, odd or even */
		for (i = 0, q = 0; i < n; i++) {
			odd[i] = (unsigned char)q;
			if (buf[i] == '"')
				q = !q;
			else if (buf[i] == '\n' && !q)
				q = 0;
		}
		for (i = 1; i < n; i++) {
			at = i;
			g = csv_guess_quoted(buf, n, &at, ',');
			total++;
			if (g < 0)
				continue;
			sure++;
			if (at < i || (at > i && buf[at - 1] == '"') ||
			    g != odd[at])
				fail_msg("trial %d at %zu (moved to %zu): guess "
				    "%d, truth %d: [%.*s|%.20s]", trial, i, at, g,
				    odd[at], (int)(at < 20 ? at : 20),
				    buf + at - (at < 20 ? at : 20), buf + at);
		}
	}
	/* it is sure most of the time */
	if (sure * 10 < total * 9)
		fail_msg("sure at %zu of %zu offsets", sure, total);
	/* a quoted field longer than it looks: it cannot tell */
	memset(buf, 'a', sizeof(buf));
	buf[0] = '"';
	at = 100;
	assert_int_equal(csv_guess_quoted(buf, sizeof(buf), &at, ','), -1);
	at = 100;
	assert_int_equal(csv_guess_quoted(buf, 200, &at, ','), -1);
	/* past the end: outside */
	at = 200;
	assert_int_equal(csv_guess_quoted(buf, 200, &at, ','), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_embedded_newlines),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_explicit_delimiter),
		cmocka_unit_test(test_empty_fields),
		cmocka_unit_test(test_blank_lines),
		cmocka_unit_test(test_last_record),
		cmocka_unit_test(test_binary_bytes),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_unclosed_quote),
		cmocka_unit_test(test_after_closing_quote),
		cmocka_unit_test(test_quote_in_unquoted),
		cmocka_unit_test(test_bare_cr),
		cmocka_unit_test(test_max_fields),
		cmocka_unit_test(test_max_record),
		cmocka_unit_test(test_max_record_exact_fd),
		cmocka_unit_test(test_max_record_excerpt),
		cmocka_unit_test(test_max_record_excerpt_at_buffer_end),
		cmocka_unit_test(test_max_rows),
		cmocka_unit_test(test_invalid_limits),
		cmocka_unit_test(test_read_error),
		cmocka_unit_test(test_bad_fd),
		cmocka_unit_test(test_buffer_boundary),
		cmocka_unit_test(test_big_mem_file_pipe),
		cmocka_unit_test(test_dribble_pipe),
		cmocka_unit_test(test_dribble_seqpacket),
		cmocka_unit_test(test_dribble_bom_detect),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_count_quotes),
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_guess_quoted),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
