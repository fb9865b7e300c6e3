/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * NSS/NSPR: plaintext from PR_Write/PR_Send/PR_Writev and PR_Read/PR_Recv of libnspr4.so (or any file exporting
 * them, e.g. Firefox's libnss3.so with NSPR folded in). All four have the shape
 * `PRInt32 f(PRFileDesc *fd, void *buf, PRInt32 amount, ...)` with the byte count as return value (-1 and
 * PR_WOULD_BLOCK_ERROR when a non-blocking socket is not ready: only positive returns count, so a buffer
 * that tstclnt passes again after EWOULDBLOCK is reported once). The connection id is the PRFileDesc
 * pointer the program passes (the top of its layer stack, stable for the connection's life).
 *
 * Which calls are TLS: NSPR's PR_Write/PR_Read serve every kind of descriptor (files, pipes, stdout, plain
 * TCP sockets); tstclnt itself writes the response it received to stdout with PR_Write. A call is reported
 * only when the descriptor's layer stack contains NSS's SSL layer. That layer is recognised without
 * knowing its run-time identity (PR_GetUniqueIdentity("SSL") is assigned when NSS initialises, possibly
 * before we attached) by two facts that hold for every NSS release:
 *   - its methods table is a layered one: methods->file_type == PR_DESC_LAYERED (prio.h, public ABI);
 *   - its `secret` is NSS's sslSocket, whose first member is the PRFileDesc of the SSL layer itself
 *     (ssl_PushIOLayer sets ns->fd to the layer's descriptor), so *(fd->secret) == fd (or, right after a
 *     program pushed its own layer on top, the address of a layer above: see has_ssl_layer()).
 * Walking down `lower` also covers programs that push their own layer above SSL (Firefox's PSM layer).
 * We deliberately do not decide by "the call reached a socket" (the nested-syscall fd): a PR_Recv is often
 * served from records NSS already decrypted and makes no syscall at all, while a PR_Write to a plain TCP
 * socket does reach a socket; the layer check answers the question that matters (is this TLS) directly.
 *
 * PR_Writev (selfserv's responses) goes through the same path with the PRIOVec array as buffer; its return
 * sends each vector's bytes in order (up to PR_MAX_IOVECTOR_SIZE vectors, NSPR's own limit).
 *
 * Nesting: a non-TLS PR_* call made inside a TLS one on the same thread (e.g. NSS reading a file during the
 * handshake) must not complete the TLS call. Entry records the stack pointer; a return counts only when
 * its stack pointer is the entry's one (x86-64: + 8 for the popped return address).
 */
#include "tls_data.bpf.h"

#define PR_DESC_LAYERED 4
#define NSS_MAX_LAYERS 8

#if defined(__TARGET_ARCH_x86)
#define RET_SP_DELTA 8
#else
#define RET_SP_DELTA 0
#endif

/* struct PRFileDesc from NSPR's prio.h (public, stable ABI) */
struct pr_file_desc {
	__u64 methods; /* const PRIOMethods *: first member PRDescType file_type */
	__u64 secret;  /* PRFilePrivate *: for the SSL layer, sslSocket * */
	__u64 lower;
	__u64 higher;
	__u64 dtor;
	__s32 identity;
};

/* The TLS call in flight per thread, beyond what tls_enter() keeps */
struct nss_call {
	__u64 sp;    /* stack pointer at its entry */
	__u32 iovs;  /* PR_Writev: number of PRIOVec at active_call.buf; 0 for the single-buffer calls */
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct nss_call);
} nss_calls SEC(".maps");

/* typedef struct PRIOVec { char *iov_base; int iov_len; } PRIOVec; (prio.h) */
struct pr_iovec {
	__u64 base;
	__s32 len;
	__s32 _pad;
};

#define PR_MAX_IOVECTOR_SIZE 16

/*
 * 1 when the layer stack starting at `fd` contains NSS's SSL layer: a layered descriptor whose sslSocket points
 * back into this stack. Usually at itself; but when a program pushes a layer on top of SSL, NSPR swaps the two
 * descriptors' contents and the sslSocket still names the old address (now the new top) until NSS's next I/O
 * method call refreshes it (NSS bug 807250), so an address of any layer above counts too.
 */
static __always_inline int has_ssl_layer(__u64 fd)
{
	struct pr_file_desc d;
	__u64 seen[NSS_MAX_LAYERS] = {};
	__s32 type;
	__u64 back;
	int i, j;

	/* bounded loops (kernel >= 5.3; attach cookies already need 5.15) */
	for (i = 0; i < NSS_MAX_LAYERS; i++) {
		if (!fd || bpf_probe_read_user(&d, sizeof(d), (void *)fd) != 0)
			return 0;
		seen[i] = fd;
		if (d.methods && d.secret) {
			type = 0;
			back = 0;
			if (bpf_probe_read_user(&type, sizeof(type), (void *)d.methods) == 0 && type == PR_DESC_LAYERED &&
			    bpf_probe_read_user(&back, sizeof(back), (void *)d.secret) == 0 && back) {
				for (j = 0; j < NSS_MAX_LAYERS; j++) {
					if (j > i)
						break;
					if (seen[j] == back)
						return 1;
				}
			}
		}
		fd = d.lower;
	}
	return 0;
}

static __always_inline int nss_enter(struct pt_regs *ctx, __u64 fd, __u64 buf, __u32 dir, __u32 iovs)
{
	struct nss_call nc = {};
	__u64 id;

	if (!pass_filter() || !has_ssl_layer(fd))
		return 0;
	id = bpf_get_current_pid_tgid();
	nc.sp = PT_REGS_SP(ctx);
	nc.iovs = iovs;
	bpf_map_update_elem(&nss_calls, &id, &nc, BPF_ANY);
	return tls_enter(ctx, fd, buf, 0, dir);
}

struct writev_ctx {
	void *ctx;
	struct conn_key key;
	__u64 iov;   /* PRIOVec * */
	__u64 left;  /* bytes of the return value not sent yet */
	__u32 iovs;
	__u32 lib_id;
	__u32 flags;
	__u32 _pad;
};

/* Send vector i of a PR_Writev; returns 1 to stop. */
static long writev_segment(__u32 i, void *data)
{
	struct writev_ctx *w = data;
	struct conn_state *st;
	struct pr_iovec v;
	__u64 n;

	if (i >= w->iovs || w->left == 0)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (void *)(w->iov + (__u64)i * sizeof(v))) != 0)
		return 1;
	if (v.len <= 0)
		return 0;
	st = bpf_map_lookup_elem(&conns, &w->key);
	if (!st)
		return 1;
	n = (__u64)v.len < w->left ? (__u64)v.len : w->left;
	tls_send_data(w->ctx, st, w->key.conn, DIR_WRITE, v.base, n, w->lib_id, w->flags);
	w->left -= n;
	return 0;
}

