/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * The plaintext path shared by every TLS library whose API looks like
 *     ret = lib_write(conn, buf, len) / ret = lib_read(conn, buf, len)   (ret = bytes, <= 0 = nothing)
 *     ok  = lib_write_ex(conn, buf, len, size_t *done)                   (ok == 1, bytes in *done)
 * Entry probes remember the call per thread; return probes send the bytes, in chunks, with who and where.
 *
 * The socket is found without kprobes, in this order:
 *   1. the library's own struct, where the object defines TLS_STRUCT_FD (OpenSSL/BoringSSL: SSL->rbio/wbio->num
 *      of a descriptor BIO, with the file's layout; nginx, wrk, python). Nothing else has to run.
 *   2. a socket operation made by the same thread inside the TLS call (a custom-BIO user such as curl). Where the
 *      kernel has the sock:sock_send_length/sock_recv_length tracepoints (Linux >= 6.3) they give the struct sock
 *      (raw tracepoints, run for socket I/O only); the fd is then found once per connection by a scan of the
 *      thread's fd table. Elsewhere eight sys_enter_* tracepoints give the fd; these are the fallback because
 *      enabling any syscall tracepoint puts every syscall of every process on the kernel's slow path.
 *   3. memory-BIO users (node): the first socket operation after a TLS call that had no socket binds it.
 * The fd gives the tuple by walking task->files to the struct sock (see sock.bpf.h).
 */
#ifndef ECAP_TLS_DATA_BPF_H
#define ECAP_TLS_DATA_BPF_H

#include "common.bpf.h"
#include "sock.bpf.h"

/* The fd a library's own struct names for connection object `conn` (direction `dir`), or -1. */
#ifndef TLS_STRUCT_FD
#define TLS_STRUCT_FD(conn, lib_id, dir) (-1)
#endif

struct active_call {
	__u64 conn;
	__u64 buf;
	__u64 done_ptr; /* size_t * of the _ex forms, 0 otherwise */
	__u64 sk;       /* struct sock * of a nested socket operation (sock_*_length tracepoints), 0 if none */
	__s32 fd;       /* fd seen in a nested syscall, -1 if none */
	__s32 sfd;      /* fd read from the library's struct at entry (TLS_STRUCT_FD), -1 if none */
	__u32 dir;
	__u32 lib_id;
	__u32 active;   /* 1 from the entry probe to the return probe */
	__u32 _pad;
};

struct conn_key {
	__u32 tgid;
	__u32 _pad;
	__u64 conn;
};

struct conn_state {
	__s32 fd;
	__u32 lib_id;
	__u64 sk; /* the struct sock * it is bound to (0 = not known) */
	__u64 seq[2]; /* per enum data_dir */
	struct sock_tuple tuple;
};

/*
 * A thread's slot is written in place at each entry and marked inactive at the return, not inserted and
 * deleted per call: a hash update and delete cost ~280 ns per TLS call (measured with kernel.bpf_stats_enabled
 * under nginx+wrk). LRU, so that the slots of threads that have exited make room.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct active_call);
} active_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* A thread whose last TLS call could not name its socket: the next socket syscall binds it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct conn_key);
} pending_bind SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_data_event);
} data_scratch SEC(".maps");

/* bpf_loop (5.17+) sends up to ECAP_MAX_CHUNKS chunks per call (older kernels get a short unrolled loop)
 * and scans fd tables. */
const volatile __u32 have_bpf_loop = 1;

/* Make the wire structs visible in BTF for the TypeScript generator. */
struct tls_data_event *_btf_tls_data_event __attribute__((unused));
struct conn_bind_event *_btf_conn_bind_event __attribute__((unused));
struct conn_close_event *_btf_conn_close_event __attribute__((unused));

static __always_inline __u32 lib_cookie(void *ctx)
{
	return (__u32)bpf_get_attach_cookie(ctx);
}

/*
 * How many things wait for a socket operation: TLS calls in flight without a struct fd, plus pending_bind
 * entries. The socket/syscall hooks return at once while it is 0, which is the steady state when every
 * connection's fd comes from the library's struct (they run for every socket operation on the machine).
 * It may drift upwards (a thread killed inside a call, an LRU eviction): that only costs those hooks a
 * map lookup.
 */
