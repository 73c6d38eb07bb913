/*
 * test_scrub.c: the free-text scrubber. Each pattern is found with its
 * separators, prefixes and Chinese text around it, and its look-alikes are
 * left alone; outputs stay within their bounds. Then a labelled corpus of
 * generated notes (seeded, so every run sees the same 20,000 notes, mixed
 * Chinese and English, with true findings of every kind at known places
 * and tricky negatives: order numbers, timestamps, prices, wrong prefixes,
 * wrong check digits, versions, times) must give recall >= 0.99 and
 * precision >= 0.97, the project's goals. Throughput is printed only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scrub.h"
#include "utf8.h"

#define NOTES		20000
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* {====== hand-written cases ====== */

/* Scrubs s and compares the result with want. */
static void
expect(const char *s, const char *want)
{
	size_t n = strlen(s), cap = scrub_bound(n);
	char *out = malloc(cap);
	long r;

	assert_non_null(out);
	r = scrub_text(s, n, out, cap, NULL);
	if (r < 0 || strcmp(out, want) != 0)
		fail_msg("\"%s\": got \"%s\" (%ld), want \"%s\"", s, out, r,
		    want);
	assert_int_equal(r, (long)strlen(want));
	free(out);
}

/* Nothing to find in s. */
static void
none(const char *s)
{
	expect(s, s);
}

static void
test_id(void **state)
{
	(void)state;
	expect("11010519491231002X", "[ID]");
	expect("身份证号11010519491231002x，已核验", "身份证号[ID]，已核验");
	expect("ID 510122198802293010 verified", "ID [ID] verified");
	expect("证件号：110105200002291235。", "证件号：[ID]。");	/* leap */
	expect("旧身份证110105491231002", "旧身份证[ID]");
	expect("(320106197001010017)", "([ID])");
	/* An ID wins over a card: Luhn-valid and UnionPay's 62. */
	expect("620102198506151202", "[ID]");
	/* and over Amex: 15 digits, 37, Luhn-valid, a real YYMMDD. */
	expect("370102850615101", "[ID]");

	none("110105194912310021");		/* wrong check digit */
	none("11010519491231002Y");
	none("110105194902300025");		/* 30 February */
	none("110105180001010013");		/* born 1800 */
	none("000105194912310021");		/* no such province */
	none("110105491331002");		/* month 13 */
	none("A11010519491231002X");
	none("11010519491231002XA");
	none("1101051949123100211");		/* 19 digits */
	none("订单号 202311150012345678");
}

static void
test_phone(void **state)
{
	(void)state;
	expect("请拨打13812345678联系", "请拨打[PHONE]联系");
	expect("138 1234 5678", "[PHONE]");
	expect("Tel: 138-1234-5678.", "Tel: [PHONE].");
	expect("+8613812345678", "[PHONE]");
	expect("+86 13812345678", "[PHONE]");
	expect("+86-138-1234-5678", "[PHONE]");
	expect("+86 199 8765 4321", "[PHONE]");
	expect("0086 13812345678", "[PHONE]");
	expect("008613812345678", "[PHONE]");
	expect("86-13812345678", "[PHONE]");
	expect("手机(15912345678)", "手机([PHONE])");
	expect("a:13812345678,b:17712345678", "a:[PHONE],b:[PHONE]");

	none("12345678901");			/* no such prefix */
	none("10086");
	none("138123456789");			/* 12 digits */
	none("abc13812345678");
	none("13812345678abc");
	none("138-1234 5678");			/* mixed separators */
	none("138 1234 56789");
	expect("138 1234 5678 2020年", "[PHONE] 2020年");
	none("010-12345678");			/* a landline */
}

static void
test_email(void **state)
{
	(void)state;
	expect("john.doe@example.com", "[EMAIL]");
	expect("Send to zhang_san+lab@hospital.org.cn.", "Send to [EMAIL].");
	expect("邮箱12345678@qq.com已发送", "邮箱[EMAIL]已发送");
	expect("<Wei.Li@pku.edu.cn>", "<[EMAIL]>");
	expect("13812345678@qq.com", "[EMAIL]");	/* not a phone */
	expect("--a%b@x-y.io", "--[EMAIL]");

	none("john@localhost");
	none("john@x.c");
	none("a..b@x.com");
	none("john.@x.com");
	none("@x.com");
	none("john@-x.com");
	none("john@x.com123");
	none("邮箱 john@");
}

