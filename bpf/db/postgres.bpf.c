/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * PostgreSQL: the statements a backend receives (simple and extended query protocol), with their outcome
 * and the session (database, user, client). Hooks are exported functions of the postgres binary, because
 * exec_simple_query and the exec_*_message functions are static (absent from Debian's .dynsym):
 *
 *   uretprobe pq_getbyte         the type byte of each protocol message the backend reads ('Q' query,
 *                                'P' parse, 'B' bind, 'E' execute, 'S' sync, ...): what the next hooks see
 *                                belongs to that message
 *   uprobe pg_parse_query(const char *query_string)   (or --funcname: any function whose arg0 is the text)
 *                                the text of a 'Q' (simple query) or 'P' (Parse) message; later calls in
 *                                the same message (SQL function bodies) are not client statements. A
 *                                backend idle before the capture started: its first text counts too
 *   uprobe pgstat_report_activity(BackendState state, const char *cmd_str)
 *                                STATE_RUNNING during a 'B' (Bind) message: the text of the prepared
 *                                statement about to be executed (named statements too, which are never
 *                                parsed again). One execution is reported at its Bind, not at its Execute
 *                                messages: planning with the bound parameters happens in Bind and can fail
 *                                there (e.g. 100 / $1 with $1 = 0 is folded while planning), and a portal may
 *                                be run by several Execute messages
 *   uprobe pq_endmessage(StringInfo buf)
 *                                an ErrorResponse ('E' in buf->cursor) going to the client: the statement
 *                                in progress failed; its fields are sent as they are
 *   uprobe ReadyForQuery         the backend is idle again: the statement in progress succeeded
 * A statement is "in progress" from its text until one of: an error, ReadyForQuery, the next statement.
 * With MyProcPort exported, database, user and client come from struct Port (offsets per major version).
 */
#include "../shell/text.bpf.h"

#define STATE_RUNNING 2 /* enum BackendState */
#define ERR_MAX 2047   /* ErrorResponse bytes sent (a power of two minus one) */

/* 1 when pq_getbyte is hooked (message types are known); 0: report every call of the query hook */
const volatile __u32 have_msgtype = 1;
/* link-time address of MyProcPort (Port *), 0 = unknown; and offsets in struct Port, 0 = unknown */
const volatile __u64 myprocport_vaddr = 0;
const volatile __u32 port_off_database = 0;
const volatile __u32 port_off_user = 0;
const volatile __u32 port_off_host = 0;
const volatile __u32 port_off_port = 0;

struct pg_state {
	__u64 pending;  /* id of the statement in progress, 0 = none */
	__u64 bias;     /* load bias of postgres */
	__u32 has_bias;
	__u32 msgtype;  /* type byte of the message being processed */
	__u32 emitted;  /* a statement was reported for this message */
	__u32 ctx_sent; /* TEXT_PG_CTX sent for this backend */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid: one backend process per session */
	__type(value, struct pg_state);
} backends SEC(".maps");

static __always_inline struct pg_state *pg_get(int create)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pg_state *st = bpf_map_lookup_elem(&backends, &tgid);
	struct pg_state fresh = {};
	if (st || !create)
		return st;
	if (!pass_filter())
		return NULL;
	bpf_map_update_elem(&backends, &tgid, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&backends, &tgid);
}

static __always_inline void pg_learn_bias(struct pt_regs *ctx, struct pg_state *st)
{
	__u64 vaddr = bpf_get_attach_cookie(ctx);
	if (vaddr && !st->has_bias) {
		st->bias = PT_REGS_IP(ctx) - vaddr;
		st->has_bias = 1;
	}
}

static __always_inline void pg_end(void *ctx, struct pg_state *st, int retval)
{
	struct text_event *e;
	__u64 id = st->pending;
	st->pending = 0;
	if (!id)
		return;
	e = text_begin(EVENT_QUERY, TEXT_PG_END, id);
	if (!e)
		return;
	e->retval = retval;
	e->hdr.flags |= EVF_LAST_CHUNK;
	text_emit(ctx, e);
}

/* Append the C string at user pointer *(port + off) to the payload; always writes a NUL. */
static __always_inline __u32 put_port_str(struct text_event *e, __u32 n, __u64 port, __u32 off)
{
	__u64 p = 0;
	long r = 0;
	if (n >= 4096)
		return n;
	if (off && bpf_probe_read_user(&p, sizeof(p), (void *)(port + off)) == 0 && p)
		r = bpf_probe_read_user_str(&e->payload[MASKED(n, 4095)], 256, (void *)p);
	if (r <= 0) {
		e->payload[MASKED(n, 4095)] = 0;
		r = 1;
	}
	return n + (__u32)r;
}

