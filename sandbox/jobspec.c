/*
 * jobspec.c: the job frame and limits of a Lua job (see jobspec.h).
 */
#include <string.h>

#include "frame.h"
#include "jobspec.h"

int
jobspec_frame(msgpack_sbuffer *sb, const char *src, size_t len,
    const struct policy *p, int mock)
{
	static const char hdr[FRAME_HDR];
	msgpack_packer pk;
	size_t body;

	msgpack_sbuffer_write(sb, hdr, sizeof(hdr));
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	frame_pack_cstr(&pk, "kind");
	frame_pack_cstr(&pk, "lua");
	frame_pack_cstr(&pk, "tables");
	msgpack_pack_array(&pk, 1);
	frame_pack_cstr(&pk, "dataset");
	frame_pack_cstr(&pk, "source");
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, src, len);
	frame_pack_cstr(&pk, "mode");
	frame_pack_cstr(&pk, p->mode == POLICY_THRESHOLD ? "threshold" :
	    p->mode == POLICY_NONE ? "none" : "dp");
	frame_pack_cstr(&pk, "mock");
	if (mock)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_false(&pk);
	frame_pack_cstr(&pk, "max_rows_per_unit");
	msgpack_pack_uint32(&pk, p->mode == POLICY_NONE ? 0 :
	    p->max_rows_per_unit);
	frame_pack_cstr(&pk, "lua_memory");
	msgpack_pack_uint64(&pk, (uint64_t)p->memory_mb << 20);
	body = sb->size - FRAME_HDR;
	if (body > UINT32_MAX)
		return -1;
	sb->data[0] = (char)(body >> 24);
	sb->data[1] = (char)(body >> 16);
	sb->data[2] = (char)(body >> 8);
	sb->data[3] = (char)body;
	return 0;
}

void
jobspec_limits(const struct policy *p, struct spawner_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->memory_bytes = (uint64_t)p->memory_mb << 20;
	lim->cpu_ms = p->cpu_ms;
	lim->wall_ms = p->wall_ms;
	lim->output_bytes = p->output_kb << 10;
}