static void
test_card(void **state)
{
	(void)state;
	expect("卡号6222021111111111112，", "卡号[CARD]，");
	expect("Paid by card 4111 1111 1111 1111.", "Paid by card [CARD].");
	expect("4111-1111-1111-1111", "[CARD]");
	expect("6222 0211 1111 1111 112", "[CARD]");	/* 4-4-4-4-3 */
	expect("3782 822463 10005", "[CARD]");		/* 4-6-5 */
	expect("378282246310005", "[CARD]");
	expect("5555555555554444", "[CARD]");
	expect("2223000048400011", "[CARD]");
	expect("6011111111111117", "[CARD]");
	expect("3530111333300000", "[CARD]");
	expect("30569309025904", "[CARD]");
	expect("4111111111119", "[CARD]");
	/* UnionPay issues 16 to 19 digits; only an ID takes precedence. */
	expect("621111111111111112 ", "[CARD] ");
	expect("6222 0211 1111 1113，2笔", "[CARD]，2笔");
	expect("6222 0211 1111 1113 2020年", "[CARD] 2020年");
	expect("4111 1111 1111 1111 12:30", "[CARD] 12:30");

	none("4111111111111112");		/* Luhn */
	none("4111 1111 1111 1112");
	none("9111111111111110");		/* Luhn, no issuer */
	none("2023111111111112");		/* Luhn, a date, no issuer */
	none("51111111111111180");		/* Mastercard is 16 */
	none("41111111111111111111");		/* 20 digits */
	none("4111 1111 1111");
	/* A card-shaped number that fails Luhn is not a shorter card. */
	none("6222 0211 1111 1113 2笔");
	none("4111 1111 1111 1111 1111 1111");
	none("4111 111111 11111");
	none("20240105123045");
}

static void
test_ipv4(void **state)
{
	(void)state;
	expect("192.168.1.1", "[IP]");
	expect("报告由终端 10.0.0.255 上传", "报告由终端 [IP] 上传");
	expect("IP:8.8.8.8。", "IP:[IP]。");
	expect("from 58.61.1.254:8080.", "from [IP]:8080.");
	expect("0.0.0.0", "[IP]");

	none("1.2.3.4.5");
	none("version 10.0.19045.3693");
	none("256.1.1.1");
	none("01.2.3.4");
	none("v1.2.3.4");
	none("1.2.3");
	none("1.2.3.4a");
	none("¥1,234.56");
}

static void
test_ipv6(void **state)
{
	(void)state;
	expect("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP]");
	expect("2001:db8::8a2e:370:7334", "[IP]");
	expect("登录地址fe80::1，", "登录地址[IP]，");
	expect("::1", "[IP]");
	expect("::ffff:192.168.1.10", "[IP]");
	expect("[2001:db8::1]:8080", "[[IP]]:8080");
	expect("FE80::1FF:FE23:4567:890A", "[IP]");
	expect("fe80::", "[IP]");
	expect("fe80::1%eth0", "[IP]%eth0");

	none("12:30:45");
	none("2024-01-05 12:30:45");
	none("00:1A:2B:3C:4D:5E");		/* a MAC address */
	none("1:2:3:4:5:6:7:8:9");
	none("2001:db8::1::2");
	none("add::");				/* no decimal digit */
	none("12345::1");
	none("::");
	none("Note:: see below");
}

static void
test_mixed(void **state)
{
	(void)state;
	expect("患者张三，电话138-1234-5678，邮箱zs@qq.com，身份证"
	    "11010519491231002X，卡号6222021111111111112，IP 10.1.2.3。",
	    "患者张三，电话[PHONE]，邮箱[EMAIL]，身份证[ID]，卡号[CARD]，"
	    "IP [IP]。");
	expect("13812345678\n13912345678", "[PHONE]\n[PHONE]");
	none("");
	none("无药物过敏史");
	none("血压145/90mmHg，体温38.5℃，复诊2024-01-05 08:15");
}

static void
test_limits(void **state)
{
	const char *s = "a 13812345678 b 11010519491231002X c x@y.cn";
	const char *want = "a [PHONE] b [ID] c [EMAIL]";
	struct scrub_find f[3];
	uint64_t counts[SCRUB_NKINDS] = { 0 };
	size_t n = strlen(s), need = strlen(want) + 1;
	char out[64];

	(void)state;
	assert_int_equal(scrub_find(s, n, f, 3), 3);
	assert_int_equal(f[0].start, 2);
	assert_int_equal(f[0].len, 11);
	assert_int_equal(f[0].kind, SCRUB_PHONE);
	assert_int_equal(f[1].kind, SCRUB_ID);
	assert_int_equal(f[2].start, n - 6);
	assert_int_equal(scrub_find(s, n, f, 2), -1);
	assert_int_equal(scrub_find(s, n, NULL, 0), -1);
	assert_int_equal(scrub_find("none", 4, NULL, 0), 0);
	assert_int_equal(scrub_find(NULL, 0, NULL, 0), 0);

	memset(out, 'Z', sizeof(out));
	assert_int_equal(scrub_text(s, n, out, need - 1, counts), -1);
	assert_string_equal(out, "");
	assert_int_equal(counts[SCRUB_PHONE], 0);
	assert_int_equal(scrub_text(s, n, out, 0, counts), -1);
	assert_int_equal(scrub_text(s, n, out, need, counts),
	    (long)need - 1);
	assert_string_equal(out, want);
	assert_int_equal(scrub_text(s, n, out, need, counts),
	    (long)need - 1);
	assert_int_equal(counts[SCRUB_PHONE], 2);
	assert_int_equal(counts[SCRUB_ID], 2);
	assert_int_equal(counts[SCRUB_EMAIL], 2);
	assert_int_equal(counts[SCRUB_CARD], 0);
	assert_int_equal(scrub_text(s, n, out, need, NULL), (long)need - 1);
	assert_int_equal(scrub_text(NULL, 0, out, 1, NULL), 0);
	assert_string_equal(out, "");
	/* The text is not NUL-terminated: only n bytes are read. */
	assert_int_equal(scrub_find("13812345678", 10, f, 3), 0);

	assert_string_equal(scrub_tag(SCRUB_ID), "[ID]");
	assert_string_equal(scrub_tag(SCRUB_PHONE), "[PHONE]");
	assert_string_equal(scrub_tag(SCRUB_EMAIL), "[EMAIL]");
	assert_string_equal(scrub_tag(SCRUB_CARD), "[CARD]");
	assert_string_equal(scrub_tag(SCRUB_IP), "[IP]");
	assert_string_equal(scrub_tag((enum scrub_kind)7), "[?]");
	assert_int_equal(scrub_bound(SIZE_MAX), SIZE_MAX);
}

