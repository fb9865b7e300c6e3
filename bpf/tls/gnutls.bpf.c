/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * GnuTLS (libgnutls.so.30 and anything exporting the same API).
 *
 * Plaintext: gnutls_record_send/_send2 and gnutls_record_recv/_recv_seq all have the shape
 * `ssize_t f(gnutls_session_t, void *buf, size_t len, ...)` with the byte count as return value, so they go
 * through the generic path of tls_data.bpf.h; the connection id is the session pointer. gnutls_record_send
 * tail-calls gnutls_record_send2 (and recv/recv_seq share their body): when both probes fire for one call, the
 * inner entry replaces the outer one in active_calls and the first return consumes it, so bytes are sent once.
 *
 * Keys, two ways (userspace picks one per hooked file, see src/probes/gnutls/layout.ts):
 *  - primary: an entry probe on GnuTLS's internal `_gnutls_call_keylog_func(session, label, data, size)`,
 *    which every secret goes through (TLS 1.2 CLIENT_RANDOM, every TLS 1.3 secret) whether or not the program
 *    set a key log callback or SSLKEYLOGFILE. The function is not exported; userspace finds it from the
 *    exported accessor gnutls_session_get_keylog_function. Only the client random offset is needed.
 *  - fallback: gnutls_handshake entry/return (return 0 = handshake done), reading the session with
 *    per-version struct offsets (eCapture's method). Next to the hook it reads only TLS <= 1.2 master secrets
 *    (a resumed session's never reaches the key log hook); its layout then has no TLS 1.3 members.
 * Offsets come per hooked file (lib_id) from the gnutls_layouts map.
 */
#include "tls_data.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32); /* lib_id */
	__type(value, struct gnutls_layout);
} gnutls_layouts SEC(".maps");

/* gnutls_handshake() in flight per thread: the session it works on */
struct hs_call {
	__u64 session;
	__u32 lib_id;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct hs_call);
} gnutls_handshakes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gnutls_secrets_event);
} secrets_scratch SEC(".maps");

struct gnutls_keylog_event *_btf_gnutls_keylog_event __attribute__((unused));
struct gnutls_secrets_event *_btf_gnutls_secrets_event __attribute__((unused));
struct gnutls_layout *_btf_gnutls_layout __attribute__((unused));
enum gnutls_event_kind _btf_gnutls_event_kind __attribute__((unused));

/* ---- plaintext ---- */

/* ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_record_send, void *session, const void *data, size_t size)
{
	return tls_enter(ctx, (__u64)session, (__u64)data, 0, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gnutls_record_send)
{
	return tls_exit(ctx, 0);
}

/* ssize_t gnutls_record_send2(gnutls_session_t, const void *data, size_t data_size, size_t pad, unsigned flags) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_record_send2, void *session, const void *data, size_t size)
{
	return tls_enter(ctx, (__u64)session, (__u64)data, 0, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gnutls_record_send2)
{
	return tls_exit(ctx, 0);
}

/* ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_record_recv, void *session, void *data, size_t size)
{
	return tls_enter(ctx, (__u64)session, (__u64)data, 0, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gnutls_record_recv)
{
	return tls_exit(ctx, 0);
}

/* ssize_t gnutls_record_recv_seq(gnutls_session_t session, void *data, size_t data_size, unsigned char *seq) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_record_recv_seq, void *session, void *data, size_t size)
{
	return tls_enter(ctx, (__u64)session, (__u64)data, 0, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gnutls_record_recv_seq)
{
	return tls_exit(ctx, 0);
}

/* void gnutls_deinit(gnutls_session_t session) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_deinit, void *session)
{
	return tls_forget(ctx, (__u64)session);
}

/* ---- keys: the key log hook ---- */