__s64 io_waiters = 0;

static __always_inline int tls_enter(void *ctx, __u64 conn, __u64 buf, __u64 done_ptr, __u32 dir)
{
	__u64 id;
	struct active_call c = {}, *slot;

	if (!pass_filter())
		return 0;
	id = bpf_get_current_pid_tgid();
	c.conn = conn;
	c.buf = buf;
	c.done_ptr = done_ptr;
	c.fd = -1;
	c.dir = dir;
	c.lib_id = lib_cookie(ctx);
	c.sfd = TLS_STRUCT_FD(conn, c.lib_id, dir);
	c.active = 1;
	slot = bpf_map_lookup_elem(&active_calls, &id);
	if (slot) {
		if (slot->active && slot->sfd < 0)
			__sync_fetch_and_add(&io_waiters, -1); /* a nested call replaces the outer one (see gnutls.bpf.c) */
		*slot = c;
	} else if (bpf_map_update_elem(&active_calls, &id, &c, BPF_ANY) != 0) {
		count_drop(DROP_MAP_FULL, 0);
		return 0;
	}
	if (c.sfd < 0)
		__sync_fetch_and_add(&io_waiters, 1);
	return 0;
}

/* Take thread `id`'s call out of active_calls into `c`; 0 when there is none (not ours, or returned already). */
static __always_inline int take_call(__u64 id, struct active_call *c)
{
	struct active_call *slot = bpf_map_lookup_elem(&active_calls, &id);

	if (!slot || !slot->active)
		return 0;
	*c = *slot;
	slot->active = 0;
	return 1;
}

static __always_inline void send_bind(void *ctx, struct conn_key *k, struct conn_state *st)
{
	struct conn_bind_event e = {};
	fill_hdr(&e.hdr, EVENT_CONN_BIND);
	if (st->tuple.family)
		e.hdr.flags |= EVF_TUPLE;
	e.conn_id = k->conn;
	e.fd = st->fd;
	e.lib_id = st->lib_id;
	e.tuple = st->tuple;
	if (emit(ctx, &e, sizeof(e)))
		count_drop(DROP_RINGBUF_FULL, 0);
}

/* Bind a connection object to a socket fd: remember the fd, its struct sock and its endpoints. */
static __always_inline void bind_fd(struct conn_state *st, int fd, struct socket *sock)
{
	st->fd = fd;
	if (!sock)
		sock = socket_of_fd(fd);
	st->sk = sock ? (__u64)BPF_CORE_READ(sock, sk) : 0;
	tuple_of_socket(sock, &st->tuple);
}

/* How many fds fd_of_sk() looks at: fds are handed out lowest first, so this is the number of files a
 * process has open before a connection's fd is not found (its events then carry the tuple, fd -1). */
#define ECAP_FD_SCAN_MAX (1 << 16)

struct fd_scan {
	struct file **fds;
	__u64 sk;
	__u32 max;
	__s32 fd;
};

static long fd_scan_step(__u32 i, void *data)
{
	struct fd_scan *s = data;
	struct file *f = NULL;
	struct socket *sock;
	umode_t mode;

	if (i >= s->max)
		return 1;
	if (bpf_probe_read_kernel(&f, sizeof(f), &s->fds[i]) != 0 || !f)
		return 0;
	/* private_data is a struct socket * only for sockets: compare first, check the file type on a match */
	sock = (struct socket *)BPF_CORE_READ(f, private_data);
	if (!sock || (__u64)BPF_CORE_READ(sock, sk) != s->sk)
		return 0;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & ECAP_S_IFMT) != ECAP_S_IFSOCK)
		return 0;
	s->fd = (__s32)i;
	return 1;
}

