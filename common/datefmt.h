/*
 * datefmt.h: calendar dates as int32 days since 1970-01-01 (proleptic
 * Gregorian), parsed from and printed as YYYY-MM-DD.
 */
#ifndef VEIL_DATEFMT_H
#define VEIL_DATEFMT_H

#include <stddef.h>
#include <stdint.h>

#define DATEFMT_LEN	10	/* YYYY-MM-DD */

/*
 * Parses exactly YYYY-MM-DD (years 0001-9999, a real day of that month).
 * Returns 0 and stores the day number, or -1.
 */
int	 datefmt_parse(const char *p, size_t len, int32_t *daysp);
/* Writes YYYY-MM-DD and a NUL into out (at least 11 bytes). */
void	 datefmt_format(int32_t days, char *out);
/* Splits a day number into year, month (1-12) and day (1-31). */
void	 datefmt_civil(int32_t days, int *yp, int *mp, int *dp);
/* The day number of a valid year, month, day. */
int32_t	 datefmt_days(int y, int m, int d);

#endif /* VEIL_DATEFMT_H */
