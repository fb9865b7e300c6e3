/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Sending texts of any length (command lines, SQL) as struct text_event chunks; shared by the shell objects
 * (bpf/shell/) and the database objects (bpf/db/, which include this file by relative path).
 *
 * Two kinds of text:
 *  - a C string of unknown length (readline's line, zle's line, postgres' query_string): each chunk is one
 *    bpf_probe_read_user_str of up to ECAP_MAX_CHUNK bytes, so it carries up to ECAP_MAX_CHUNK - 1 bytes of
 *    text; a chunk shorter than that is the last. No length has to be found first and nothing is read twice.
 *  - bytes of known length (a mysqld packet): chunks of ECAP_MAX_CHUNK bytes, like tls_data.bpf.h.
 * bpf_loop (5.17+) allows ECAP_MAX_CHUNKS chunks (about 4 MiB); older kernels get a short unrolled loop.
 * A text longer than that ends with EVF_TRUNCATED on its last chunk (and a DROP_TRUNCATED count).
 */
#ifndef ECAP_TEXT_BPF_H
#define ECAP_TEXT_BPF_H

#include "common.bpf.h"

/* Same name and meaning as in tls_data.bpf.h: baseLoadOptions() sets it for every capture object. */
const volatile __u32 have_bpf_loop = 1;
#define TEXT_FALLBACK_CHUNKS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct text_event);
} text_scratch SEC(".maps");

/* BTF anchors for scripts/gen-events.ts */
struct text_event *_btf_text_event __attribute__((unused));
enum text_source _btf_text_source __attribute__((unused));
enum text_end_how _btf_text_end_how __attribute__((unused));
enum text_ctx_flags _btf_text_ctx_flags __attribute__((unused));

#define TEXT_HDR_SIZE (offsetof(struct text_event, payload))

/*
 * x & mask, with the mask kept: after a range check clang knows the mask is redundant and drops it, and
 * the verifier (which may have checked another copy of the register) then sees an unbounded index.
 */
#define MASKED(x, mask)                 \
	({                              \
		__u64 __v = (x);        \
		barrier_var(__v);       \
		__v & (mask);           \
	})

static __always_inline __u32 text_max_chunks(void)
{
	return have_bpf_loop ? ECAP_MAX_CHUNKS : TEXT_FALLBACK_CHUNKS;
}

/* The per-CPU event, with its header filled in and no payload. */
static __always_inline struct text_event *text_begin(__u32 kind, __u32 source, __u64 id)
{
	__u32 zero = 0;
	struct text_event *e = bpf_map_lookup_elem(&text_scratch, &zero);
	if (!e)
		return NULL;
	fill_hdr(&e->hdr, kind);
	e->id = id;
	e->session = 0;
	e->value = 0;
	e->source = source;
	e->aux = 0;
	e->retval = 0;
	e->total_len = 0;
	e->chunk_off = 0;
	e->payload_len = 0;
	return e;
}

/* Send the scratch event with `payload_len` payload bytes (clamped). */
static __always_inline void text_emit(void *ctx, struct text_event *e)
{
	__u64 n = e->payload_len;
	if (n > ECAP_MAX_CHUNK)
		n = ECAP_MAX_CHUNK;
	barrier_var(n); /* keep the clamped value: clang would otherwise reuse the unclamped register */
	if (n > ECAP_MAX_CHUNK)
		return;
	if (emit(ctx, e, TEXT_HDR_SIZE + n) != 0)
		count_drop(DROP_RINGBUF_FULL, n);
}

struct text_chunk_ctx {
	void *ctx;
	__u64 src;
	__u64 len;  /* bytes mode: bytes to send (already capped) */
	__u32 str;  /* 1: C string mode */
	__u32 off;  /* string mode: bytes sent so far */
	__u32 done;
	__u32 truncated; /* bytes mode: the text was longer than what is sent */
	__u32 max;       /* chunks allowed */
	__u32 _pad;
};