/* The findings that grow the most, packed: the bound must hold. */
static void
test_bound(void **state)
{
	static const char *const unit[] = { "::1 ", "a@b.cc ", "::1", "1::" };
	char in[1024], *out;
	size_t i, n, k, len;
	long r;

	(void)state;
	for (i = 0; i < NELEM(unit); i++) {
		len = strlen(unit[i]);
		for (n = 0; n + len <= sizeof(in); n += len)
			memcpy(in + n, unit[i], len);
		for (k = 0; k <= n; k++) {
			assert_non_null(out = malloc(scrub_bound(k)));
			r = scrub_text(in, k, out, scrub_bound(k), NULL);
			assert_true(r >= 0 && (size_t)r <= k + k / 3 + 1);
			free(out);
		}
	}
}

/*
 * Inputs built to make a scanner backtrack: every one must scrub in time
 * linear in its size. Timings are printed, not asserted; the fuzzer
 * watches for slow inputs too.
 */
static void
test_adversarial(void **state)
{
	static const char *const unit[] = { "a", "1", "1.", "a.", "a@", "@a.",
	    "1:", "a:", "::1", "+86", "6222 ", "1-", "x.y.z@", "12:30:45 ",
	    "a@b.cc ", "请" };
	size_t n = 1 << 20, i, k, len, cap = scrub_bound(n);
	char *in = malloc(n), *out = malloc(cap);
	double t, worst = 0;
	const char *slow = "";
	long r;

	(void)state;
	assert_non_null(in);
	assert_non_null(out);
	for (i = 0; i < NELEM(unit); i++) {
		len = strlen(unit[i]);
		for (k = 0; k < n; k++)
			in[k] = unit[i][k % len];
		t = now();
		r = scrub_text(in, n, out, cap, NULL);
		t = now() - t;
		assert_true(r >= 0);
		if (t > worst) {
			worst = t;
			slow = unit[i];
		}
	}
	print_message("adversarial: slowest \"%s\" repeated, %.1f MB/s\n",
	    slow, n / worst / 1e6);
	free(in);
	free(out);
}

/* }====== */

/* {====== the labelled corpus ====== */

struct corpus {
	char			*text;
	size_t			 len, cap;
	struct scrub_find	*truth;
	size_t			 ntruth, tcap;
	size_t			 ends[NOTES];	/* where each note ends */
	size_t			 negatives;
};

static struct corpus corpus;
static uint64_t rng;

/* splitmix64: small, and the same everywhere. */
static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int
below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static const char *
pick(const char *const *v, size_t n)
{
	return v[below((unsigned int)n)];
}
#define PICK(v)	pick((v), NELEM(v))

static char *
put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* v in decimal, zero-padded to width (0: no padding). */
static char *
put_uint(char *p, unsigned long v, int width)
{
	char t[24];
	int k = 0;

	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 || k < width);
	while (k > 0)
		*p++ = t[--k];
	return p;
}

static char *
put_digits(char *p, int k)
{
	while (k-- > 0)
		*p++ = (char)('0' + below(10));
	return p;
}

static void
cat(struct corpus *c, const char *s, size_t n)
{
	if (c->len + n > c->cap) {
		c->cap = (c->len + n) * 2;
		assert_non_null(c->text = realloc(c->text, c->cap));
	}
	memcpy(c->text + c->len, s, n);
	c->len += n;
}

static void
cats(struct corpus *c, const char *s)
{
	cat(c, s, strlen(s));
}