/* The current task's fd for struct sock `sk`, or -1. Runs once per connection (see bind_sk). */
static __always_inline int fd_of_sk(__u64 sk)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt;
	struct fd_scan s = {};

	if (!have_bpf_loop || !files)
		return -1; /* kernels without bpf_loop have no sock_*_length tracepoints either */
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt)
		return -1;
	s.fds = BPF_CORE_READ(fdt, fd);
	s.max = BPF_CORE_READ(fdt, max_fds);
	s.sk = sk;
	s.fd = -1;
	if (!s.fds)
		return -1;
	bpf_loop(ECAP_FD_SCAN_MAX, fd_scan_step, &s, 0);
	return s.fd;
}

/* Bind a connection object to the struct sock seen in a socket operation (its fd found by a scan). */
static __always_inline void bind_sk(struct conn_state *st, __u64 sk)
{
	st->sk = sk;
	st->fd = fd_of_sk(sk);
	tuple_of_sock((struct sock *)sk, &st->tuple);
}

static __always_inline void forget_pending(__u64 id)
{
	if (bpf_map_delete_elem(&pending_bind, &id) == 0)
		__sync_fetch_and_add(&io_waiters, -1);
}

/*
 * A socket operation of the current thread, from the socket-layer raw tracepoints (`sk`; `fd` -1) or from the
 * syscall tracepoints (`fd`, any file; `sk` 0). Inside a TLS call it names the call's socket; just after a call
 * that found none (memory BIOs) it binds that connection. Every caller passes constants for the path it is
 * not on, so each program keeps only its own.
 */
static __always_inline int on_nested_io(void *ctx, int fd, __u64 sk)
{
	__u64 id;
	struct active_call *c;
	struct conn_key *pk;
	struct conn_state *st;
	struct socket *sock = NULL;

	if (*(volatile __s64 *)&io_waiters <= 0)
		return 0;
	id = bpf_get_current_pid_tgid();
	c = bpf_map_lookup_elem(&active_calls, &id);
	if (c && c->active) {
		if (sk) {
			if (c->fd < 0 && !c->sk)
				c->sk = sk;
		} else if (c->fd < 0 && socket_of_fd(fd)) {
			c->fd = fd; /* only sockets: a TLS call may also write to an eventfd, a pipe or a log file */
		}
		return 0;
	}
	pk = bpf_map_lookup_elem(&pending_bind, &id);
	if (!pk)
		return 0;
	if (!sk && !(sock = socket_of_fd(fd)))
		return 0; /* not a socket (a log file, a pipe): keep waiting */
	st = bpf_map_lookup_elem(&conns, pk);
	if (st && st->fd < 0 && !st->sk) {
		if (sk)
			bind_sk(st, sk);
		else
			bind_fd(st, fd, sock);
		send_bind(ctx, pk, st);
	}
	forget_pending(id);
	return 0;
}

#define ECAP_FALLBACK_CHUNKS 4

static __always_inline __u32 max_chunks(void)
{
	return have_bpf_loop ? ECAP_MAX_CHUNKS : ECAP_FALLBACK_CHUNKS;
}

struct chunk_ctx {
	void *ctx;
	__u64 buf;
	__u64 len; /* bytes to send (already capped) */
	__u64 seq;
	__u32 truncated;
	__u32 _pad;
};

/* Send chunk i of a call; returns 1 when there is nothing more to send. */
static long send_chunk(__u32 i, void *data)
{
	struct chunk_ctx *cc = data;
	__u32 zero = 0;
	struct tls_data_event *e = bpf_map_lookup_elem(&data_scratch, &zero);
	__u64 off = (__u64)i * ECAP_MAX_CHUNK;
	__u64 left;
	__u32 n;

	if (!e || off >= cc->len)
		return 1;
	left = cc->len - off;
	n = left > ECAP_MAX_CHUNK ? ECAP_MAX_CHUNK : (__u32)left;
	e->chunk_off = off;
	e->seq = cc->seq + off;
	e->payload_len = n;
	if (left <= ECAP_MAX_CHUNK)
		e->hdr.flags |= EVF_LAST_CHUNK | (cc->truncated ? EVF_TRUNCATED : 0);
	if (n == 0 || n > ECAP_MAX_CHUNK)
		return 1;
	if (bpf_probe_read_user(e->payload, n, (void *)(cc->buf + off)) != 0) {
		count_drop(DROP_READ_FAULT, n);
		return 0;
	}
	if (emit(cc->ctx, e, offsetof(struct tls_data_event, payload) + n) != 0)
		count_drop(DROP_RINGBUF_FULL, n);
	return 0;
}

