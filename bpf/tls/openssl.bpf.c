/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * OpenSSL and BoringSSL (shared libraries, and binaries with OpenSSL linked in statically such as node).
 * One object for the whole family: version differences live in rodata/maps set by userspace, not in build
 * variants. Userspace attaches these programs to each hooked file with an attach cookie naming the file.
 *
 * Modes: text mode attaches the plaintext programs (uprobe/uretprobe_ssl_read/write[_ex]); keylog and pcap modes
 * attach the key programs instead (uprobe_ssl_io_keys on the entries of SSL_write[_ex], and
 * uprobe/uretprobe_ssl_do_handshake), with rodata capture_keys = 1 and capture_data = 0 (openssl_keys.bpf.h).
 * Entry probes only, on writes only, in those modes: every probe costs the traced program a trap per call (a
 * uretprobe another one), and a handshake completed inside SSL_read/SSL_write (memory-BIO users such as node
 * never call SSL_do_handshake) is found at the entry of the connection's next SSL_write.
 */
#include "openssl_keys.bpf.h"

/* BIO_TYPE_DESCRIPTOR | BIO_TYPE_SOURCE_SINK: the socket, fd, connect, accept and datagram BIOs, whose num is the fd */
#define ECAP_BIO_DESCRIPTOR_SINK 0x0500

/*
 * The fd behind an SSL object, read from the library's structs with the hooked file's layout (lib_layouts,
 * which text mode fills only for layouts known exactly): SSL->wbio (writes) or ->rbio (reads), when that BIO
 * is a descriptor BIO; -1 otherwise (memory BIOs as node's, custom BIOs as curl's, unknown layouts).
 */
static __always_inline int ssl_struct_fd(__u64 ssl, __u32 lib_id, __u32 dir)
{
	/* only the file's own entry: layout_of()'s default layout is the keys modes' (not set in text mode) */
	struct lib_offsets *lo = lib_id < ECAP_MAX_LIBS ? bpf_map_lookup_elem(&lib_layouts, &lib_id) : NULL;
	__u64 conn, bio, method;
	__s32 num;

	if (!lo || lo->abi != LIB_OFFSETS_ABI || lo->bio_num == LIB_OFFSET_NONE || lo->bio_method == LIB_OFFSET_NONE ||
	    lo->bio_method_type == LIB_OFFSET_NONE)
		return -1;
	conn = tls_conn_of(lo, ssl);
	bio = rd_ptr(conn, dir == DIR_WRITE ? lo->ssl_wbio : lo->ssl_rbio);
	method = rd_ptr(bio, lo->bio_method);
	if (!method || (rd_u32(method, lo->bio_method_type) & 0xff00) != ECAP_BIO_DESCRIPTOR_SINK)
		return -1;
	num = (__s32)rd_u32(bio, lo->bio_num);
	return num >= 0 ? num : -1;
}
#define TLS_STRUCT_FD(conn, lib_id, dir) ssl_struct_fd((conn), (lib_id), (dir))

#include "tls_data.bpf.h"

const volatile __u32 capture_data = 1;

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_write, void *ssl, const void *buf, int num)
{
	return tls_enter(ctx, (__u64)ssl, (__u64)buf, 0, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_write)
{
	return tls_exit(ctx, 0);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_read, void *ssl, void *buf, int num)
{
	return tls_enter(ctx, (__u64)ssl, (__u64)buf, 0, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_read)
{
	return tls_exit(ctx, 0);
}

/*
 * int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written), and the inner function that SSL_write and
 * SSL_write_ex both call with these arguments where userspace found one (ssl_write_internal, OpenSSL 1.1.1-3.1)
 */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_write_ex, void *ssl, const void *buf, size_t num, size_t *written)
{
	return tls_enter(ctx, (__u64)ssl, (__u64)buf, (__u64)written, DIR_WRITE);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_write_ex)
{
	return tls_exit(ctx, 1);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes), and likewise ssl_read_internal */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_read_ex, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return tls_enter(ctx, (__u64)ssl, (__u64)buf, (__u64)readbytes, DIR_READ);
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_read_ex)
{
	return tls_exit(ctx, 1);
}

/* keylog/pcap modes: the entry of SSL_read/SSL_write/_ex: report the secrets of a handshake completed earlier */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_io_keys, void *ssl)
{
	if (!capture_keys || !pass_filter())
		return 0;
	keys_check(ctx, (__u64)ssl, (__u32)bpf_get_attach_cookie(ctx), MS_SRC_IO);
	return 0;
}

/* int SSL_do_handshake(SSL *s): 1 = handshake complete (keylog/pcap modes only) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_do_handshake, void *ssl)
{
	keys_enter(ctx, (__u64)ssl);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uretprobe_ssl_do_handshake)
{
	keys_exit(ctx, (int)PT_REGS_RC(ctx) == 1, MS_SRC_HANDSHAKE);
	return 0;
}

/* void SSL_free(SSL *ssl) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_free, void *ssl)
{
	keys_forget((__u64)ssl);
	if (!capture_data)
		return 0;
	return tls_forget(ctx, (__u64)ssl);
}

/* Syscalls made inside a TLS call: BoringSSL handshake snapshots (keylog/pcap modes, BoringSSL targets only). */
#define KEYS_IO_TP(name)                                                      \
	SEC("tracepoint/syscalls/" #name)                                     \
	int keys_##name(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                     \
		return keys_on_syscall();                                     \
	}

KEYS_IO_TP(sys_enter_write)
KEYS_IO_TP(sys_enter_writev)
KEYS_IO_TP(sys_enter_sendto)
KEYS_IO_TP(sys_enter_sendmsg)
KEYS_IO_TP(sys_enter_read)
KEYS_IO_TP(sys_enter_readv)
KEYS_IO_TP(sys_enter_recvfrom)
KEYS_IO_TP(sys_enter_recvmsg)
