/*
 * jsonw.c: JSON string escaping and number printing for --json output.
 * Input text is UTF-8 already (the readers validate it), so only quotes,
 * backslashes and control characters need escapes.
 */
#include <math.h>

#include <msgpack.h>

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

void
jsonw_msgpack(FILE *fp, const struct msgpack_object *o)
{
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		fputs("null", fp);
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		fputs(o->via.boolean ? "true" : "false", fp);
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		fprintf(fp, "%llu", (unsigned long long)o->via.u64);
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		fprintf(fp, "%lld", (long long)o->via.i64);
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		jsonw_num(fp, o->via.f64);
		break;
	case MSGPACK_OBJECT_STR:
		jsonw_str(fp, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		putc('[', fp);
		for (i = 0; i < o->via.array.size; i++) {
			if (i > 0)
				putc(',', fp);
			jsonw_msgpack(fp, &o->via.array.ptr[i]);
		}
		putc(']', fp);
		break;
	case MSGPACK_OBJECT_MAP:
		putc('{', fp);
		for (i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;

			if (i > 0)
				putc(',', fp);
			if (k->type == MSGPACK_OBJECT_STR)
				jsonw_str(fp, k->via.str.ptr, k->via.str.size);
			else
				fputs("\"?\"", fp);
			putc(':', fp);
			jsonw_msgpack(fp, &o->via.map.ptr[i].val);
		}
		putc('}', fp);
		break;
	default:
		fputs("null", fp);
	}
}
