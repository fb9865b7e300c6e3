/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Go's own TLS stack (crypto/tls), in binaries built by Go >= 1.17: register or stack ABI, PIE or not,
 * stripped or not (userspace finds the functions in the pclntab; all offsets here come from userspace).
 *
 *   write   uprobe at the entry of crypto/tls.(*Conn).writeRecordLocked(typ recordType, data []byte):
 *           application data records only (typ 23); handshake and alert records are not plaintext the
 *           program wrote.
 *   read    uprobes at EVERY RET instruction of crypto/tls.(*Conn).Read(b []byte) (n int, err error), never a
 *           uretprobe: Go copies goroutine stacks when they grow, and a uretprobe's rewritten return address on
 *           a copied stack crashes the program. At a RET the frame is popped, so SP is back to its entry value:
 *           SP+0 holds the return address and the caller-reserved argument area starts at SP+8. Read spills its
 *           register arguments (c, b.ptr, b.len) there in its prologue (checked with `go tool objdump` on
 *           go1.19.8: MOVQ AX, 0x70(SP); MOVQ BX, 0x78(SP); MOVQ CX, 0x80(SP) after SUBQ $0x68, SP) and never
 *           reassigns them, so conn and the buffer are readable at every RET; under the stack ABI they are the
 *           arguments themselves. n is the first result: AX/X0 (register ABI) or stack word 5 (stack ABI).
 *           Each RET probe has everything it needs: no entry/exit pairing, so goroutines moving between
 *           threads do not matter.
 *   close   uprobe at the entry of crypto/tls.(*Conn).Close: final stream positions (conn_close_event).
 *   keys    uprobe at the entry of crypto/tls.(*Config).writeKeyLog(label string, clientRandom, secret []byte).
 *
 * The fd comes from the *tls.Conn (conn.conn → *net.TCPConn → *netFD → pfd.Sysfd, offsets in go_target), and
 * the tuple from the kernel socket behind that fd (sock.bpf.h): the kernel's view is authoritative and needs no
 * further Go struct offsets (eCapture reads Go's net.TCPAddr instead).
 *
 * Per-binary settings (ABI, argument registers, struct offsets) live in the go_targets ARRAY map, indexed by
 * the attach cookie, because one process may run binaries of both ABIs and one object serves all binaries.
 * Payloads go out through tls_data.bpf.h's chunked sender: the same struct tls_data_event as the C libraries,
 * decoded by the same userspace code.
 */
#include "tls_data.bpf.h"

#define GO_RECORD_TYPE_APPLICATION_DATA 23
#define GO_MAX_TARGETS 1024
/* words of struct pt_regs we copy (x86-64: 21, arm64: 34 + extra fields); a power of two, so that the index can be
 * masked (the verifier then knows every access is inside the scratch value) */
#define GO_REGS_WORDS 64

/* Argument words (1-based; a string is 2 words, a slice 3) of the hooked functions: the Go signatures. */
#define W_WRITE_CONN 1 /* func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error) */
#define W_WRITE_TYPE 2
#define W_WRITE_BUF 3
#define W_WRITE_LEN 4
#define W_READ_CONN 1 /* func (c *Conn) Read(b []byte) (int, error) */
#define W_READ_BUF 2
#define W_READ_N_STACK 5 /* stack ABI: the results follow the 4 argument words */
#define W_CLOSE_CONN 1   /* func (c *Conn) Close() error */
#define W_KEY_LABEL 2    /* func (c *Config) writeKeyLog(label string, clientRandom, secret []byte) error */
#define W_KEY_LABEL_LEN 3
#define W_KEY_CR 4
#define W_KEY_CR_LEN 5
#define W_KEY_SECRET 7
#define W_KEY_SECRET_LEN 8

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, GO_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct go_target);
} go_targets SEC(".maps");

struct go_regs {
	__u64 w[GO_REGS_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct go_regs);
} go_regs_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct go_keylog_event);
} go_key_scratch SEC(".maps");

struct go_keylog_event *_btf_go_keylog_event __attribute__((unused));
struct go_target *_btf_go_target __attribute__((unused));
enum go_abi _btf_go_abi __attribute__((unused));

