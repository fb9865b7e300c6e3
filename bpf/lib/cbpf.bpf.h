/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/*
 * A classic BPF (pcap-filter) interpreter for TC programs: runs the program libpcap's pcap_compile made for the
 * capture's link type (the native pcapCompile) over a packet already copied into a buffer, with the semantics
 * of libpcap's bpf_filter(): 32-bit A and X, scratch memory M[16], big-endian packet loads that reject the packet
 * when they fall outside the captured bytes, division by zero rejects, shifts by 32 or more give 0, and the
 * result is the RET value (0 = reject).
 *
 * Why an interpreter and not a translation to eBPF instructions: the program is data (rodata, set before load),
 * so the object stays one prebuilt CO-RE file and nothing is generated or patched at run time; classic BPF jumps
 * only forward, so a program of n instructions finishes within n steps, one bpf_loop (Linux >= 5.17) iteration
 * each. Userspace falls back to running the filter itself (libpcap's bpf_filter through native pcapFilter) when
 * the kernel has no bpf_loop or the program is longer than ECAP_MAX_CBPF; bench/pcap.ts measures both.
 *
 * The includer defines cbpf_packet(key) returning the struct packet_event whose data[] holds the packet.
 */
#ifndef ECAP_CBPF_BPF_H
#define ECAP_CBPF_BPF_H

#include "common.bpf.h"

#define ECAP_MAX_CBPF 4096 /* BPF_MAXINSNS */

/* classic BPF opcode fields (linux/filter.h, pcap/bpf.h) */
#define CBPF_CLASS(c) ((c) & 0x07)
#define CBPF_LD 0x00
#define CBPF_LDX 0x01
#define CBPF_ST 0x02
#define CBPF_STX 0x03
#define CBPF_ALU 0x04
#define CBPF_JMP 0x05
#define CBPF_RET 0x06
#define CBPF_MISC 0x07
#define CBPF_SIZE(c) ((c) & 0x18)
#define CBPF_W 0x00
#define CBPF_H 0x08
#define CBPF_B 0x10
#define CBPF_MODE(c) ((c) & 0xe0)
#define CBPF_IMM 0x00
#define CBPF_ABS 0x20
#define CBPF_IND 0x40
#define CBPF_MEM 0x60
#define CBPF_LEN 0x80
#define CBPF_MSH 0xa0
#define CBPF_OP(c) ((c) & 0xf0)
#define CBPF_SRC(c) ((c) & 0x08)
#define CBPF_X 0x08
#define CBPF_RVAL(c) ((c) & 0x18)
#define CBPF_A 0x10

/* the filter: cbpf_len instructions (0 = no filter), set by userspace before load */
const volatile __u32 cbpf_len = 0;
const volatile struct cbpf_insn cbpf_prog[ECAP_MAX_CBPF] = {};

struct cbpf_state {
	__u32 pc;
	__u32 a;
	__u32 x;
	__u32 ret;
	__u32 done;
	__u32 cap_len;  /* bytes of the packet in the buffer */
	__u32 wire_len; /* its length on the wire (BPF_LEN) */
	__u32 key;      /* for cbpf_packet() */
	__u32 mem[16];
};

static __always_inline struct packet_event *cbpf_packet(__u32 key);

/* Load `size` (1, 2, 4) big-endian bytes at `off`; returns 0, or -1 when outside the captured bytes. */
static __always_inline int cbpf_load(struct cbpf_state *s, __u64 off, __u32 size, __u32 *out)
{
	struct packet_event *e;
	__u8 *p;
	__u64 o;

	if (off + size > s->cap_len)
		return -1;
	e = cbpf_packet(s->key);
	if (!e)
		return -1;
	o = off;
	if (o > ECAP_MAX_PACKET - 4)
		return -1;
	barrier_var(o); /* keep the bounds check on the register that indexes */
	p = e->data + o;
	if (size == 4)
		*out = ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
	else if (size == 2)
		*out = ((__u32)p[0] << 8) | p[1];
	else
		*out = p[0];
	return 0;
}

static __always_inline long cbpf_reject(struct cbpf_state *s)
{
	s->ret = 0;
	s->done = 1;
	return 1;
}