/* Send chunk i; returns 1 when the text is complete. The scratch event's header is already filled in. */
static long text_chunk(__u32 i, void *data)
{
	struct text_chunk_ctx *cc = data;
	__u32 zero = 0;
	struct text_event *e = bpf_map_lookup_elem(&text_scratch, &zero);
	long n;

	if (!e || cc->done)
		return 1;
	if (cc->str) {
		e->chunk_off = cc->off;
		n = bpf_probe_read_user_str(e->payload, ECAP_MAX_CHUNK, (void *)(cc->src + cc->off));
		if (n <= 0) {
			/* unreadable (not paged in): end the text here, marked as truncated */
			count_drop(DROP_READ_FAULT, 0);
			e->payload_len = 0;
			e->hdr.flags |= EVF_LAST_CHUNK | EVF_TRUNCATED;
			cc->done = 1;
		} else if (n < ECAP_MAX_CHUNK) {
			e->payload_len = (__u32)n - 1; /* without the NUL */
			e->hdr.flags |= EVF_LAST_CHUNK;
			cc->done = 1;
		} else {
			e->payload_len = ECAP_MAX_CHUNK - 1;
			cc->off += ECAP_MAX_CHUNK - 1;
			if (i + 1 >= cc->max) {
				e->hdr.flags |= EVF_LAST_CHUNK | EVF_TRUNCATED;
				count_drop(DROP_TRUNCATED, 0);
				cc->done = 1;
			}
		}
		text_emit(cc->ctx, e);
		return cc->done ? 1 : 0;
	} else {
		__u64 off = (__u64)i * ECAP_MAX_CHUNK;
		__u64 left;
		__u32 m;
		if (off >= cc->len) {
			cc->done = 1;
			return 1;
		}
		left = cc->len - off;
		m = left > ECAP_MAX_CHUNK ? ECAP_MAX_CHUNK : (__u32)left;
		e->chunk_off = (__u32)off;
		e->payload_len = m;
		if (left <= ECAP_MAX_CHUNK) {
			e->hdr.flags |= EVF_LAST_CHUNK | (cc->truncated ? EVF_TRUNCATED : 0);
			cc->done = 1;
		}
		if (m == 0 || m > ECAP_MAX_CHUNK)
			return 1;
		if (bpf_probe_read_user(e->payload, m, (void *)(cc->src + off)) != 0) {
			count_drop(DROP_READ_FAULT, m);
			e->payload_len = 0;
		}
		text_emit(cc->ctx, e);
		return cc->done ? 1 : 0;
	}
}

static __always_inline void text_run(struct text_chunk_ctx *cc, __u32 nchunks)
{
	int i;
	if (have_bpf_loop) {
		bpf_loop(nchunks, text_chunk, cc, 0);
	} else {
		for (i = 0; i < TEXT_FALLBACK_CHUNKS; i++) {
			if (text_chunk(i, cc))
				break;
		}
	}
}

/*
 * Send the C string at user address `str` as chunks of the scratch event `e` (prepared by text_begin; the
 * caller set id/source/aux/...). An empty string still sends one (empty, last) chunk.
 */
static __always_inline void text_send_str(void *ctx, struct text_event *e, __u64 str)
{
	struct text_chunk_ctx cc = {};
	cc.ctx = ctx;
	cc.src = str;
	cc.str = 1;
	cc.max = text_max_chunks();
	e->total_len = 0;
	text_run(&cc, cc.max);
}

/* Send `len` bytes at user address `buf` (known length) as chunks of the scratch event `e`. */
static __always_inline void text_send_bytes(void *ctx, struct text_event *e, __u64 buf, __u64 len)
{
	struct text_chunk_ctx cc = {};
	__u64 cap = (__u64)text_max_chunks() * ECAP_MAX_CHUNK;
	__u32 nchunks;

	cc.ctx = ctx;
	cc.src = buf;
	cc.len = len;
	cc.max = text_max_chunks();
	e->total_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	if (len > cap) {
		cc.len = cap;
		cc.truncated = 1;
		count_drop(DROP_TRUNCATED, len - cap);
	}
	if (cc.len == 0) {
		/* nothing to read: one empty last chunk so userspace sees the text */
		e->payload_len = 0;
		e->hdr.flags |= EVF_LAST_CHUNK;
		text_emit(ctx, e);
		return;
	}
	nchunks = (__u32)((cc.len + ECAP_MAX_CHUNK - 1) / ECAP_MAX_CHUNK);
	text_run(&cc, nchunks);
}

#endif
