/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * MySQL / MariaDB: the commands a server thread dispatches, with their full text and outcome.
 *
 *   uprobe dispatch_command     two signatures, chosen by userspace from the mangled name:
 *       MariaDB, MySQL <= 5.6:  bool dispatch_command(enum_server_command cmd, THD *thd, char *packet,
 *                                                     uint packet_length, ...)
 *       MySQL 5.7 / 8.0:        bool dispatch_command(THD *thd, const COM_DATA *com_data,
 *                                                     enum_server_command cmd)
 *                               where COM_QUERY/COM_STMT_PREPARE data is { const char *query; uint length; }
 *                               and COM_STMT_* data starts with the statement id (unsigned long)
 *   uretprobe dispatch_command  the command is over: return value and the error recorded meanwhile
 *   uprobe Diagnostics_area::set_error_status(this, uint sql_errno, const char *msg, const char *sqlstate)
 *                               the error the statement ends with (the one the client receives)
 *   uprobe Statement_map::insert(THD *, Statement *) (MariaDB, MySQL 5.x) or
 *          Prepared_statement_map::insert(Prepared_statement *) (MySQL 8)
 *                               during COM_STMT_PREPARE: the statement object it creates
 *   uprobe Prepared_statement::execute_loop / execute_bulk_loop (this = the statement object)
 *                               during COM_STMT_EXECUTE: the statement object it runs; userspace pairs the
 *                               two pointers, so an execution is shown with its prepared text (no struct
 *                               offsets needed; both are called once per statement, not per row)
 * Only the commands below are reported; COM_SLEEP/QUIT/PING/STATISTICS and replication are not.
 */
#include "../shell/text.bpf.h"

#define COM_INIT_DB 2
#define COM_QUERY 3
#define COM_STMT_PREPARE 22
#define COM_STMT_EXECUTE 23
#define COM_STMT_CLOSE 25
#define COM_STMT_RESET 26
#define COM_STMT_FETCH 28
#define COM_STMT_BULK_EXECUTE 250 /* MariaDB */

#define MSG_MAX 512

struct mysql_call {
	__u64 id;
	__u64 thd;
	__u64 stmt;        /* the prepared statement object created (PREPARE) or run (EXECUTE), 0 unknown */
	__u32 cmd;
	__u32 sql_errno;
	char sqlstate[8];
	char msg[MSG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a thread killed inside dispatch_command never deletes its entry */
	__uint(max_entries, 8192);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct mysql_call);
} mysql_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mysql_call);
} mysql_call_scratch SEC(".maps");

static __always_inline int reported(__u32 cmd)
{
	switch (cmd) {
	case COM_INIT_DB:
	case COM_QUERY:
	case COM_STMT_PREPARE:
	case COM_STMT_EXECUTE:
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
	case COM_STMT_BULK_EXECUTE:
		return 1;
	}
	return 0;
}

static __always_inline int has_text(__u32 cmd)
{
	return cmd == COM_QUERY || cmd == COM_STMT_PREPARE || cmd == COM_INIT_DB;
}

/* Common entry: remember the call, send its text (text != 0) or statement id. */
static __always_inline int mysql_enter(void *ctx, __u32 cmd, __u64 thd, __u64 text, __u64 len, __u64 stmt_id)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 zero = 0;
	struct mysql_call *c;
	struct text_event *e;

	if (!reported(cmd) || !pass_filter())
		return 0;
	c = bpf_map_lookup_elem(&mysql_call_scratch, &zero);
	if (!c)
		return 0;
	c->id = bpf_ktime_get_ns();
	c->thd = thd;
	c->cmd = cmd;
	c->stmt = 0;
	c->sql_errno = 0;
	c->sqlstate[0] = 0;
	c->msg[0] = 0;
	if (bpf_map_update_elem(&mysql_calls, &pid_tgid, c, BPF_ANY) != 0) {
		count_drop(DROP_MAP_FULL, 0);
		return 0;
	}
	e = text_begin(EVENT_QUERY, TEXT_MYSQL_CMD, c->id);
	if (!e)
		return 0;
	e->session = thd;
	e->aux = cmd;
	e->value = stmt_id;
	if (has_text(cmd) && text)
		text_send_bytes(ctx, e, text, len);
	else
		text_send_bytes(ctx, e, 0, 0);
	return 0;
}

/* MariaDB / MySQL <= 5.6: dispatch_command(enum_server_command, THD *, char *packet, uint packet_length, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_dispatch_command, int cmd, void *thd, const char *packet, unsigned int len)
{
	__u32 stmt = 0;
	__u32 c = (__u32)cmd;
	if (!has_text(c) && packet && len >= 4)
		bpf_probe_read_user(&stmt, sizeof(stmt), packet); /* COM_STMT_*: u32 statement id first */
	return mysql_enter(ctx, c, (__u64)thd, (__u64)packet, len, stmt);
}