static long cbpf_step(__u32 i, void *data)
{
	struct cbpf_state *s = data;
	struct cbpf_insn in;
	__u32 pc = s->pc, v = 0, size, src;
	__u16 code;

	if (pc >= cbpf_len || pc >= ECAP_MAX_CBPF)
		return cbpf_reject(s); /* ran off the end: not a valid program */
	in = cbpf_prog[pc];
	code = in.code;
	s->pc = pc + 1;
	size = CBPF_SIZE(code) == CBPF_W ? 4 : CBPF_SIZE(code) == CBPF_H ? 2 : 1;

	switch (CBPF_CLASS(code)) {
	case CBPF_RET:
		s->ret = CBPF_RVAL(code) == CBPF_A ? s->a : CBPF_RVAL(code) == CBPF_X ? s->x : in.k;
		s->done = 1;
		return 1;
	case CBPF_LD:
	case CBPF_LDX:
		switch (CBPF_MODE(code)) {
		case CBPF_IMM:
			v = in.k;
			break;
		case CBPF_LEN:
			v = s->wire_len;
			break;
		case CBPF_MEM:
			if (in.k >= 16)
				return cbpf_reject(s);
			v = s->mem[in.k & 15];
			break;
		case CBPF_ABS:
			if (CBPF_CLASS(code) != CBPF_LD || cbpf_load(s, in.k, size, &v))
				return cbpf_reject(s);
			break;
		case CBPF_IND:
			if (CBPF_CLASS(code) != CBPF_LD || cbpf_load(s, (__u64)s->x + in.k, size, &v))
				return cbpf_reject(s);
			break;
		case CBPF_MSH: /* X = 4 * (P[k] & 0xf): an IPv4 header length */
			if (CBPF_CLASS(code) != CBPF_LDX || cbpf_load(s, in.k, 1, &v))
				return cbpf_reject(s);
			v = (v & 0xf) << 2;
			break;
		default:
			return cbpf_reject(s);
		}
		if (CBPF_CLASS(code) == CBPF_LD)
			s->a = v;
		else
			s->x = v;
		return 0;
	case CBPF_ST:
	case CBPF_STX:
		if (in.k >= 16)
			return cbpf_reject(s);
		s->mem[in.k & 15] = CBPF_CLASS(code) == CBPF_ST ? s->a : s->x;
		return 0;
	case CBPF_ALU:
		src = CBPF_SRC(code) == CBPF_X ? s->x : in.k;
		switch (CBPF_OP(code)) {
		case 0x00: s->a += src; break;
		case 0x10: s->a -= src; break;
		case 0x20: s->a *= src; break;
		case 0x30:
			if (src == 0)
				return cbpf_reject(s);
			s->a /= src;
			break;
		case 0x90:
			if (src == 0)
				return cbpf_reject(s);
			s->a %= src;
			break;
		case 0x40: s->a |= src; break;
		case 0x50: s->a &= src; break;
		case 0xa0: s->a ^= src; break;
		case 0x60: s->a = src < 32 ? s->a << src : 0; break;
		case 0x70: s->a = src < 32 ? s->a >> src : 0; break;
		case 0x80: s->a = -s->a; break;
		default:
			return cbpf_reject(s);
		}
		return 0;
	case CBPF_JMP: {
		__u32 op = CBPF_OP(code), cond;
		if (op == 0x00) { /* JA */
			if (in.k >= ECAP_MAX_CBPF)
				return cbpf_reject(s);
			s->pc = pc + 1 + in.k;
			return 0;
		}
		src = CBPF_SRC(code) == CBPF_X ? s->x : in.k;
		if (op == 0x10)
			cond = s->a == src;
		else if (op == 0x20)
			cond = s->a > src;
		else if (op == 0x30)
			cond = s->a >= src;
		else if (op == 0x40)
			cond = (s->a & src) != 0;
		else
			return cbpf_reject(s);
		s->pc = pc + 1 + (cond ? in.jt : in.jf);
		return 0;
	}
	case CBPF_MISC:
		if ((code & 0xf8) == 0x00) /* TAX */
			s->x = s->a;
		else if ((code & 0xf8) == 0x80) /* TXA */
			s->a = s->x;
		else
			return cbpf_reject(s);
		return 0;
	}
	return cbpf_reject(s);
}

/* Run the filter: the RET value (0 = reject), or 1 when there is no filter. */
static __always_inline __u32 cbpf_run(__u32 key, __u32 cap_len, __u32 wire_len)
{
	struct cbpf_state s = {};
	__u32 n = cbpf_len;

	if (n == 0)
		return 1;
	if (n > ECAP_MAX_CBPF)
		n = ECAP_MAX_CBPF;
	s.cap_len = cap_len;
	s.wire_len = wire_len;
	s.key = key;
	bpf_loop(n, cbpf_step, &s, 0);
	return s.done ? s.ret : 0;
}

#endif
