/*
 * jsonw.c: JSON string escaping and number printing for --json output.
 * Input text is UTF-8 already (the readers validate it), so only quotes,
 * backslashes and control characters need escapes.
 */
#include <math.h>

#include "jsonw.h"

void
jsonw_str(FILE *fp, const char *p, size_t len)
{
	size_t i;
	unsigned char ch;

	putc('"', fp);
	for (i = 0; i < len; i++) {
		ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\') {
			putc('\\', fp);
			putc(ch, fp);
		} else if (ch == '\n')
			fputs("\\n", fp);
		else if (ch == '\t')
			fputs("\\t", fp);
		else if (ch == '\r')
			fputs("\\r", fp);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(fp, "\\u%04x", ch);
		else
			putc(ch, fp);
	}
	putc('"', fp);
}

void
jsonw_num(FILE *fp, double v)
{
	if (!isfinite(v))
		fputs("null", fp);
	else if (v == (double)(long long)v && fabs(v) < 1e15)
		fprintf(fp, "%lld", (long long)v);
	else
		fprintf(fp, "%.17g", v);
}
