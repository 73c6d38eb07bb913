/*
 * utf8.h: strict UTF-8 validation (no overlongs, no surrogates, nothing
 * past U+10FFFF), with an ASCII fast path: CSV fields are mostly ASCII.
 */
#ifndef VEIL_UTF8_H
#define VEIL_UTF8_H

#include <stddef.h>

/* Returns 1 if the n bytes at p are valid UTF-8, else 0. */
int	 utf8_valid(const char *p, size_t n);
/* Returns the offset of the first invalid byte, or n if all are valid. */
size_t	 utf8_check(const char *p, size_t n);

#endif /* VEIL_UTF8_H */