/* MySQL 5.7 / 8.0: dispatch_command(THD *, const COM_DATA *, enum_server_command) */
SEC("uprobe")
int BPF_KPROBE(uprobe_dispatch_command_57, void *thd, const void *com_data, int cmd)
{
	struct {
		__u64 ptr;
		__u32 len;
		__u32 _pad;
	} q = {};
	__u32 c = (__u32)cmd;

	if (!com_data)
		return mysql_enter(ctx, c, (__u64)thd, 0, 0, 0);
	if (has_text(c)) {
		if (c == COM_INIT_DB) {
			/* COM_INIT_DB_DATA { const char *db_name; unsigned long length; } */
			__u64 l = 0;
			bpf_probe_read_user(&q.ptr, sizeof(q.ptr), com_data);
			bpf_probe_read_user(&l, sizeof(l), com_data + 8);
			return mysql_enter(ctx, c, (__u64)thd, q.ptr, l, 0);
		}
		bpf_probe_read_user(&q, sizeof(q), com_data);
		return mysql_enter(ctx, c, (__u64)thd, q.ptr, q.len, 0);
	}
	bpf_probe_read_user(&q.ptr, sizeof(q.ptr), com_data); /* unsigned long stmt_id */
	return mysql_enter(ctx, c, (__u64)thd, 0, 0, q.ptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_dispatch_command, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mysql_call *c = bpf_map_lookup_elem(&mysql_calls, &pid_tgid);
	struct text_event *e;
	__u32 n = 0;
	long r;

	if (!c)
		return 0;
	e = text_begin(EVENT_QUERY, TEXT_MYSQL_END, c->id);
	if (e) {
		e->session = c->thd;
		e->retval = (int)(ret & 0xff); /* bool */
		e->aux = c->sql_errno;
		e->value = c->stmt;
		if (c->sql_errno) {
			r = bpf_probe_read_kernel_str(e->payload, 8, c->sqlstate);
			n = r > 0 ? (__u32)r : 1;
			if (n > 8)
				n = 8;
			r = bpf_probe_read_kernel_str(&e->payload[MASKED(n, 15)], MSG_MAX, c->msg);
			n += r > 0 ? (__u32)r - 1 : 0;
		}
		e->payload_len = n;
		e->hdr.flags |= EVF_LAST_CHUNK;
		text_emit(ctx, e);
	}
	bpf_map_delete_elem(&mysql_calls, &pid_tgid);
	return 0;
}

/* void Diagnostics_area::set_error_status(uint sql_errno, const char *message, const char *sqlstate, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_set_error_status, void *da, unsigned int sql_errno, const char *msg, const char *sqlstate)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mysql_call *c = bpf_map_lookup_elem(&mysql_calls, &pid_tgid);

	if (!c)
		return 0;
	c->sql_errno = sql_errno;
	c->sqlstate[0] = 0;
	c->msg[0] = 0;
	if (sqlstate)
		bpf_probe_read_user_str(c->sqlstate, 6, sqlstate);
	if (msg)
		bpf_probe_read_user_str(c->msg, MSG_MAX, msg);
	return 0;
}

/*
 * Statement_map::insert(this, THD *, Statement *) / Prepared_statement_map::insert(this, Prepared_statement *):
 * the attach cookie is the argument number of the statement (2 or 1, counting `this` as 0).
 */
SEC("uprobe")
int BPF_KPROBE(uprobe_stmt_insert)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mysql_call *c = bpf_map_lookup_elem(&mysql_calls, &pid_tgid);
	__u64 which = bpf_get_attach_cookie(ctx);
	__u64 a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);

	/* both loads first: a ctx offset chosen at run time is refused by the verifier */
	barrier_var(a1);
	barrier_var(a2);
	if (!c || c->cmd != COM_STMT_PREPARE || c->stmt)
		return 0;
	c->stmt = which == 1 ? a1 : a2;
	return 0;
}

/* Prepared_statement::execute_loop(this, ...) / execute_bulk_loop(this, ...) */
SEC("uprobe")
int BPF_KPROBE(uprobe_stmt_execute, void *stmt)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mysql_call *c = bpf_map_lookup_elem(&mysql_calls, &pid_tgid);

	if (!c || (c->cmd != COM_STMT_EXECUTE && c->cmd != COM_STMT_BULK_EXECUTE) || c->stmt)
		return 0;
	c->stmt = (__u64)stmt;
	return 0;
}
