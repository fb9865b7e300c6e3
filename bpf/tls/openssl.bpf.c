/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * OpenSSL and BoringSSL (shared libraries, and binaries with OpenSSL linked in statically such as node).
 * One object for the whole family: version differences live in rodata set at load, not in build variants.
 * Userspace attaches these programs to each hooked file with an attach cookie naming the file.
 */
#include "tls_data.bpf.h"

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

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
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

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
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

/* void SSL_free(SSL *ssl) */
SEC("uprobe")
int BPF_KPROBE(uprobe_ssl_free, void *ssl)
{
	return tls_forget(ctx, (__u64)ssl);
}