/* The state of connection object `key`, created (fd unknown, nothing sent) when absent; NULL when the map is full. */
static __always_inline struct conn_state *conn_state_get(struct conn_key *key, __u32 lib_id)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, key);
	struct conn_state fresh = {};

	if (st)
		return st;
	fresh.fd = -1;
	fresh.lib_id = lib_id;
	bpf_map_update_elem(&conns, key, &fresh, BPF_NOEXIST);
	return bpf_map_lookup_elem(&conns, key);
}

/*
 * Send `len` bytes at user address `buf` as the next bytes of direction `dir` of connection `conn` (state `st`:
 * fd, tuple, stream positions), in chunks of ECAP_MAX_CHUNK; `flags` go into every chunk's header next to
 * EVF_TUPLE. Shared by the entry/return path below and by callers that have everything at one probe (gotls).
 */
static __always_inline void tls_send_data(void *ctx, struct conn_state *st, __u64 conn, __u32 dir, __u64 buf, __u64 len,
					  __u32 lib_id, __u32 flags)
{
	struct tls_data_event *e;
	__u32 zero = 0;
	__u64 seq;
	int i;

	dir &= 1;
	seq = st->seq[dir];
	st->seq[dir] = seq + len;

	e = bpf_map_lookup_elem(&data_scratch, &zero);
	if (!e)
		return;
	fill_hdr(&e->hdr, EVENT_TLS_DATA);
	if (st->tuple.family)
		e->hdr.flags |= EVF_TUPLE;
	e->hdr.flags |= flags;
	e->conn_id = conn;
	e->fd = st->fd;
	e->dir = dir;
	e->lib_id = lib_id;
	e->call_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;
	e->tuple = st->tuple;

	{
		struct chunk_ctx cc = {};
		__u32 nchunks = (len + ECAP_MAX_CHUNK - 1) / ECAP_MAX_CHUNK;
		cc.ctx = ctx;
		cc.buf = buf;
		cc.len = len;
		cc.seq = seq;
		if (nchunks > max_chunks()) {
			__u64 sent = (__u64)max_chunks() * ECAP_MAX_CHUNK;
			cc.truncated = 1;
			cc.len = sent;
			count_drop(DROP_TRUNCATED, len - sent);
			nchunks = max_chunks();
		}
		if (have_bpf_loop) {
			bpf_loop(nchunks, send_chunk, &cc, 0);
		} else {
			for (i = 0; i < ECAP_FALLBACK_CHUNKS; i++) {
				if (send_chunk(i, &cc))
					break;
			}
		}
	}
}

/* A call taken out of active_calls: it no longer waits for a socket operation. */
static __always_inline void call_done(struct active_call *c)
{
	if (c->sfd < 0)
		__sync_fetch_and_add(&io_waiters, -1);
}

/*
 * After TLS call `c` (already taken out of active_calls) on connection `st` (`key`) by thread `id`: bind the
 * connection to the socket the call used, preferring the library's struct, then a nested syscall's fd, then a
 * nested socket operation's struct sock; with none of them, the thread's next socket operation binds it.
 */
static __always_inline void bind_after_call(struct conn_state *st, struct active_call *c, __u64 id, struct conn_key *key)
{
	struct socket *sock;
	int fd = c->sfd >= 0 ? c->sfd : c->fd;

	call_done(c);
	if (fd >= 0 && fd == st->fd && st->tuple.family) {
		/* bound already (the usual case) */
	} else if (fd >= 0 && (sock = socket_of_fd(fd))) {
		bind_fd(st, fd, sock); /* new, changed, or bound before connect() completed */
	} else if (c->sk) {
		if (c->sk != st->sk)
			bind_sk(st, c->sk);
	} else if (c->fd >= 0) {
		bind_fd(st, c->fd, NULL); /* not a socket: the fd without a tuple */
	} else if (st->fd >= 0 && st->tuple.family == 0) {
		bind_fd(st, st->fd, NULL);
	}
	if (st->fd < 0 && !st->sk) {
		if (bpf_map_update_elem(&pending_bind, &id, key, BPF_NOEXIST) == 0)
			__sync_fetch_and_add(&io_waiters, 1);
		else
			bpf_map_update_elem(&pending_bind, &id, key, BPF_ANY);
	}
}

