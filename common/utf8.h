/*
 * utf8.h: strict UTF-8 validation (no overlongs, no surrogates, nothing
 * past U+10FFFF), with an ASCII fast path: CSV fields are mostly ASCII.
 */
#ifndef VEIL_UTF8_H
#define VEIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 if the n bytes at p are valid UTF-8, else 0. */
int	 utf8_valid(const char *p, size_t n);
/* Returns the offset of the first invalid byte, or n if all are valid. */
size_t	 utf8_check(const char *p, size_t n);

/*
 * For a scanner that goes through text 64 bytes at a time, in order, and
 * knows which blocks have non-ASCII bytes (a movemask it makes anyway):
 * utf8_scan_block() says 1 if the block at p may hold a fault, to be
 * found with utf8_check. A block with non-ASCII bytes is checked with the
 * lookups of utf8_check's SIMD form, given the 3 bytes before it; an
 * ASCII one is bad only if the block before ends in a cut sequence. A
 * fault may lie in the 3 bytes before a bad block; a sequence cut by the
 * end of the text is the caller's to catch (a CSV record ends in a line
 * feed, which is where the lookups see it). Only where utf8_have_block()
 * says the CPU can (AVX2); elsewhere every non-ASCII block is bad.
 */
struct utf8_scan {
	const char	*prev;		/* the block before, or NULL */
	int		 prevhigh;	/* it had non-ASCII bytes */
};

int	 utf8_have_block(void);
/* Starts a scan: the first block's bytes before are not read. */
void	 utf8_scan_init(struct utf8_scan *);
/* p: 64 readable bytes, the block after the last one given, if any. */
int	 utf8_scan_block(struct utf8_scan *, const char *p, int high);
/*
 * utf8_scan_block for a scanner that has not loaded the block yet: also
 * sets *found to where the 64 bytes at p are one of the four in set (bit
 * i: p[i]) and *high to where they are non-ASCII, from one load of them.
 * Only where utf8_have_block() says the CPU can.
 */
int	 utf8_scan_find4(struct utf8_scan *, const char *p, const char set[4],
	    uint64_t *found, uint64_t *high);

#endif /* VEIL_UTF8_H */