/*
 * PR_Writev returned `total` bytes: send them vector by vector from the PRIOVec array. The bookkeeping
 * before the send is tls_exit()'s (bpf/lib/tls_data.bpf.h) for a call with several buffers. Without
 * bpf_loop (kernels < 5.17) only the first vector is sent and the rest shows as a gap.
 */
static __always_inline int nss_writev_exit(struct pt_regs *ctx, __u32 iovs)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct active_call *cp = bpf_map_lookup_elem(&active_calls, &id);
	struct active_call c;
	struct writev_ctx w = {};
	struct conn_state *st;
	long ret = PT_REGS_RC(ctx);

	if (!cp)
		return 0;
	c = *cp;
	bpf_map_delete_elem(&active_calls, &id);
	w.key.tgid = id >> 32;
	w.key.conn = c.conn;
	st = conn_state_get(&w.key, c.lib_id);
	if (!st) {
		call_done(&c);
		return 0;
	}
	bind_after_call(st, &c, id, &w.key);
	if ((int)ret <= 0)
		return 0;
	w.ctx = ctx;
	w.iov = c.buf;
	w.left = (__u32)(int)ret;
	w.iovs = iovs;
	w.lib_id = c.lib_id;
	w.flags = c.fd >= 0 ? EVF_FD_NESTED : 0;
	if (have_bpf_loop)
		bpf_loop(PR_MAX_IOVECTOR_SIZE, writev_segment, &w, 0);
	else
		writev_segment(0, &w);
	return 0;
}

/* `writev` is a constant per program, so each return program carries only the path it needs. */
static __always_inline int nss_exit(struct pt_regs *ctx, int writev)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct nss_call *nc = bpf_map_lookup_elem(&nss_calls, &id);
	__u32 iovs;

	if (!nc || nc->sp + RET_SP_DELTA != PT_REGS_SP(ctx))
		return 0; /* not the return of the TLS call we recorded (a nested non-TLS call) */
	iovs = nc->iovs;
	bpf_map_delete_elem(&nss_calls, &id);
	if (writev)
		return iovs ? nss_writev_exit(ctx, iovs) : 0;
	return tls_exit(ctx, 0);
}

/* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_write, void *fd, const void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_WRITE, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_write)
{
	return nss_exit(ctx, 0);
}

/* PRInt32 PR_Send(PRFileDesc *fd, const void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_send, void *fd, const void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_WRITE, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_send)
{
	return nss_exit(ctx, 0);
}

/* PRInt32 PR_Read(PRFileDesc *fd, void *buf, PRInt32 amount) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_read, void *fd, void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_READ, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_read)
{
	return nss_exit(ctx, 0);
}

/* PRInt32 PR_Recv(PRFileDesc *fd, void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_recv, void *fd, void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_READ, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_recv)
{
	return nss_exit(ctx, 0);
}

/* PRInt32 PR_Writev(PRFileDesc *fd, const PRIOVec *iov, PRInt32 iov_size, PRIntervalTime timeout)
 * (selfserv writes its responses with it) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_writev, void *fd, const void *iov, int iov_size)
{
	if (iov_size <= 0)
		return 0;
	return nss_enter(ctx, (__u64)fd, (__u64)iov, DIR_WRITE, iov_size > PR_MAX_IOVECTOR_SIZE ? PR_MAX_IOVECTOR_SIZE : iov_size);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_writev)
{
	return nss_exit(ctx, 1);
}

/* PRStatus PR_Close(PRFileDesc *fd): forget the connection (the descriptor's memory is reused) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_close, void *fd)
{
	return tls_forget(ctx, (__u64)fd);
}
