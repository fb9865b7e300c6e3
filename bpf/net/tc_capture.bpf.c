/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * Packet capture for pcap mode: TC clsact programs on the ingress and egress of one interface copy each frame
 * (up to the snap length) to the ring buffer, with the process that owns the packet's local socket.
 *
 * RETURN VALUE. The programs only observe: they return TC_ACT_UNSPEC, which lets the packet go on exactly as
 * TC_ACT_OK does for a clsact hook, but also lets filters after ours (other tools' programs, or a second capture
 * of ours) run; TC_ACT_OK would end the filter chain there.
 *
 * LOOPBACK. Every packet on lo crosses its egress and then its ingress hook; rodata skip_ingress makes the
 * ingress program ignore lo, so each packet is captured once (as tcpdump -i lo shows it).
 *
 * ATTRIBUTION without kprobes. sk_owners maps a socket's flow (as seen from its side, struct flow_key) to its
 * owner (pid, tid, uid, cgroup, comm). It is filled where the kernel runs in the owner's context:
 *   - raw tracepoints whose first argument is the struct sock * (sock_send_length and sock_recv_length where the
 *     kernel has them, else tcp_sendmsg_locked; kprobes on tcp_sendmsg/udp_sendmsg where kernels have kprobes);
 *   - accept()/accept4() returning (the accepted socket), and listen() (sock:inet_sock_set_state to LISTEN);
 *   - the first SYN of a connect(), which the egress hook sees inside connect() itself (the owner is the
 *     current task; only where TC programs may read it, rodata tc_current);
 *   - for sockets opened before the capture, userspace (/proc/net/{tcp,udp}* and /proc/<pid>/fd).
 * A packet's owner is looked up by its local end: the source for egress, the destination for ingress, both on
 * loopback (either end may be ours); then the listening/unconnected socket of that address and port.
 * With --pid/--uid/--cgroup_path a packet is kept when an owner of it passes the filter, so both directions of
 * a filtered process's connections are kept on loopback; packets nobody owns are then dropped.
 */
#include "common.bpf.h"
#include "sock.bpf.h"
#include "cbpf.bpf.h"

#define TC_ACT_UNSPEC (-1)
#define ECAP_ETH_P_IP 0x0800
#define ECAP_ETH_P_IPV6 0x86DD
#define ECAP_ETH_P_8021Q 0x8100
#define ECAP_ETH_P_8021AD 0x88A8
#define ECAP_TCP_SYN 0x02
#define ECAP_TCP_ACK 0x10
/* a perf sample carries at most 64 KiB; the ring buffer has no such limit */
#define ECAP_PERF_MAX_DATA (65535 - 8 - sizeof(struct packet_event) + ECAP_MAX_PACKET)

/* Knobs, set by userspace before load. */
const volatile __u32 snaplen = ECAP_MAX_PACKET;
const volatile __u32 link_eth = 1;     /* frames start with an Ethernet header (else: raw IP) */
const volatile __u32 skip_ingress = 0; /* loopback: the egress hook sees every packet */
const volatile __u32 is_loopback = 0;  /* both ends of a packet may be local */
const volatile __u32 tc_current = 0;   /* TC programs may read the current task (bpf_get_current_pid_tgid) */

enum pkt_counter {
	PC_SEEN = 0,      /* frames the hooks saw */
	PC_FILTERED = 1,  /* rejected by the pcap filter */
	PC_NOT_OURS = 2,  /* rejected by the pid/uid/cgroup filter */
	PC_SENT = 3,      /* sent to userspace */
	PC_COUNTERS = 4,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PC_COUNTERS);
	__type(key, __u32);
	__type(value, struct drop_counter);
} pkt_counters SEC(".maps");

/* One packet_event per CPU (too big for a per-CPU map); userspace sets max_entries to the number of CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct packet_event);
} pkt_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct sk_owner);
} sk_owners SEC(".maps");

struct packet_event *_btf_packet_event __attribute__((unused));
struct flow_key *_btf_flow_key __attribute__((unused));
struct sk_owner *_btf_sk_owner __attribute__((unused));
struct cbpf_insn *_btf_cbpf_insn __attribute__((unused));
enum pkt_flags _btf_pkt_flags __attribute__((unused));

static __always_inline struct packet_event *cbpf_packet(__u32 key)
{
	return bpf_map_lookup_elem(&pkt_scratch, &key);
}

static __always_inline void count(__u32 which, __u64 bytes)
{
	struct drop_counter *c = bpf_map_lookup_elem(&pkt_counters, &which);
	if (c) {
		c->events += 1;
		c->bytes += bytes;
	}
}

/* ---- owners ---- */

