/*
 * scrub.c: the free-text scrubber (see scrub.h), used by the
 * de-identification pipeline on text columns marked `scrub`.
 *
 * One left-to-right pass. At each token boundary the matchers are tried in
 * order of precedence (e-mail, ID, phone, card, IPv4, IPv6); the first
 * that matches is a finding and the scan resumes after it. Each matcher
 * reads a bounded window, and the e-mail matcher runs only where a run of
 * local-part characters starts, so the pass is linear in the text. Every
 * read goes through ch(), which returns 0 outside the text: 0 is not a
 * letter, digit or separator, so the edges of the text are boundaries.
 */
#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "scrub.h"

#define LOCAL_MAX	64	/* RFC 5321 bounds */
#define LABEL_MAX	63
#define DOMAIN_MAX	253
#define RUN_MAX		128	/* longest local-part run looked at */
#define CARD_GROUPS	5

static const char *const tags[SCRUB_NKINDS] = {
	"[ID]", "[PHONE]", "[EMAIL]", "[CARD]", "[IP]"
};

/*
 * Province codes, the first two digits of a resident ID: bit d of
 * province[t] is set when the code "td" exists (11-15, 21-23, 31-37,
 * 41-46, 50-54, 61-65, 71, 81-83).
 */
static const unsigned short province[10] = {
	0, 0x3e, 0x0e, 0xfe, 0x7e, 0x1f, 0x3e, 0x02, 0x0e, 0
};

/* The byte at i, or 0 outside the text; i = start - 1 wraps to outside. */
static inline int
ch(const char *p, size_t n, size_t i)
{
	return i < n ? (unsigned char)p[i] : 0;
}

static inline int
isdig(int c)
{
	return c >= '0' && c <= '9';
}