/* One probe hit: the binary's settings, a copy of the registers, the stack pointer. */
struct go_call {
	struct go_target *t;
	struct go_regs *r;
	__u64 sp;
	__u32 lib_id;
};

static __always_inline __u64 go_reg(struct go_call *g, __u32 off)
{
	__u32 i = off / 8;
	if (i >= GO_REGS_WORDS)
		return 0;
	return g->r->w[i & (GO_REGS_WORDS - 1)];
}

static __always_inline int go_begin(struct pt_regs *ctx, struct go_call *g)
{
	__u32 zero = 0;
	__u32 n = sizeof(struct pt_regs);

	g->lib_id = lib_cookie(ctx);
	g->t = bpf_map_lookup_elem(&go_targets, &g->lib_id);
	g->r = bpf_map_lookup_elem(&go_regs_scratch, &zero);
	if (!g->t || !g->r)
		return -1;
	if (n > sizeof(struct go_regs))
		n = sizeof(struct go_regs);
	if (bpf_probe_read_kernel(g->r, n, ctx) != 0)
		return -1;
	g->sp = go_reg(g, g->t->sp);
	return 0;
}

/* Stack word `word` (1-based): at SP + stack_base + 8*(word-1); the register ABI's spill slots are there too. */
static __always_inline __u64 go_stack_word(struct go_call *g, __u32 word)
{
	__u64 v = 0;
	bpf_probe_read_user(&v, sizeof(v), (void *)(g->sp + g->t->stack_base + 8 * (__u64)(word - 1)));
	return v;
}

/* Argument word `word` (1-based) at function entry. */
static __always_inline __u64 go_arg(struct go_call *g, __u32 word)
{
	if (g->t->abi == GO_ABI_REGISTER) {
		__u32 i = word - 1;
		if (i >= ECAP_GO_ARG_WORDS || i >= g->t->nargs)
			return 0;
		return go_reg(g, g->t->args[i]);
	}
	return go_stack_word(g, word);
}

static __always_inline __u64 go_user_word(__u64 addr)
{
	__u64 v = 0;
	if (addr)
		bpf_probe_read_user(&v, sizeof(v), (void *)addr);
	return v;
}

/* The socket fd behind a *tls.Conn, -1 when its net.Conn is not a socket-backed net conn (checked by family/type). */
static __always_inline int go_conn_fd(struct go_call *g, __u64 conn)
{
	struct go_target *t = g->t;
	__u64 tcpconn, netfd, family, sotype;
	__s64 fd;

	if (!conn)
		return -1;
	tcpconn = go_user_word(conn + t->conn_conn + t->iface_data);
	netfd = go_user_word(tcpconn + t->tcpconn_fd);
	if (!netfd)
		return -1;
	family = go_user_word(netfd + t->netfd_family);
	sotype = go_user_word(netfd + t->netfd_sotype);
	/* AF_UNIX 1, AF_INET 2, AF_INET6 10; SOCK_STREAM 1: anything else is not a *netFD (another net.Conn type) */
	if ((family != 1 && family != AF_INET && family != AF_INET6) || sotype != 1)
		return -1;
	fd = (__s64)go_user_word(netfd + t->netfd_sysfd);
	if (fd < 0 || fd > 0x7fffffff)
		return -1;
	return (int)fd;
}

/*
 * Send `len` bytes at `buf` of `conn` in direction `dir`. The fd and the tuple are looked up on every call (a few
 * reads): a Conn's address can be reused by Go's allocator for a new connection after a Close we did not see, and
 * a changed fd or tuple then starts a new stream (the old one is closed first, with its final positions).
 */
static __always_inline int go_data(void *ctx, struct go_call *g, __u64 conn, __u32 dir, __u64 buf, __u64 len)
{
	struct conn_key key = {};
	struct conn_state *st;
	struct sock_tuple t;
	struct socket *sock = NULL;
	int fd;

	if (!conn || !buf || len == 0)
		return 0;
	fd = go_conn_fd(g, conn);
	if (fd >= 0)
		sock = socket_of_fd(fd);
	if (!sock)
		fd = -1;
	tuple_of_socket(sock, &t);

	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.conn = conn;
	st = bpf_map_lookup_elem(&conns, &key);
	if (st && st->fd >= 0 && fd >= 0 &&
	    (st->fd != fd || st->tuple.family != t.family || st->tuple.lport != t.lport || st->tuple.rport != t.rport)) {
		tls_forget(ctx, conn);
		st = NULL;
	}
	st = conn_state_get(&key, g->lib_id);
	if (!st) {
		count_drop(DROP_MAP_FULL, len);
		return 0;
	}
	if (fd >= 0) {
		st->fd = fd;
		st->tuple = t;
	}
	tls_send_data(ctx, st, conn, dir, buf, len, g->lib_id, 0);
	return 0;
}