static void
plant(struct corpus *c, enum scrub_kind kind, const char *s)
{
	if (c->ntruth == c->tcap) {
		c->tcap = c->tcap ? c->tcap * 2 : 1024;
		assert_non_null(c->truth = realloc(c->truth,
		    c->tcap * sizeof(*c->truth)));
	}
	c->truth[c->ntruth].start = c->len;
	c->truth[c->ntruth].len = strlen(s);
	c->truth[c->ntruth].kind = kind;
	c->ntruth++;
	cats(c, s);
}

static int
mdays(int y, int m)
{
	static const int d[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return d[m - 1];
}

static const char *const regions[] = {
	"110105", "110108", "310104", "310115", "440304", "440106", "510107",
	"320106", "330106", "420111", "370102", "350203", "610113", "620102",
	"500103", "210202", "130104", "410105", "430104", "450103", "530102",
	"650102", "120101", "220102", "230103", "340104", "360102", "460105",
	"520102", "540102", "630102", "640104", "150102", "810000", "820000"
};

static char *
put_date(char *p, int y0, int years, int yw)
{
	int y = y0 + (int)below((unsigned int)years), m = 1 + (int)below(12);

	p = put_uint(p, (unsigned long)(yw == 4 ? y : y % 100), yw);
	p = put_uint(p, (unsigned long)m, 2);
	return put_uint(p, 1 + below((unsigned int)mdays(y, m)), 2);
}

/* An 18-character ID; bad gives it a wrong check character. */
static void
gen_id18(char *b, int bad)
{
	static const int w[17] = {
		7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
	};
	static const char check[] = "10X98765432";
	char *p = put_str(b, PICK(regions)), c;
	int k, sum = 0;

	p = put_date(p, 1930, 86, 4);
	p = put_digits(p, 3);
	for (k = 0; k < 17; k++)
		sum += w[k] * (b[k] - '0');
	c = check[sum % 11];
	if (bad)
		c = check[(sum + 1 + below(10)) % 11];
	if (c == 'X' && below(4) == 0)
		c = 'x';
	*p++ = c;
	*p = '\0';
}

static void
gen_id15(char *b)
{
	char *p = put_str(b, PICK(regions));

	p = put_date(p, 1930, 70, 2);
	p = put_digits(p, 3);
	*p = '\0';
}

static const char *const mobile_pfx[] = {
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
	"150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
	"170", "176", "177", "178", "180", "181", "182", "183", "185", "186",
	"187", "188", "189", "191", "198", "199"
};

static char *
put_grouped(char *p, const char *d, const int *g, int ng, char sep)
{
	int k;

	for (k = 0; k < ng; k++) {
		if (k > 0)
			*p++ = sep;
		memcpy(p, d, (size_t)g[k]);
		p += g[k];
		d += g[k];
	}
	return p;
}

static void
gen_phone(char *b)
{
	static const int g344[3] = { 3, 4, 4 };
	static const char *const pfx[] = { "+86", "+86 ", "+86-", "0086 ",
	    "0086", "86-", "86 " };
	char ph[12], *p = b;
	unsigned int style = below(100);

	put_digits(put_str(ph, PICK(mobile_pfx)), 8);
	if (style >= 70)
		p = put_str(p, PICK(pfx));
	if (style % 10 < 6) {
		memcpy(p, ph, 11);
		p += 11;
	} else
		p = put_grouped(p, ph, g344, 3, style % 10 < 8 ? '-' : ' ');
	*p = '\0';
}

/* Eleven digits from 10, 11 or 12: not a mobile number. */
static void
gen_badphone(char *b)
{
	char *p = b;

	*p++ = '1';
	*p++ = (char)('0' + below(3));
	p = put_digits(p, 9);
	*p = '\0';
}

static const char *const syll[] = {
	"zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu",
	"zhou", "xu", "sun", "ma", "zhu", "hu", "guo", "he", "lin", "luo",
	"gao", "wei", "min", "jie", "hua", "ying", "ming", "xiao", "lei",
	"fang", "ting", "john", "mary", "dr", "lab"
};

static const char *const domains[] = {
	"qq.com", "163.com", "126.com", "sina.com", "gmail.com",
	"outlook.com", "hospital.org.cn", "pku.edu.cn", "mail.example.com.cn",
	"example.io", "foxmail.com", "yahoo.co.jp", "ruijin-hosp.cn"
};

static void
gen_email(char *b)
{
	unsigned int style = below(100);
	char *p = b;

	if (style < 25) {
		p = put_uint(p, 10000 + below(2000000000), 0);
		p = put_str(put_str(p, "@"), "qq.com");
		*p = '\0';
		return;
	}
	p = put_str(p, PICK(syll));
	if (style < 60)
		*p++ = ".__"[below(3)];
	if (style < 75)
		p = put_str(p, PICK(syll));
	if (style % 3 == 0)
		p = put_uint(p, below(10000), 0);
	if (style % 17 == 0)
		p = put_str(p, "+notes");
	if (style % 5 == 0)
		*b = (char)(*b - 'a' + 'A');
	*p++ = '@';
	p = put_str(p, PICK(domains));
	*p = '\0';
}

struct issuer {
	const char	*pfx;
	int		 len;
};

static const struct issuer issuers[] = {
	{ "622202", 19 }, { "621700", 19 }, { "622848", 19 }, { "623058", 19 },
	{ "621226", 19 }, { "621661", 16 }, { "622588", 16 }, { "622700", 16 },
	{ "625", 16 }, { "4", 16 }, { "4", 16 }, { "4", 13 }, { "51", 16 },
	{ "53", 16 }, { "55", 16 }, { "2221", 16 }, { "2720", 16 },
	{ "34", 15 }, { "37", 15 }, { "3528", 16 }, { "3566", 16 },
	{ "6011", 16 }, { "65", 16 }, { "36", 14 }, { "301", 14 },
	{ "622260", 17 }
};

/* A card number with a real issuer prefix; bad breaks its Luhn digit. */
static void
gen_card(char *b, int bad)
{
	static const int g16[4] = { 4, 4, 4, 4 }, g19[5] = { 4, 4, 4, 4, 3 },
	    g15[3] = { 4, 6, 5 }, g14[3] = { 4, 6, 4 };
	const struct issuer *is = &issuers[below(NELEM(issuers))];
	char d[20], *p;
	int len = is->len, k, v, sum = 0, style = (int)below(100);

	p = put_str(d, is->pfx);
	p = put_digits(p, len - 1 - (int)strlen(is->pfx));
	for (k = len - 2; k >= 0; k--) {
		v = d[k] - '0';
		if ((len - 2 - k) % 2 == 0 && (v *= 2) > 9)
			v -= 9;
		sum += v;
	}
	v = (10 - sum % 10) % 10;
	if (bad)
		v = (v + 1 + (int)below(9)) % 10;
	d[len - 1] = (char)('0' + v);
	p = b;
	if (style < 45) {
		memcpy(p, d, (size_t)len);
		p += len;
	} else {
		char sep = style < 85 ? ' ' : '-';

		if (len == 16)
			p = put_grouped(p, d, g16, 4, sep);
		else if (len == 19)
			p = put_grouped(p, d, g19, 5, sep);
		else if (len == 15)
			p = put_grouped(p, d, g15, 3, sep);
		else if (len == 14)
			p = put_grouped(p, d, g14, 3, sep);
		else {
			memcpy(p, d, (size_t)len);
			p += len;
		}
	}
	*p = '\0';
}

static char *
put_quad(char *p)
{
	static const unsigned int first[] = { 58, 61, 106, 112, 117, 119, 120,
	    183, 202, 211, 218, 220, 223, 8, 1 };
	unsigned int k = below(100);

	if (k < 35)
		p = put_str(p, "192.168.");
	else if (k < 55)
		p = put_uint(put_str(p, "10."), below(256), 0);
	else if (k < 60)
		p = put_uint(put_str(p, "172."), 16 + below(16), 0);
	else {
		p = put_uint(p, first[below(NELEM(first))], 0);
		p = put_uint(put_str(p, "."), below(256), 0);
	}
	if (k >= 35)
		*p++ = '.';
	p = put_uint(p, below(256), 0);
	*p++ = '.';
	return put_uint(p, below(256), 0);
}

static char *
put_hex(char *p, int upper)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *x = upper ? up : lo;
	unsigned int v = below(100) < 20 ? below(16) : below(65536);
	int k, pad = below(4) == 0;

	for (k = 12; k >= 0; k -= 4)
		if (pad || (v >> k) != 0 || k == 0)
			*p++ = x[(v >> k) & 15];
	return p;
}