/* int _gnutls_call_keylog_func(gnutls_session_t session, const char *label, const uint8_t *data, unsigned size) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_keylog, void *session, const char *label, const __u8 *data, unsigned int size)
{
	struct gnutls_keylog_event e = {};
	struct gnutls_layout *l;
	__u32 lib_id;
	__u64 n;
	long err;

	if (!pass_filter() || !session || !label || !data)
		return 0;
	lib_id = lib_cookie(ctx);
	l = bpf_map_lookup_elem(&gnutls_layouts, &lib_id);
	if (!l)
		return 0;
	fill_hdr(&e.hdr, EVENT_GNUTLS_KEYLOG);
	e.conn_id = (__u64)session;
	e.lib_id = lib_id;
	e.secret_len = size;
	if (l->client_random)
		bpf_probe_read_user(e.client_random, sizeof(e.client_random), (__u8 *)session + l->client_random);
	if (bpf_probe_read_user_str(e.label, sizeof(e.label), label) < 0) {
		count_drop(DROP_READ_FAULT, 0);
		return 0;
	}
	/* size is a hash length (32/48): clamp in a 64-bit register the verifier can follow */
	n = size;
	if (n > ECAP_SECRET_MAX)
		n = ECAP_SECRET_MAX;
	asm volatile("" : "+r"(n));
	err = bpf_probe_read_user(e.secret, n, data);
	if (n == 0 || err != 0) {
		count_drop(DROP_READ_FAULT, 0);
		return 0;
	}
	if (emit(ctx, &e, sizeof(e)))
		count_drop(DROP_RINGBUF_FULL, 0);
	return 0;
}

/* ---- keys: gnutls_handshake + struct offsets (fallback) ---- */

/* int gnutls_handshake(gnutls_session_t session) */
SEC("uprobe")
int BPF_KPROBE(uprobe_gnutls_handshake, void *session)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct hs_call c = {};

	if (!pass_filter())
		return 0;
	c.session = (__u64)session;
	c.lib_id = lib_cookie(ctx);
	bpf_map_update_elem(&gnutls_handshakes, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline void read_secret(__u8 *dst, __u64 session, __u32 off)
{
	if (off)
		bpf_probe_read_user(dst, ECAP_SECRET_MAX, (void *)(session + off));
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_gnutls_handshake)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct hs_call *cp = bpf_map_lookup_elem(&gnutls_handshakes, &id);
	struct gnutls_secrets_event *e;
	struct gnutls_layout *l;
	__u64 session, ptr = 0;
	__u32 zero = 0, lib_id;
	int ret = (int)PT_REGS_RC(ctx);

	if (!cp)
		return 0;
	session = cp->session;
	lib_id = cp->lib_id;
	bpf_map_delete_elem(&gnutls_handshakes, &id);
	if (ret != 0 || !session) /* GNUTLS_E_AGAIN, GNUTLS_E_INTERRUPTED, errors: not done yet */
		return 0;
	l = bpf_map_lookup_elem(&gnutls_layouts, &lib_id);
	e = bpf_map_lookup_elem(&secrets_scratch, &zero);
	if (!l || !e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	fill_hdr(&e->hdr, EVENT_GNUTLS_SECRETS);
	e->conn_id = session;
	e->lib_id = lib_id;
	if (l->pversion && bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(session + l->pversion)) == 0 && ptr)
		bpf_probe_read_user(&e->version, sizeof(e->version), (void *)(ptr + l->version_id));
	ptr = 0;
	if (l->prf && bpf_probe_read_user(&ptr, sizeof(ptr), (void *)(session + l->prf)) == 0 && ptr)
		bpf_probe_read_user(&e->mac_id, sizeof(e->mac_id), (void *)(ptr + l->mac_id));
	if (l->client_random)
		bpf_probe_read_user(e->client_random, sizeof(e->client_random), (void *)(session + l->client_random));
	if (e->version == 5) {
		/* no TLS 1.3 members in this layout: the key log hook reports TLS 1.3 (handshake used for resumed TLS 1.2) */
		if (!l->hs_ckey && !l->ap_ckey)
			return 0;
		read_secret(e->client_early_secret, session, l->e_ckey);
		read_secret(e->client_hs_secret, session, l->hs_ckey);
		read_secret(e->server_hs_secret, session, l->hs_skey);
		read_secret(e->client_ap_secret, session, l->ap_ckey);
		read_secret(e->server_ap_secret, session, l->ap_skey);
		read_secret(e->exporter_secret, session, l->ap_expkey);
	} else if (l->master_secret) {
		bpf_probe_read_user(e->master_secret, sizeof(e->master_secret), (void *)(session + l->master_secret));
	}
	if (emit(ctx, e, sizeof(*e)))
		count_drop(DROP_RINGBUF_FULL, 0);
	return 0;
}