SEC("uprobe")
int uprobe_gotls_write(struct pt_regs *ctx)
{
	struct go_call g;
	__u64 conn, typ, buf, len;

	if (!pass_filter() || go_begin(ctx, &g))
		return 0;
	conn = go_arg(&g, W_WRITE_CONN);
	/* recordType is a uint8: under the register ABI the rest of the register is undefined */
	typ = go_arg(&g, W_WRITE_TYPE) & 0xff;
	if (typ != GO_RECORD_TYPE_APPLICATION_DATA)
		return 0;
	buf = go_arg(&g, W_WRITE_BUF);
	len = go_arg(&g, W_WRITE_LEN);
	if ((__s64)len <= 0)
		return 0;
	return go_data(ctx, &g, conn, DIR_WRITE, buf, len);
}

SEC("uprobe")
int uprobe_gotls_read_ret(struct pt_regs *ctx)
{
	struct go_call g;
	__u64 conn, buf, n;

	if (!pass_filter() || go_begin(ctx, &g))
		return 0;
	if (g.t->abi == GO_ABI_REGISTER)
		n = g.t->nargs ? go_reg(&g, g.t->args[0]) : 0;
	else
		n = go_stack_word(&g, W_READ_N_STACK);
	if ((__s64)n <= 0)
		return 0;
	conn = go_stack_word(&g, W_READ_CONN);
	buf = go_stack_word(&g, W_READ_BUF);
	return go_data(ctx, &g, conn, DIR_READ, buf, n);
}

SEC("uprobe")
int uprobe_gotls_close(struct pt_regs *ctx)
{
	struct go_call g;

	if (go_begin(ctx, &g))
		return 0;
	return tls_forget(ctx, go_arg(&g, W_CLOSE_CONN));
}

SEC("uprobe")
int uprobe_gotls_keylog(struct pt_regs *ctx)
{
	struct go_call g;
	struct go_keylog_event *e;
	__u32 zero = 0;
	__u64 p, n;

	if (!pass_filter() || go_begin(ctx, &g))
		return 0;
	e = bpf_map_lookup_elem(&go_key_scratch, &zero);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, EVENT_GO_KEYLOG);
	e->config = go_arg(&g, 1);
	e->lib_id = g.lib_id;

	p = go_arg(&g, W_KEY_LABEL);
	n = go_arg(&g, W_KEY_LABEL_LEN);
	e->label_len = n > 0xffff ? 0xffff : (__u32)n;
	if (n > ECAP_GO_LABEL_LEN - 1)
		n = ECAP_GO_LABEL_LEN - 1;
	if (n > 0 && bpf_probe_read_user(e->label, n, (void *)p) != 0)
		count_drop(DROP_READ_FAULT, n);

	p = go_arg(&g, W_KEY_CR);
	n = go_arg(&g, W_KEY_CR_LEN);
	e->client_random_len = n > 0xffff ? 0xffff : (__u32)n;
	if (n > sizeof(e->client_random))
		n = sizeof(e->client_random);
	if (n > 0 && bpf_probe_read_user(e->client_random, n, (void *)p) != 0)
		count_drop(DROP_READ_FAULT, n);

	p = go_arg(&g, W_KEY_SECRET);
	n = go_arg(&g, W_KEY_SECRET_LEN);
	e->secret_len = n > 0xffff ? 0xffff : (__u32)n;
	if (n > ECAP_GO_SECRET_LEN)
		n = ECAP_GO_SECRET_LEN;
	if (n > 0 && bpf_probe_read_user(e->secret, n, (void *)p) != 0)
		count_drop(DROP_READ_FAULT, n);

	if (emit(ctx, e, sizeof(*e)))
		count_drop(DROP_RINGBUF_FULL, 0);
	return 0;
}
