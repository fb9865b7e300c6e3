/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * NSS/NSPR: plaintext from PR_Write/PR_Send and PR_Read/PR_Recv of libnspr4.so (or any file exporting
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
 *     (ssl_PushIOLayer sets ns->fd to the layer's descriptor), so *(fd->secret) == fd.
 * Walking down `lower` also covers programs that push their own layer above SSL (Firefox's PSM layer).
 * We deliberately do not decide by "the call reached a socket" (the nested-syscall fd): a PR_Recv is often
 * served from records NSS already decrypted and makes no syscall at all, while a PR_Write to a plain TCP
 * socket does reach a socket; the layer check answers the question that matters (is this TLS) directly.
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

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);   /* pid_tgid */
	__type(value, __u64); /* stack pointer at the entry of the TLS call in flight */
} nss_call_sp SEC(".maps");

/* 1 when the layer stack starting at `fd` contains NSS's SSL layer. */
static __always_inline int has_ssl_layer(__u64 fd)
{
	struct pr_file_desc d;
	__s32 type;
	__u64 back;
	int i;

	/* a bounded loop (kernel >= 5.3; attach cookies already need 5.15) */
	for (i = 0; i < NSS_MAX_LAYERS; i++) {
		if (!fd || bpf_probe_read_user(&d, sizeof(d), (void *)fd) != 0)
			return 0;
		if (d.methods && d.secret) {
			type = 0;
			back = 0;
			if (bpf_probe_read_user(&type, sizeof(type), (void *)d.methods) == 0 && type == PR_DESC_LAYERED &&
			    bpf_probe_read_user(&back, sizeof(back), (void *)d.secret) == 0 && back == fd)
				return 1;
		}
		fd = d.lower;
	}
	return 0;
}

static __always_inline int nss_enter(struct pt_regs *ctx, __u64 fd, __u64 buf, __u32 dir)
{
	__u64 id, sp;

	if (!pass_filter() || !has_ssl_layer(fd))
		return 0;
	id = bpf_get_current_pid_tgid();
	sp = PT_REGS_SP(ctx);
	bpf_map_update_elem(&nss_call_sp, &id, &sp, BPF_ANY);
	return tls_enter(ctx, fd, buf, 0, dir);
}

static __always_inline int nss_exit(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *sp = bpf_map_lookup_elem(&nss_call_sp, &id);

	if (!sp || *sp + RET_SP_DELTA != PT_REGS_SP(ctx))
		return 0; /* not the return of the TLS call we recorded (a nested non-TLS call) */
	bpf_map_delete_elem(&nss_call_sp, &id);
	return tls_exit(ctx, 0);
}

/* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_write, void *fd, const void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_write)
{
	return nss_exit(ctx);
}

/* PRInt32 PR_Send(PRFileDesc *fd, const void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_send, void *fd, const void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_send)
{
	return nss_exit(ctx);
}

/* PRInt32 PR_Read(PRFileDesc *fd, void *buf, PRInt32 amount) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_read, void *fd, void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_read)
{
	return nss_exit(ctx);
}

/* PRInt32 PR_Recv(PRFileDesc *fd, void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_recv, void *fd, void *buf, int amount)
{
	return nss_enter(ctx, (__u64)fd, (__u64)buf, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_pr_recv)
{
	return nss_exit(ctx);
}

/* PRStatus PR_Close(PRFileDesc *fd): forget the connection (the descriptor's memory is reused) */
SEC("uprobe")
int BPF_KPROBE(uprobe_pr_close, void *fd)
{
	return tls_forget(ctx, (__u64)fd);
}