static __always_inline int is_v4mapped(const __u8 *a)
{
	__u64 lo = 0;
	__u32 mid = 0;
	__builtin_memcpy(&lo, a, 8);
	__builtin_memcpy(&mid, a + 8, 4);
	return lo == 0 && mid == bpf_htonl(0x0000ffff);
}

static __always_inline void v4mapped_to_v4(__u8 *a)
{
	__u32 v4;
	__builtin_memcpy(&v4, a + 12, 4);
	__builtin_memset(a, 0, 16);
	__builtin_memcpy(a, &v4, 4);
}

/* The flow of a socket, from its side. Returns 0 for sockets that are not TCP/UDP over IP. */
static __always_inline int key_of_sock(struct sock *sk, struct flow_key *k)
{
	__u16 family;
	__u32 proto;

	__builtin_memset(k, 0, sizeof(*k));
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	k->proto = proto;
	k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		k->family = 4;
		__builtin_memcpy(k->laddr, &l, 4);
		__builtin_memcpy(k->raddr, &r, 4);
		return 1;
	}
	BPF_CORE_READ_INTO(&k->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	BPF_CORE_READ_INTO(&k->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	k->family = 6;
	if (is_v4mapped(k->laddr) || is_v4mapped(k->raddr)) {
		/* an IPv6 socket talking IPv4: its packets are IPv4 */
		k->family = 4;
		if (is_v4mapped(k->laddr))
			v4mapped_to_v4(k->laddr);
		if (is_v4mapped(k->raddr))
			v4mapped_to_v4(k->raddr);
	}
	return 1;
}

/* Record the current task as the owner of a flow (no write when it already is). */
static __always_inline void own_current(struct flow_key *k)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	struct sk_owner *o, n = {};

	if (pid == 0)
		return; /* the idle task: not a process context */
	o = bpf_map_lookup_elem(&sk_owners, k);
	if (o && o->pid == pid)
		return;
	n.pid = pid;
	n.tid = (__u32)id;
	n.uid = (__u32)bpf_get_current_uid_gid();
	n.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(n.comm, sizeof(n.comm));
	bpf_map_update_elem(&sk_owners, k, &n, BPF_ANY);
}

static __always_inline int own_sock(struct sock *sk)
{
	struct flow_key k;
	if (key_of_sock(sk, &k))
		own_current(&k);
	return 0;
}

/* raw tracepoints whose first argument is the socket: sock_send_length, sock_recv_length, tcp_sendmsg_locked */
SEC("raw_tp")
int raw_tp_sk_owner(struct bpf_raw_tracepoint_args *ctx)
{
	return own_sock((struct sock *)ctx->args[0]);
}

/* kprobes on tcp_sendmsg(struct sock *, ...) / udp_sendmsg(struct sock *, ...) where kernels have kprobes */
SEC("kprobe")
int BPF_KPROBE(kprobe_sk_owner, struct sock *sk)
{
	return own_sock(sk);
}

