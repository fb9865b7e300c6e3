/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* The socket behind a file descriptor of the current task, and its endpoints — without kprobes. */
#ifndef ECAP_SOCK_BPF_H
#define ECAP_SOCK_BPF_H

#include "common.bpf.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define ECAP_S_IFMT 00170000
#define ECAP_S_IFSOCK 0140000

/* struct socket * behind fd in the current task, or NULL when fd is not an open socket. */
static __always_inline struct socket *socket_of_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt;
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;
	umode_t mode;

	if (!files || fd < 0)
		return NULL;
	fdt = BPF_CORE_READ(files, fdt);
	if (!fdt)
		return NULL;
	max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (!fds || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0 || !f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & ECAP_S_IFMT) != ECAP_S_IFSOCK)
		return NULL;
	return (struct socket *)BPF_CORE_READ(f, private_data);
}

/* Fill a tuple from a struct sock; returns 1 when it is an IPv4/IPv6 socket. */
static __always_inline int tuple_of_sock(struct sock *sk, struct sock_tuple *t)
{
	__u16 family;

	__builtin_memset(t, 0, sizeof(*t));
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	t->family = family;
	t->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(t->laddr, &l, 4);
		__builtin_memcpy(t->raddr, &r, 4);
		return 1;
	}
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		return 1;
	}
	t->lport = 0;
	t->rport = 0;
	return 0;
}

/* Fill a tuple from a socket; returns 1 when it is an IPv4/IPv6 socket. */
static __always_inline int tuple_of_socket(struct socket *sock, struct sock_tuple *t)
{
	if (!sock) {
		__builtin_memset(t, 0, sizeof(*t));
		return 0;
	}
	return tuple_of_sock(BPF_CORE_READ(sock, sk), t);
}

#endif