static __always_inline int tls_exit(struct pt_regs *ctx, int is_ex)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct active_call c;
	struct conn_key key = {};
	struct conn_state *st;
	__u32 dir;
	__u64 len = 0;
	long ret;

	if (!take_call(id, &c))
		return 0;
	dir = c.dir & 1;

	ret = PT_REGS_RC(ctx);
	if (is_ex) {
		if ((int)ret > 0 && c.done_ptr) /* 1 from SSL_*_ex; ssl_*_internal too (SSL_read tests > 0) */
			bpf_probe_read_user(&len, sizeof(len), (void *)c.done_ptr);
	} else if ((int)ret > 0) {
		len = (__u32)(int)ret;
	}
	if (len == 0 && c.sfd >= 0)
		return 0; /* nothing moved (WANT_READ), and the socket is known whenever data does */

	key.tgid = id >> 32;
	key.conn = c.conn;
	st = conn_state_get(&key, c.lib_id);
	if (!st) {
		call_done(&c);
		count_drop(DROP_MAP_FULL, len);
		return 0;
	}
	bind_after_call(st, &c, id, &key);
	if (len == 0)
		return 0;

	tls_send_data(ctx, st, c.conn, dir, c.buf, len, c.lib_id, c.fd >= 0 ? EVF_FD_NESTED : 0);
	return 0;
}

/* Forget a connection object when the library frees it (its address may be reused), telling userspace
 * the final stream positions so bytes lost at the end of a connection still show as a gap. */
static __always_inline int tls_forget(void *ctx, __u64 conn)
{
	struct conn_key key = {};
	struct conn_state *st;
	struct conn_close_event e = {};

	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.conn = conn;
	st = bpf_map_lookup_elem(&conns, &key);
	if (!st)
		return 0;
	if (pass_filter()) {
		fill_hdr(&e.hdr, EVENT_CONN_CLOSE);
		if (st->tuple.family)
			e.hdr.flags |= EVF_TUPLE;
		e.conn_id = conn;
		e.seq[0] = st->seq[0];
		e.seq[1] = st->seq[1];
		e.fd = st->fd;
		e.lib_id = st->lib_id;
		e.tuple = st->tuple;
		if (emit(ctx, &e, sizeof(e)))
			count_drop(DROP_RINGBUF_FULL, 0);
	}
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* Syscalls that move socket data; the first argument is the fd for all of them. */
#define ECAP_IO_TP(name)                                                      \
	SEC("tracepoint/syscalls/" #name)                                     \
	int tp_##name(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                     \
		return on_nested_io(ctx, (int)ctx->args[0], 0);                \
	}

ECAP_IO_TP(sys_enter_write)
ECAP_IO_TP(sys_enter_writev)
ECAP_IO_TP(sys_enter_sendto)
ECAP_IO_TP(sys_enter_sendmsg)
ECAP_IO_TP(sys_enter_read)
ECAP_IO_TP(sys_enter_readv)
ECAP_IO_TP(sys_enter_recvfrom)
ECAP_IO_TP(sys_enter_recvmsg)

/* The same, from the socket layer (Linux >= 6.3): raw tracepoints, run for socket operations only. */
SEC("raw_tp/sock_send_length")
int rtp_sock_send_length(struct bpf_raw_tracepoint_args *ctx)
{
	return on_nested_io(ctx, -1, ctx->args[0]);
}

SEC("raw_tp/sock_recv_length")
int rtp_sock_recv_length(struct bpf_raw_tracepoint_args *ctx)
{
	return on_nested_io(ctx, -1, ctx->args[0]);
}

#endif