static __always_inline void pg_send_ctx(void *ctx, struct pg_state *st)
{
	struct text_event *e;
	__u64 port = 0;
	__u32 n = 0;

	st->ctx_sent = 1;
	if (!myprocport_vaddr || !st->has_bias)
		return;
	if (bpf_probe_read_user(&port, sizeof(port), (void *)(st->bias + myprocport_vaddr)) != 0 || !port)
		return;
	e = text_begin(EVENT_QUERY, TEXT_PG_CTX, 0);
	if (!e)
		return;
	n = put_port_str(e, n, port, port_off_database);
	n = put_port_str(e, n, port, port_off_user);
	n = put_port_str(e, n, port, port_off_host);
	n = put_port_str(e, n, port, port_off_port);
	e->payload_len = n;
	e->hdr.flags |= EVF_LAST_CHUNK;
	text_emit(ctx, e);
}

/* A client statement's text: end the previous one, report this one. */
static __always_inline void pg_statement(struct pt_regs *ctx, struct pg_state *st, __u64 text, __u32 kind)
{
	struct text_event *e;
	__u64 id;

	pg_learn_bias(ctx, st);
	if (!st->ctx_sent)
		pg_send_ctx(ctx, st);
	pg_end(ctx, st, 0);
	id = bpf_ktime_get_ns();
	st->pending = id;
	st->emitted = 1;
	e = text_begin(EVENT_QUERY, TEXT_PG_QUERY, id);
	if (!e)
		return;
	e->aux = kind;
	text_send_str(ctx, e, text);
}

/* int pq_getbyte(void) */
SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pq_getbyte, int ret)
{
	struct pg_state *st;

	switch (ret) {
	case 'Q': case 'P': case 'B': case 'E': case 'S': case 'D': case 'C': case 'H': case 'F': case 'X':
		break;
	default:
		return 0; /* EOF, or COPY data ('d', 'c', 'f') inside a statement */
	}
	st = pg_get(1);
	if (!st)
		return 0;
	st->msgtype = ret;
	st->emitted = 0;
	return 0;
}

/* List *pg_parse_query(const char *query_string); cookie = its link-time address */
SEC("uprobe")
int BPF_KPROBE(uprobe_pg_query, const char *query)
{
	struct pg_state *st;

	if (!query)
		return 0;
	st = pg_get(0);
	if (!st) {
		/*
		 * A backend seen for the first time: it was waiting for a message when the capture started, so the
		 * return of that pq_getbyte call was not hooked. The first text of a message is the client's.
		 */
		st = pg_get(1);
		if (!st)
			return 0;
		st->msgtype = 0;
	} else if (have_msgtype && (st->emitted || (st->msgtype != 'Q' && st->msgtype != 'P'))) {
		return 0;
	}
	pg_statement(ctx, st, (__u64)query, st->msgtype);
	return 0;
}

/* void pgstat_report_activity(BackendState state, const char *cmd_str) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pgstat_report_activity, int state, const char *cmd_str)
{
	struct pg_state *st;

	if (state != STATE_RUNNING || !cmd_str)
		return 0;
	st = pg_get(0);
	if (!st || st->emitted || st->msgtype != 'B')
		return 0;
	pg_statement(ctx, st, (__u64)cmd_str, 'B');
	return 0;
}

/* void pq_endmessage(StringInfo buf): StringInfoData { char *data; int len; int maxlen; int cursor; } */
SEC("uprobe")
int BPF_KPROBE(uprobe_pq_endmessage, void *buf)
{
	struct pg_state *st = pg_get(0);
	struct {
		__u64 data;
		__s32 len;
		__s32 maxlen;
		__s32 cursor;
	} si = {};
	struct text_event *e;
	__u32 n;

	if (!st || !st->pending || !buf)
		return 0;
	if (bpf_probe_read_user(&si, sizeof(si), buf) != 0 || si.cursor != 'E' || !si.data)
		return 0;
	e = text_begin(EVENT_QUERY, TEXT_PG_END, st->pending);
	st->pending = 0;
	if (!e)
		return 0;
	e->retval = 1;
	n = si.len < 0 ? 0 : (__u32)si.len;
	if (n > ERR_MAX)
		n = ERR_MAX;
	barrier_var(n); /* without it clang drops the (provably redundant) mask and passes the unclamped register */
	n &= ERR_MAX;
	if (n > 0 && bpf_probe_read_user(e->payload, n, (void *)si.data) != 0)
		n = 0;
	e->payload_len = n;
	e->total_len = si.len < 0 ? 0 : (__u32)si.len;
	e->hdr.flags |= EVF_LAST_CHUNK;
	text_emit(ctx, e);
	return 0;
}

/* void ReadyForQuery(CommandDest dest) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ready_for_query)
{
	struct pg_state *st = pg_get(0);
	if (!st)
		return 0;
	pg_learn_bias(ctx, st);
	pg_end(ctx, st, 0);
	return 0;
}

/* A backend exits: a statement still in progress ends without a known outcome; forget the backend. */
SEC("tracepoint/sched/sched_process_exit")
int tp_pg_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct pg_state *st;

	if ((__u32)id != tgid)
		return 0;
	st = bpf_map_lookup_elem(&backends, &tgid);
	if (!st)
		return 0;
	pg_end(ctx, st, -1);
	bpf_map_delete_elem(&backends, &tgid);
	return 0;
}
