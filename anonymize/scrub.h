/*
 * scrub.h: finds personal data in free text (UTF-8, often Chinese and
 * English mixed, as in doctors' notes) and replaces each finding with a
 * typed tag: "请拨打13812345678联系" becomes "请拨打[PHONE]联系". The
 * de-identification pipeline runs it over text columns marked `scrub`
 * in the schema; it knows nothing of tables and allocates nothing.
 *
 * What is found (digit runs that fail their checksum are left alone):
 *  SCRUB_ID     resident ID numbers: 18 characters (17 digits and a GB
 *               11643 / ISO 7064 MOD 11-2 check character, X or x too) or
 *               the old 15 digits, with a province code and a real birth
 *               date (1900-2099 for the 18-character form).
 *  SCRUB_PHONE  mainland mobile numbers, 1[3-9] and 9 digits, plain or
 *               grouped 3-4-4 by spaces or dashes, optionally after +86,
 *               0086 or 86 (and one space or dash).
 *  SCRUB_EMAIL  local@domain.tld, ASCII only.
 *  SCRUB_CARD   bank cards: Luhn-valid, 13 to 19 digits, plain or grouped
 *               (4-4-4-4, 4-4-4-4-3, 4-6-5, ...), and with the prefix and
 *               length of a known issuer (UnionPay, Visa, Mastercard,
 *               Amex, JCB, Discover, Diners), so that order numbers and
 *               timestamps that happen to pass Luhn are not taken.
 *  SCRUB_IP     IPv4 (not inside a longer dotted number such as a version
 *               string) and IPv6, full or compressed, with at least one
 *               decimal digit (so that "12:30:45" and hex words are not).
 *
 * A finding starts and ends on a token boundary: the byte before it and
 * the byte after it are not ASCII letters or digits (Chinese characters
 * and punctuation are boundaries). Where forms collide, ID wins over
 * PHONE, PHONE over CARD. Findings are ASCII only, so replacing them
 * never splits a multibyte character. Fullwidth digits are not read.
 * Both calls are linear in n and never read outside p[0..n).
 */
#ifndef VEIL_SCRUB_H
#define VEIL_SCRUB_H

#include <stddef.h>
#include <stdint.h>

enum scrub_kind {
	SCRUB_ID,
	SCRUB_PHONE,
	SCRUB_EMAIL,
	SCRUB_CARD,
	SCRUB_IP
};
#define SCRUB_NKINDS	5

struct scrub_find {
	size_t		 start;		/* byte offset in the text */
	size_t		 len;		/* bytes, never 0 */
	enum scrub_kind	 kind;
};

/*
 * Finds personal data in the n bytes at p (UTF-8, not NUL-terminated):
 * up to max findings into out, in order and non-overlapping. Returns
 * their number, or -1 if there were more than max (out then holds the
 * first max).
 */
int		 scrub_find(const char *p, size_t n, struct scrub_find *out,
		    int max);

/*
 * Writes p with every finding replaced by its tag into out (at most outlen
 * bytes, NUL-terminated). Returns the length written (without the NUL), or
 * -1 if out is too small; then out holds "" when outlen > 0. A tag is
 * never longer than 7 bytes, so n + 8 * findings + 1 always suffices, and
 * so does scrub_bound(n). If counts is not NULL (SCRUB_NKINDS entries),
 * counts[kind] is incremented per finding, on success only.
 */
long		 scrub_text(const char *p, size_t n, char *out, size_t outlen,
		    uint64_t *counts);

/* An output size that is always enough for n bytes of input. */
size_t		 scrub_bound(size_t n);

/* "[ID]" "[PHONE]" "[EMAIL]" "[CARD]" "[IP]"; "[?]" if out of range. */
const char	*scrub_tag(enum scrub_kind kind);

#endif /* VEIL_SCRUB_H */