struct v6pfx {
	const char	*s;
	int		 groups;
};

static void
gen_ip(char *b)
{
	static const struct v6pfx pfx[] = { { "2001:db8", 2 }, { "fe80", 1 },
	    { "240e", 1 }, { "2408:8207", 2 }, { "2409:8a00", 2 },
	    { "2001:da8", 2 }, { "fd00", 1 } };
	const struct v6pfx *v = &pfx[below(NELEM(pfx))];
	unsigned int style = below(100);
	int upper = below(5) == 0, k, left, right;
	char *p = b;

	if (style < 55)
		p = put_quad(p);
	else if (style < 67) {
		p = put_str(p, v->s);
		for (k = v->groups; k < 8; k++)
			p = put_hex(put_str(p, ":"), upper);
	} else if (style < 92) {
		p = put_str(p, v->s);
		left = v->groups + (int)below(2);
		for (k = v->groups; k < left; k++)
			p = put_hex(put_str(p, ":"), upper);
		p = put_str(p, "::");
		right = 1 + (int)below((unsigned int)(7 - left));
		for (k = 0; k < right; k++)
			p = put_hex(k > 0 ? put_str(p, ":") : p, upper);
	} else if (style < 96)
		p = put_str(p, "::1");
	else
		p = put_quad(put_str(p, "::ffff:"));
	*p = '\0';
	if (upper)
		for (p = b; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
}

struct tpl {
	const char	*before, *after;
};

static const struct tpl id_tpl[] = {
	{ "家属身份证号", "，" }, { "ID ", " verified at registration. " },
	{ "身份证号码：", "。" }, { "Guardian ID ", "; " },
	{ "证件号", "已核验。" }, { "身份证(", ")" }
};
static const struct tpl phone_tpl[] = {
	{ "请拨打", "联系" }, { "患者电话", "。" }, { "家属电话：", "，" },
	{ "Contact daughter at ", ". " }, { "Callback number ", "; " },
	{ "如有不适请联系 ", " " }, { "Son's mobile: ", "\n" },
	{ "手机(", ")" }, { "Tel:", ", " }
};
static const struct tpl email_tpl[] = {
	{ "检查报告已发送至 ", "。" }, { "Send results to ", ". " },
	{ "Patient email: ", "\n" }, { "家属邮箱", "，" },
	{ "邮箱<", ">" }, { "email:", " (personal)" }
};
static const struct tpl card_tpl[] = {
	{ "医保关联银行卡 ", "。" }, { "Paid by card ", ". " },
	{ "退费至银行卡号", "，" }, { "Refund to card ", " " },
	{ "卡号：", "（储蓄卡）" }, { "card no.", ", " }
};
static const struct tpl ip_tpl[] = {
	{ "报告由终端 ", " 上传。" }, { "Telemedicine session from ", ". " },
	{ "Remote consult, client IP ", "\n" }, { "登录IP：", "，" },
	{ "访问地址[", "]:8080 " }, { "src=", " " }
};

static const char *const fillers[] = {
	"无药物过敏史。", "No known drug allergies. ", "Follow-up in 2 weeks. ",
	"血压145/90mmHg，心率72次/分。", "体温38.5℃。",
	"BP 120/80, HR 72 bpm, SpO2 98%. ", "WBC 5.6×10^9/L，Hb 132g/L。",
	"建议复查血常规。", "Referred to specialist clinic. ",
	"患者称\"没事\"，拒绝进一步检查。", "Allergic to penicillin, rash in "
	"2019. ", "嘱患者按时服药", "Pain score 3/10.", "家属陪同就诊，",
	"Dose: 500 mg q8h x 7d. ", "HbA1c 7.2%，空腹血糖6.1 mmol/L。"
};

static void
gen_true(struct corpus *c)
{
	const struct tpl *t;
	char b[128];

	switch (below(5)) {
	case SCRUB_ID:
		t = &id_tpl[below(NELEM(id_tpl))];
		if (below(5) == 0)
			gen_id15(b);
		else
			gen_id18(b, 0);
		cats(c, t->before);
		plant(c, SCRUB_ID, b);
		break;
	case SCRUB_PHONE:
		t = &phone_tpl[below(NELEM(phone_tpl))];
		gen_phone(b);
		cats(c, t->before);
		plant(c, SCRUB_PHONE, b);
		break;
	case SCRUB_EMAIL:
		t = &email_tpl[below(NELEM(email_tpl))];
		gen_email(b);
		cats(c, t->before);
		plant(c, SCRUB_EMAIL, b);
		break;
	case SCRUB_CARD:
		t = &card_tpl[below(NELEM(card_tpl))];
		gen_card(b, 0);
		cats(c, t->before);
		plant(c, SCRUB_CARD, b);
		break;
	default:
		t = &ip_tpl[below(NELEM(ip_tpl))];
		gen_ip(b);
		cats(c, t->before);
		plant(c, SCRUB_IP, b);
		break;
	}
	cats(c, t->after);
}

/* Things that look like personal data and are not. */
static void
gen_false(struct corpus *c)
{
	static const char *const versions[] = { "version 1.2.3.4.5",
	    "固件版本 3.10.2.1.8", "build 10.0.19045.3693", "v2.10.3.1",
	    "OS 4.19.0.1.12 kernel" };
	static const char *const clock[] = { "复诊时间 14:30:00", "at 08:15",
	    "12:30:45", "服药时间 07:00、12:00、18:00", "10:00-12:00" };
	static const char *const landlines[] = { "010-12345678",
	    "0755-8888 6666", "(021) 6432 1234", "400-820-8820", "120" };
	char b[128], *p = b;
	unsigned int k;

	c->negatives++;
	switch (below(15)) {
	case 0:		/* order numbers from a date, 16 to 20 digits */
		p = put_str(p, below(2) ? "订单号 " : "Order #");
		p = put_date(p, 2019, 6, 4);
		p = put_digits(p, 8 + (int)below(5));
		break;
	case 1:		/* reference numbers, any 10 to 20 digits */
		p = put_str(p, "检验单号 ");
		*p++ = (char)('1' + below(9));
		p = put_digits(p, 9 + (int)below(11));
		break;
	case 2:		/* timestamps */
		p = put_str(p, below(2) ? "时间戳 " : "ts=");
		p = put_date(p, 2015, 10, 4);
		p = put_uint(p, below(24), 2);
		p = put_uint(p, below(60), 2);
		p = put_uint(p, below(60), 2);
		break;
	case 3:
		p = put_str(p, "就诊于");
		p = put_uint(p, 2015 + below(10), 4);
		p = put_uint(put_str(p, "-"), 1 + below(12), 2);
		p = put_uint(put_str(p, "-"), 1 + below(28), 2);
		p = put_uint(put_str(p, " "), below(24), 2);
		p = put_uint(put_str(p, ":"), below(60), 2);
		p = put_uint(put_str(p, ":"), below(60), 2);
		break;
	case 4:		/* prices */
		p = put_str(p, below(2) ? "费用¥" : "RMB ");
		p = put_uint(p, 1 + below(99), 0);
		p = put_uint(put_str(p, ","), below(1000), 3);
		p = put_uint(put_str(p, "."), below(100), 2);
		p = put_str(p, "元");
		break;
	case 5:
		p = put_str(p, "电话 ");
		gen_badphone(p);
		p += strlen(p);
		break;
	case 6:
		p = put_str(p, "证件号 ");
		gen_id18(p, 1);
		p += strlen(p);
		break;
	case 7:
		p = put_str(p, "卡号 ");
		gen_card(p, 1);
		p += strlen(p);
		break;
	case 8:
		p = put_str(p, PICK(versions));
		break;
	case 9:
		p = put_str(p, PICK(clock));
		break;
	case 10:	/* dates */
		k = below(3);
		p = put_uint(p, 2015 + below(10), 4);
		p = put_str(p, k == 0 ? "-" : k == 1 ? "/" : "年");
		p = put_uint(p, 1 + below(12), k == 0 ? 2 : 0);
		p = put_str(p, k == 0 ? "-" : k == 1 ? "/" : "月");
		p = put_uint(p, 1 + below(28), k == 0 ? 2 : 0);
		if (k == 2)
			p = put_str(p, "日");
		break;
	case 11:
		p = put_str(p, "座机");
		p = put_str(p, PICK(landlines));
		break;
	case 12:	/* record numbers */
		p = put_str(p, below(2) ? "住院号 00" : "门诊号MZ");
		p = put_digits(p, 6 + (int)below(8));
		break;
	case 13:	/* 8-digit compact dates */
		p = put_str(p, "出生日期");
		p = put_date(p, 1940, 80, 4);
		break;
	default:
		p = put_str(p, below(2) ? "比例 1:2:1" : "ratio 3:1, MAC ");
		if (p[-1] == ' ')
			p = put_str(p, "00:1A:2B:3C:4D:5E");
		break;
	}
	*p = '\0';
	cats(c, b);
	cats(c, below(2) ? "，" : ". ");
}

static int
corpus_setup(void **state)
{
	unsigned int i, k, nsent, r;

	(void)state;
	memset(&corpus, 0, sizeof(corpus));
	rng = 20240105;
	for (i = 0; i < NOTES; i++) {
		nsent = 3 + below(6);
		for (k = 0; k < nsent; k++) {
			r = below(100);
			if (r < 40)
				gen_true(&corpus);
			else if (r < 70)
				gen_false(&corpus);
			else
				cats(&corpus, PICK(fillers));
			if (below(4) == 0)
				cats(&corpus, " ");
		}
		cats(&corpus, "\n");
		corpus.ends[i] = corpus.len;
	}
	return 0;
}

static int
corpus_teardown(void **state)
{
	(void)state;
	free(corpus.text);
	free(corpus.truth);
	return 0;
}

/* A mismatch in context, on one line, cut at character boundaries. */
static void
show(const char *what, const struct scrub_find *f)
{
	char line[128];
	size_t a = f->start >= 15 ? f->start - 15 : 0, b, k;

	b = f->start + f->len + 15 < corpus.len ? f->start + f->len + 15 :
	    corpus.len;
	while (a < f->start && (corpus.text[a] & 0xc0) == 0x80)
		a++;
	while (b < corpus.len && (corpus.text[b] & 0xc0) == 0x80)
		b--;
	for (k = 0; k < b - a && k < sizeof(line) - 1; k++)
		line[k] = corpus.text[a + k] == '\n' ? ' ' : corpus.text[a + k];
	line[k] = '\0';
	print_message("  %s %s \"%.*s\" in \"%s\"\n", what,
	    scrub_tag(f->kind), (int)f->len, corpus.text + f->start, line);
}

static void
test_corpus(void **state)
{
	static const char *const names[SCRUB_NKINDS] = {
		"ID", "PHONE", "EMAIL", "CARD", "IP"
	};
	const struct corpus *c = &corpus;
	struct scrub_find *f, *t;
	size_t tp[SCRUB_NKINDS] = { 0 }, nt[SCRUB_NKINDS] = { 0 };
	size_t nf[SCRUB_NKINDS] = { 0 }, j = 0, alltp = 0, shown = 0;
	size_t max = c->ntruth + c->negatives + 1024;
	double recall, precision, t0, best = 0;
	char *out;
	long r;
	int k, nfound;

	(void)state;
	assert_non_null(f = calloc(max, sizeof(*f)));
	nfound = scrub_find(c->text, c->len, f, (int)max);
	assert_true(nfound > 0);
	for (k = 0; k < nfound; k++) {
		nf[f[k].kind]++;
		while (j < c->ntruth && c->truth[j].start < f[k].start) {
			if (shown++ < 8)
				show("missed", &c->truth[j]);
			j++;
		}
		t = j < c->ntruth ? &c->truth[j] : NULL;
		if (t != NULL && t->start == f[k].start &&
		    t->len == f[k].len && t->kind == f[k].kind) {
			tp[t->kind]++;
			alltp++;
			j++;
		} else if (shown++ < 8)
			show("wrong", &f[k]);
	}
	for (j = 0; j < c->ntruth; j++)
		nt[c->truth[j].kind]++;
	for (k = 0; k < SCRUB_NKINDS; k++)
		print_message("%-5s recall %.4f (%zu/%zu), precision %.4f "
		    "(%zu/%zu)\n", names[k], (double)tp[k] / nt[k], tp[k],
		    nt[k], nf[k] ? (double)tp[k] / nf[k] : 1.0, tp[k], nf[k]);
	recall = (double)alltp / c->ntruth;
	precision = (double)alltp / nfound;
	print_message("all   recall %.4f (%zu/%zu), precision %.4f (%zu/%d); "
	    "%d notes, %zu negatives, %zu bytes\n", recall, alltp, c->ntruth,
	    precision, alltp, nfound, NOTES, c->negatives, c->len);

	assert_non_null(out = malloc(scrub_bound(c->len)));
	for (k = 0; k < 3; k++) {
		t0 = now();
		r = scrub_text(c->text, c->len, out, scrub_bound(c->len),
		    NULL);
		t0 = now() - t0;
		assert_true(r > 0);
		if (best == 0 || t0 < best)
			best = t0;
	}
	print_message("throughput %.1f MB/s (scrub_text, %.1f MB)\n",
	    c->len / best / 1e6, c->len / 1e6);
	free(out);
	free(f);
	assert_true(recall >= 0.99);
	assert_true(precision >= 0.97);
}

/*
 * scrub_text rewrites exactly what scrub_find reports: the bytes between
 * findings are copied unchanged, each finding becomes its tag, and valid
 * UTF-8 in gives valid UTF-8 out. Note by note, so that counts add up.
 */
static void
test_corpus_text(void **state)
{
	const struct corpus *c = &corpus;
	struct scrub_find f[64];
	uint64_t counts[SCRUB_NKINDS] = { 0 }, want[SCRUB_NKINDS] = { 0 };
	char out[8192], exp[8192];
	const char *p;
	size_t n, o, from, i;
	long r;
	int k, nfound;

	(void)state;
	assert_true(utf8_valid(c->text, c->len));
	for (i = 0; i < NOTES; i++) {
		p = c->text + (i > 0 ? c->ends[i - 1] : 0);
		n = (size_t)(c->text + c->ends[i] - p);
		assert_true(scrub_bound(n) <= sizeof(out));
		nfound = scrub_find(p, n, f, (int)NELEM(f));
		assert_true(nfound >= 0);
		for (o = 0, from = 0, k = 0; k < nfound; k++) {
			assert_true(f[k].start >= from && f[k].len > 0);
			memcpy(exp + o, p + from, f[k].start - from);
			o += f[k].start - from;
			memcpy(exp + o, scrub_tag(f[k].kind),
			    strlen(scrub_tag(f[k].kind)));
			o += strlen(scrub_tag(f[k].kind));
			from = f[k].start + f[k].len;
			want[f[k].kind]++;
		}
		memcpy(exp + o, p + from, n - from);
		o += n - from;
		r = scrub_text(p, n, out, scrub_bound(n), counts);
		assert_int_equal(r, (long)o);
		assert_memory_equal(out, exp, o);
		assert_int_equal(out[o], '\0');
		assert_true(utf8_valid(out, o));
	}
	assert_int_equal(c->ends[NOTES - 1], c->len);
	for (k = 0; k < SCRUB_NKINDS; k++)
		assert_int_equal(counts[k], want[k]);
}

/* }====== */

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_card),
		cmocka_unit_test(test_ipv4),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_adversarial),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_text),
	};

	return cmocka_run_group_tests(tests, corpus_setup, corpus_teardown);
}
