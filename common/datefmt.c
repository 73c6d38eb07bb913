/*
 * datefmt.c: day numbers <-> civil dates, after Howard Hinnant's
 * "chrono-compatible low-level date algorithms" (public domain).
 */
#include "datefmt.h"

int32_t
datefmt_days(int y, int m, int d)
{
	int era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + doe - 719468);
}

void
datefmt_civil(int32_t days, int *yp, int *mp, int *dp)
{
	int64_t z = (int64_t)days + 719468, era, doe, yoe, doy, mp0, y;

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp0 = (5 * doy + 2) / 153;
	*dp = (int)(doy - (153 * mp0 + 2) / 5 + 1);
	*mp = (int)(mp0 < 10 ? mp0 + 3 : mp0 - 9);
	*yp = (int)(y + (*mp <= 2));
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
datefmt_parse(const char *p, size_t len, int32_t *daysp)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const unsigned char *u = (const unsigned char *)p;
	unsigned int d0, d1, d2, d3, d5, d6, d8, d9;
	int y, m, d;

	if (len != DATEFMT_LEN || p[4] != '-' || p[7] != '-')
		return -1;
	/*
	 * One test for all eight digits, not a branch each. Unsigned: a
	 * byte below '0' wraps to a large value too.
	 */
	d0 = u[0] - 48u, d1 = u[1] - 48u, d2 = u[2] - 48u, d3 = u[3] - 48u;
	d5 = u[5] - 48u, d6 = u[6] - 48u, d8 = u[8] - 48u, d9 = u[9] - 48u;
	if ((d0 > 9) | (d1 > 9) | (d2 > 9) | (d3 > 9) | (d5 > 9) | (d6 > 9) |
	    (d8 > 9) | (d9 > 9))
		return -1;
	y = (int)(d0 * 1000 + d1 * 100 + d2 * 10 + d3);
	m = (int)(d5 * 10 + d6);
	d = (int)(d8 * 10 + d9);
	if (y < 1 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap(y)))
		return -1;
	*daysp = datefmt_days(y, m, d);
	return 0;
}

void
datefmt_format(int32_t days, char *out)
{
	int y, m, d;

	datefmt_civil(days, &y, &m, &d);
	y = y < 0 ? 0 : y % 10000;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
}