static __always_inline int own_fd(long fd)
{
	struct socket *sock;
	if (fd < 0)
		return 0;
	sock = socket_of_fd((int)fd);
	return sock ? own_sock(BPF_CORE_READ(sock, sk)) : 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int tp_owner_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return own_fd(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept")
int tp_owner_accept(struct trace_event_raw_sys_exit *ctx)
{
	return own_fd(ctx->ret);
}

/* listen(): the listening socket owns the packets of connections not accepted yet */
SEC("tracepoint/sock/inet_sock_set_state")
int tp_owner_listen(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP || ctx->newstate != TCP_LISTEN)
		return 0;
	return own_sock((struct sock *)ctx->skaddr);
}

/* Fallback where the kernel has neither those raw tracepoints nor kprobes: sends by fd. */
#define OWNER_IO_TP(name)                                                     \
	SEC("tracepoint/syscalls/" #name)                                     \
	int tp_owner_##name(struct trace_event_raw_sys_enter *ctx)            \
	{                                                                     \
		return own_fd((long)ctx->args[0]);                            \
	}

OWNER_IO_TP(sys_enter_sendto)
OWNER_IO_TP(sys_enter_sendmsg)
OWNER_IO_TP(sys_enter_write)
OWNER_IO_TP(sys_enter_writev)

/* ---- packets ---- */

struct pkt_flow {
	__u8 family;
	__u8 proto;
	__u8 tcp_flags;
	__u8 _pad;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Ports and addresses of a TCP/UDP packet in e->data[0..cap). Returns 0 for anything else. */
static __always_inline int parse_flow(struct packet_event *e, __u32 cap, struct pkt_flow *f)
{
	__u32 off = 0, l4, proto = 0;
	__u8 l4proto;
	int i;

	if (link_eth) {
		if (cap < 14)
			return 0;
		proto = ((__u32)e->data[12] << 8) | e->data[13];
		off = 14;
#pragma unroll
		for (i = 0; i < 2; i++) {
			if (proto != ECAP_ETH_P_8021Q && proto != ECAP_ETH_P_8021AD)
				break;
			if (cap < off + 4)
				return 0;
			proto = ((__u32)e->data[off + 2] << 8) | e->data[off + 3];
			off += 4;
		}
	} else {
		if (cap < 1)
			return 0;
		proto = (e->data[0] >> 4) == 4 ? ECAP_ETH_P_IP : (e->data[0] >> 4) == 6 ? ECAP_ETH_P_IPV6 : 0;
	}
	if (off > 22)
		return 0;
	if (proto == ECAP_ETH_P_IP) {
		__u32 ihl;
		if (cap < off + 20)
			return 0;
		ihl = (e->data[off] & 0x0f) * 4;
		if (ihl < 20 || (((__u32)e->data[off + 6] & 0x1f) << 8 | e->data[off + 7]) != 0)
			return 0; /* bad header, or a fragment after the first */
		l4proto = e->data[off + 9];
		f->family = 4;
		__builtin_memset(f->saddr, 0, 16);
		__builtin_memset(f->daddr, 0, 16);
		__builtin_memcpy(f->saddr, e->data + off + 12, 4);
		__builtin_memcpy(f->daddr, e->data + off + 16, 4);
		l4 = off + ihl;
	} else if (proto == ECAP_ETH_P_IPV6) {
		if (cap < off + 40)
			return 0;
		l4proto = e->data[off + 6]; /* extension headers are not followed */
		f->family = 6;
		__builtin_memcpy(f->saddr, e->data + off + 8, 16);
		__builtin_memcpy(f->daddr, e->data + off + 24, 16);
		l4 = off + 40;
	} else {
		return 0;
	}
	if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP)
		return 0;
	if (l4 > 100 || cap < l4 + 4)
		return 0;
	f->proto = l4proto;
	f->sport = ((__u16)e->data[l4] << 8) | e->data[l4 + 1];
	f->dport = ((__u16)e->data[l4 + 2] << 8) | e->data[l4 + 3];
	f->tcp_flags = (l4proto == IPPROTO_TCP && cap >= l4 + 14) ? e->data[l4 + 13] : 0;
	return 1;
}

static __always_inline void key_of_flow(struct pkt_flow *f, int local_is_src, struct flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = f->family;
	k->proto = f->proto;
	if (local_is_src) {
		k->lport = f->sport;
		k->rport = f->dport;
		__builtin_memcpy(k->laddr, f->saddr, 16);
		__builtin_memcpy(k->raddr, f->daddr, 16);
	} else {
		k->lport = f->dport;
		k->rport = f->sport;
		__builtin_memcpy(k->laddr, f->daddr, 16);
		__builtin_memcpy(k->raddr, f->saddr, 16);
	}
}

/* The owner of the local end: the exact flow, then a listening/unconnected socket of that address or port. */
static __always_inline struct sk_owner *owner_of(struct pkt_flow *f, int local_is_src, int *exact)
{
	struct flow_key k;
	struct sk_owner *o;

	key_of_flow(f, local_is_src, &k);
	o = bpf_map_lookup_elem(&sk_owners, &k);
	*exact = o != NULL;
	if (o)
		return o;
	k.rport = 0;
	__builtin_memset(k.raddr, 0, 16);
	o = bpf_map_lookup_elem(&sk_owners, &k);
	if (o)
		return o;
	__builtin_memset(k.laddr, 0, 16);
	o = bpf_map_lookup_elem(&sk_owners, &k);
	if (o || k.family != 4)
		return o;
	k.family = 6; /* a dual-stack socket bound to [::] */
	return bpf_map_lookup_elem(&sk_owners, &k);
}

/* Does this owner pass --pid/--uid/--cgroup_path (the live filter when set)? */
static __always_inline int owner_passes(struct sk_owner *o)
{
	__u32 flags = filter_flags, pid = target_pid, uid = target_uid;
	__u64 cg = target_cgroup_id;
	__u32 zero = 0;
	struct live_filter *lf = bpf_map_lookup_elem(&live_filter_map, &zero);
	if (lf && lf->active) {
		flags = lf->flags;
		pid = lf->pid;
		uid = lf->uid;
		cg = lf->cgroup_id;
	}
	if (!flags)
		return 1;
	if (!o)
		return 0;
	if ((flags & FILTER_PID) && o->pid != pid)
		return 0;
	if ((flags & FILTER_UID) && o->uid != uid)
		return 0;
	if ((flags & FILTER_CGROUP) && o->cgroup_id != cg)
		return 0;
	return 1;
}

static __always_inline int filter_active(void)
{
	__u32 zero = 0;
	struct live_filter *lf = bpf_map_lookup_elem(&live_filter_map, &zero);
	return (lf && lf->active) ? lf->flags != 0 : filter_flags != 0;
}

static __always_inline void capture(struct __sk_buff *skb, int egress)
{
	__u32 key = bpf_get_smp_processor_id();
	struct packet_event *e;
	struct pkt_flow f = {};
	struct sk_owner *own = NULL, *peer = NULL;
	__u32 len = skb->len, cap, flags = egress ? PKT_EGRESS : 0;
	int have_flow, exact = 0, peer_exact = 0, own_is_src = egress;

	count(PC_SEEN, len);
	if (len == 0)
		return;
	cap = len < snaplen ? len : snaplen;
	if (use_perfbuf && cap > ECAP_PERF_MAX_DATA)
		cap = ECAP_PERF_MAX_DATA;
	if (cap > ECAP_MAX_PACKET)
		cap = ECAP_MAX_PACKET;
	if (cap == 0)
		return;
	e = bpf_map_lookup_elem(&pkt_scratch, &key);
	if (!e) {
		count_drop(DROP_MAP_FULL, len);
		return;
	}
	if (bpf_skb_load_bytes(skb, 0, e->data, cap) != 0) {
		count_drop(DROP_READ_FAULT, len);
		return;
	}
	if (cbpf_run(key, cap, len) == 0) {
		count(PC_FILTERED, len);
		return;
	}

	have_flow = parse_flow(e, cap, &f);
	if (have_flow) {
		own = owner_of(&f, egress, &exact);
		if (is_loopback)
			peer = owner_of(&f, !egress, &peer_exact);
		/* the first SYN of a connect() leaves inside the connect() call: its owner is the current task */
		if (tc_current && egress && !exact && skb->sk && f.proto == IPPROTO_TCP &&
		    (f.tcp_flags & (ECAP_TCP_SYN | ECAP_TCP_ACK)) == ECAP_TCP_SYN) {
			struct flow_key k;
			key_of_flow(&f, 1, &k);
			own_current(&k);
			own = bpf_map_lookup_elem(&sk_owners, &k);
		}
	}
	if (filter_active() && !owner_passes(own) && !owner_passes(peer)) {
		count(PC_NOT_OURS, len);
		return;
	}

	e->hdr.kind = EVENT_PACKET;
	e->hdr.flags = 0;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->hdr.cpu = key;
	if (!own && peer) {
		own = peer; /* only the other end is known */
		peer = NULL;
		own_is_src = !egress;
	}
	if (own) {
		flags |= PKT_OWNER | (own_is_src ? PKT_SENDER : 0);
		e->hdr.pid = own->pid;
		e->hdr.tid = own->tid;
		e->hdr.uid = own->uid;
		e->hdr.cgroup_id = own->cgroup_id;
		__builtin_memcpy(e->hdr.comm, own->comm, ECAP_COMM_LEN);
	} else {
		e->hdr.pid = 0;
		e->hdr.tid = 0;
		e->hdr.uid = 0;
		e->hdr.cgroup_id = 0;
		__builtin_memset(e->hdr.comm, 0, ECAP_COMM_LEN);
	}
	e->peer_pid = 0;
	if (peer && peer->pid != e->hdr.pid) {
		flags |= PKT_PEER_OWNER;
		e->peer_pid = peer->pid;
	}
	e->ifindex = skb->ifindex;
	e->pkt_flags = flags;
	e->len = len;
	e->cap_len = cap;
	if (emit(skb, e, offsetof(struct packet_event, data) + cap) != 0) {
		count_drop(DROP_RINGBUF_FULL, len);
		return;
	}
	count(PC_SENT, len);
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	capture(skb, 1);
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	if (!skip_ingress)
		capture(skb, 0);
	return TC_ACT_UNSPEC;
}