static inline int
isalpha_ascii(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int
isword(int c)
{
	return isdig(c) || isalpha_ascii(c);
}

static inline int
ishex(int c)
{
	return isdig(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int
islocal(int c)
{
	return isword(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	    c == '-';
}

/* Digits from i, counting at most cap of them. */
static size_t
digits(const char *p, size_t n, size_t i, size_t cap)
{
	size_t k = 0;

	while (k < cap && isdig(ch(p, n, i + k)))
		k++;
	return k;
}

static size_t
hexdigits(const char *p, size_t n, size_t i, size_t cap)
{
	size_t k = 0;

	while (k < cap && ishex(ch(p, n, i + k)))
		k++;
	return k;
}

/* The value of the k digits at p (k <= 9). */
static unsigned int
num(const char *p, size_t k)
{
	unsigned int v = 0;

	while (k-- > 0)
		v = v * 10 + (unsigned int)(*p++ - '0');
	return v;
}

static int
date_ok(unsigned int y, unsigned int m, unsigned int d)
{
	static const unsigned char mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	if (m == 2 && d == 29)
		return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
	return 1;
}

static int
province_ok(const char *p)
{
	return (province[p[0] - '0'] >> (p[1] - '0')) & 1;
}

/* {====== resident IDs ====== */

/* 17 digits and a MOD 11-2 check character, born 1900-2099. */
static size_t
id18(const char *p, size_t n, size_t i)
{
	static const unsigned char w[17] = {
		7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
	};
	static const char check[] = "10X98765432";
	const char *d = p + i;
	unsigned int sum = 0, y;
	int c;
	size_t k;

	if (digits(p, n, i, 17) != 17)
		return 0;
	c = ch(p, n, i + 17);
	if (c == 'x')
		c = 'X';
	if ((!isdig(c) && c != 'X') || isword(ch(p, n, i + 18)))
		return 0;
	y = num(d + 6, 4);
	if (!province_ok(d) || y < 1900 || y > 2099 ||
	    !date_ok(y, num(d + 10, 2), num(d + 12, 2)))
		return 0;
	for (k = 0; k < 17; k++)
		sum += w[k] * (unsigned int)(d[k] - '0');
	return check[sum % 11] == c ? 18 : 0;
}

/* The first-generation form: region, YYMMDD (19YY), sequence. */
static size_t
id15(const char *p, size_t n, size_t i)
{
	const char *d = p + i;

	if (digits(p, n, i, 16) != 15 || isalpha_ascii(ch(p, n, i + 15)))
		return 0;
	if (!province_ok(d) || !date_ok(1900 + num(d + 6, 2), num(d + 8, 2),
	    num(d + 10, 2)))
		return 0;
	return 15;
}

/* }====== */

/* {====== mobile numbers ====== */

/* 1[3-9] and 9 digits at i, plain or 3-4-4 grouped, no prefix. */
static size_t
mobile(const char *p, size_t n, size_t i)
{
	size_t k;
	int s;

	if (ch(p, n, i) != '1' || ch(p, n, i + 1) < '3' ||
	    ch(p, n, i + 1) > '9')
		return 0;
	k = digits(p, n, i, 12);
	if (k == 11)
		return isalpha_ascii(ch(p, n, i + 11)) ? 0 : 11;
	if (k != 3)
		return 0;
	s = ch(p, n, i + 3);
	if ((s != ' ' && s != '-') || digits(p, n, i + 4, 5) != 4 ||
	    ch(p, n, i + 8) != s || digits(p, n, i + 9, 5) != 4 ||
	    isalpha_ascii(ch(p, n, i + 13)))
		return 0;
	return 13;
}

/* A mobile number, possibly after +86, 0086 or 86 and one separator. */
static size_t
phone(const char *p, size_t n, size_t i)
{
	size_t j, k;
	int s;

	if ((k = mobile(p, n, i)) != 0)
		return k;
	if (ch(p, n, i) == '+' && ch(p, n, i + 1) == '8' &&
	    ch(p, n, i + 2) == '6')
		j = i + 3;
	else if (ch(p, n, i) == '0' && ch(p, n, i + 1) == '0' &&
	    ch(p, n, i + 2) == '8' && ch(p, n, i + 3) == '6')
		j = i + 4;
	else if (ch(p, n, i) == '8' && ch(p, n, i + 1) == '6')
		j = i + 2;
	else
		return 0;
	s = ch(p, n, j);
	if (s == ' ' || s == '-')
		j++;
	if ((k = mobile(p, n, j)) == 0)
		return 0;
	return j + k - i;
}

/* }====== */

/* {====== bank cards ====== */

static int
luhn(const unsigned char *d, size_t len)
{
	unsigned int sum = 0, v;
	size_t k;

	for (k = 0; k < len; k++) {
		v = d[len - 1 - k];
		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/*
 * Issuer prefixes and the lengths they issue: the lengths in use, not all
 * that the schemes reserve (JCB and Discover 16 or 19, Diners 14 or 16),
 * so that 18-digit numbers (IDs with a wrong check character) are rarely
 * taken. UnionPay keeps 16 to 19: Chinese banks issue all four.
 */
static int
issuer_ok(const unsigned char *d, size_t len)
{
	unsigned int p2, p3, p4;

	p2 = d[0] * 10u + d[1];
	p3 = p2 * 10 + d[2];
	p4 = p3 * 10 + d[3];
	if (d[0] == 4)					/* Visa */
		return len == 13 || len == 16 || len == 19;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return len == 16;			/* Mastercard */
	if (p2 == 34 || p2 == 37)			/* Amex */
		return len == 15;
	if (p2 == 62)					/* UnionPay */
		return len >= 16;
	if (p4 >= 3528 && p4 <= 3589)			/* JCB */
		return len == 16 || len == 19;
	if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649))
		return len == 16 || len == 19;		/* Discover */
	if (p2 == 36 || p2 == 38 || p2 == 39 || (p3 >= 300 && p3 <= 305) ||
	    p3 == 309)					/* Diners */
		return len == 14 || len == 16;
	return 0;
}

static int
card_ok(const unsigned char *d, size_t len)
{
	return len >= 13 && len <= 19 && issuer_ok(d, len) && luhn(d, len);
}

/* Groups of 4, the last 1-4 (13-19 digits in all), or 4-6-5 / 4-6-4. */
static int
shape_ok(const size_t *g, int m, size_t total)
{
	int k;

	if (m == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4))
		return 1;
	if (m < 4 || total < 13 || total > 19 || g[m - 1] < 1 || g[m - 1] > 4)
		return 0;
	for (k = 0; k < m - 1; k++)
		if (g[k] != 4)
			return 0;
	return 1;
}

static size_t
card(const char *p, size_t n, size_t i)
{
	unsigned char d[19];
	size_t g[CARD_GROUPS], end[CARD_GROUPS], k, j, total, nd;
	int s, m, ng;

	k = digits(p, n, i, 20);
	if (k >= 13 && k <= 19) {
		if (isalpha_ascii(ch(p, n, i + k)))
			return 0;
		for (j = 0; j < k; j++)
			d[j] = (unsigned char)(p[i + j] - '0');
		return card_ok(d, k) ? k : 0;
	}
	s = ch(p, n, i + 4);
	if (k != 4 || (s != ' ' && s != '-'))
		return 0;
	g[0] = 4;
	end[0] = i + 4;
	for (ng = 1; ng < CARD_GROUPS; ng++) {
		j = end[ng - 1];
		if (ch(p, n, j) != s || (k = digits(p, n, j + 1, 7)) == 0 ||
		    k > 6)
			break;
		g[ng] = k;
		end[ng] = j + 1 + k;
	}
	/* More groups than any card has: a list of numbers. */
	if (ng == CARD_GROUPS && ch(p, n, end[ng - 1]) == s &&
	    isdig(ch(p, n, end[ng - 1] + 1)))
		return 0;
	/*
	 * The longest grouping that is a card, so that a year after it
	 * ("6216 6190 1640 2301 2020年") stays out. But a longer grouping
	 * that is card-shaped and fails only Luhn is a bad number, not a
	 * card and a stray group.
	 */
	for (m = ng; m >= 3; m--) {
		for (total = 0, k = 0; k < (size_t)m; k++)
			total += g[k];
		if (!shape_ok(g, m, total) ||
		    isalpha_ascii(ch(p, n, end[m - 1])))
			continue;
		for (nd = 0, j = i; j < end[m - 1]; j++)
			if (isdig(p[j]))
				d[nd++] = (unsigned char)(p[j] - '0');
		assert(nd == total);
		if (card_ok(d, nd))
			return end[m - 1] - i;
		if (issuer_ok(d, nd))
			return 0;
	}
	return 0;
}

/* }====== */

/* {====== IP addresses ====== */

static size_t
octet(const char *p, size_t n, size_t i)
{
	size_t k = digits(p, n, i, 4);

	if (k == 0 || k > 3 || (k > 1 && p[i] == '0') || num(p + i, k) > 255)
		return 0;
	return k;
}

/* a.b.c.d at i, with no look at what surrounds it. */
static size_t
quad(const char *p, size_t n, size_t i)
{
	size_t j = i, k;
	int o;

	for (o = 0; o < 4; o++) {
		if (o > 0 && ch(p, n, j++) != '.')
			return 0;
		if ((k = octet(p, n, j)) == 0)
			return 0;
		j += k;
	}
	return j - i;
}

/* Not part of a longer dotted number: 1.2.3.4.5 is a version. */
static size_t
ipv4(const char *p, size_t n, size_t i)
{
	size_t k, e;

	if (ch(p, n, i - 1) == '.' && isword(ch(p, n, i - 2)))
		return 0;
	if ((k = quad(p, n, i)) == 0)
		return 0;
	e = i + k;
	if (isword(ch(p, n, e)) || (ch(p, n, e) == '.' &&
	    isdig(ch(p, n, e + 1))))
		return 0;
	return k;
}

/*
 * Eight groups, or fewer around one "::", the last two may be a dotted
 * quad. At least one decimal digit, so that hex words ("add::") and times
 * (12:30:45, too few groups) are not taken.
 */
static size_t
ipv6(const char *p, size_t n, size_t i)
{
	size_t j = i, end = i, h, k, q;
	int groups = 0, dc = 0, digit = 0;

	if (ch(p, n, i - 1) == ':')
		return 0;
	if (ch(p, n, j) == ':') {
		if (ch(p, n, j + 1) != ':')
			return 0;
		dc = 1;
		j += 2;
		end = j;
	}
	for (;;) {
		if ((h = hexdigits(p, n, j, 5)) == 0)
			break;
		if (h > 4)
			return 0;
		if (ch(p, n, j + h) == '.' && (q = quad(p, n, j)) != 0) {
			groups += 2;
			digit = 1;
			end = j + q;
			break;
		}
		for (k = 0; k < h; k++)
			digit |= isdig(p[j + k]);
		groups++;
		j += h;
		end = j;
		if (groups > 8)
			return 0;
		if (ch(p, n, j) == ':' && ch(p, n, j + 1) == ':') {
			if (dc)
				return 0;
			dc = 1;
			j += 2;
			end = j;
		} else if (ch(p, n, j) == ':' && ishex(ch(p, n, j + 1)))
			j++;
		else
			break;
	}
	if (!digit || (dc ? groups > 7 : groups != 8))
		return 0;
	if (isword(ch(p, n, end)) || (ch(p, n, end) == '.' &&
	    isdig(ch(p, n, end + 1))))
		return 0;
	return end - i;
}

/* }====== */

/* {====== e-mail addresses ====== */

static int
tld_ok(const char *p, size_t len)
{
	size_t k;

	if (len < 2)
		return 0;
	for (k = 0; k < len; k++)
		if (!isalpha_ascii((unsigned char)p[k]))
			return 0;
	return 1;
}

/* A domain label at i: letters, digits and inner dashes. */
static size_t
label(const char *p, size_t n, size_t i)
{
	size_t k = 0;
	int c;

	while (k <= LABEL_MAX && (isword(c = ch(p, n, i + k)) || c == '-'))
		k++;
	if (k == 0 || k > LABEL_MAX || p[i] == '-' || p[i + k - 1] == '-')
		return 0;
	return k;
}

/*
 * i starts a run of local-part characters; leading punctuation is not
 * taken (the address starts at *startp). The domain ends at its last
 * label that can be a top-level domain (2+ letters).
 */
static size_t
email(const char *p, size_t n, size_t i, size_t *startp)
{
	size_t j, s, k, l, d, e = 0, labels = 0;
	int c;

	for (j = i; j - i < RUN_MAX && islocal(ch(p, n, j)); j++)
		;
	if (ch(p, n, j) != '@')
		return 0;
	for (s = i; s < j && !isword(c = ch(p, n, s)) && c != '_'; s++)
		;
	if (s == j || j - s > LOCAL_MAX || p[j - 1] == '.')
		return 0;
	for (k = s; k + 1 < j; k++)
		if (p[k] == '.' && p[k + 1] == '.')
			return 0;
	d = k = j + 1;
	while ((l = label(p, n, k)) != 0 && k + l - d <= DOMAIN_MAX) {
		if (++labels >= 2 && tld_ok(p + k, l))
			e = k + l;
		k += l;
		if (ch(p, n, k) != '.' || !isword(ch(p, n, k + 1)))
			break;
		k++;
	}
	if (e == 0)
		return 0;
	c = ch(p, n, e);
	if (isword(c) || c == '-' || c == '_' || c == '@')
		return 0;
	*startp = s;
	return e - s;
}

/* }====== */

/*
 * The first finding at or after from; 0 if there is none. An e-mail
 * address is looked for where a run of local-part characters starts (or
 * where the scan resumes), everything else only after a boundary.
 */
static int
next(const char *p, size_t n, size_t from, struct scrub_find *f)
{
	size_t i, len, start;
	int c, prev;

	for (i = from; i < n; i++) {
		if ((c = (unsigned char)p[i]) >= 0x80)
			continue;	/* findings are ASCII */
		prev = ch(p, n, i - 1);
		start = i;
		len = 0;
		if (islocal(c) && (!islocal(prev) || i == from) &&
		    (len = email(p, n, i, &start)) != 0) {
			f->kind = SCRUB_EMAIL;
			goto found;
		}
		if (isword(prev))
			continue;
		if (c == '+') {
			if ((len = phone(p, n, i)) != 0) {
				f->kind = SCRUB_PHONE;
				goto found;
			}
			continue;
		}
		if (isdig(c)) {
			if ((len = id18(p, n, i)) != 0 ||
			    (len = id15(p, n, i)) != 0)
				f->kind = SCRUB_ID;
			else if ((len = phone(p, n, i)) != 0)
				f->kind = SCRUB_PHONE;
			else if ((len = card(p, n, i)) != 0)
				f->kind = SCRUB_CARD;
			else if ((len = ipv4(p, n, i)) != 0)
				f->kind = SCRUB_IP;
			if (len != 0)
				goto found;
		}
		if ((ishex(c) || c == ':') && (len = ipv6(p, n, i)) != 0) {
			f->kind = SCRUB_IP;
			goto found;
		}
	}
	return 0;
 found:
	assert(len > 0 && start >= from && start + len <= n);
	f->start = start;
	f->len = len;
	return 1;
}

int
scrub_find(const char *p, size_t n, struct scrub_find *out, int max)
{
	struct scrub_find f;
	size_t from = 0;
	int k = 0;

	assert(p != NULL || n == 0);
	while (next(p, n, from, &f)) {
		if (k >= max)
			return -1;
		out[k++] = f;
		from = f.start + f.len;
	}
	return k;
}

/* Appends len bytes, keeping room for the NUL. */
static int
put(char *out, size_t outlen, size_t *o, const char *s, size_t len)
{
	assert(*o < outlen);
	if (len == 0)
		return 0;
	if (len >= outlen - *o)
		return -1;
	memcpy(out + *o, s, len);
	*o += len;
	return 0;
}

long
scrub_text(const char *p, size_t n, char *out, size_t outlen,
    uint64_t *counts)
{
	uint64_t c[SCRUB_NKINDS] = { 0 };
	struct scrub_find f;
	size_t from = 0, o = 0;
	const char *tag;
	long r = -1;
	int k;

	assert(p != NULL || n == 0);
	if (outlen == 0)
		return -1;
	if (n == 0) {
		out[0] = '\0';
		return 0;
	}
	while (next(p, n, from, &f)) {
		tag = tags[f.kind];
		if (put(out, outlen, &o, p + from, f.start - from) == -1 ||
		    put(out, outlen, &o, tag, strlen(tag)) == -1)
			goto out;
		c[f.kind]++;
		from = f.start + f.len;
	}
	if (put(out, outlen, &o, p + from, n - from) == -1 || o > LONG_MAX)
		goto out;
	out[o] = '\0';
	if (counts != NULL)
		for (k = 0; k < SCRUB_NKINDS; k++)
			counts[k] += c[k];
	r = (long)o;
 out:
	if (r == -1)
		out[0] = '\0';
	return r;
}

/*
 * The shortest findings ("::1", "a@b.cc") are one byte shorter than
 * their tags; all others are longer. So n + n / 3 + 1 bytes always do.
 */
size_t
scrub_bound(size_t n)
{
	if (n > (SIZE_MAX - 16) / 2)
		return SIZE_MAX;
	return 2 * n + 16;
}

const char *
scrub_tag(enum scrub_kind kind)
{
	if ((unsigned int)kind >= SCRUB_NKINDS)
		return "[?]";
	return tags[kind];
}
