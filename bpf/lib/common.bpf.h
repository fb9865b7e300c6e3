/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* BPF-only helpers shared by every object: includes, the process filter, event headers, output, drops. */
#ifndef ECAP_COMMON_BPF_H
#define ECAP_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "events.h"

/* Knobs, set by userspace before load (rodata). */
#define FILTER_PID (1u << 0)
#define FILTER_UID (1u << 1)
#define FILTER_CGROUP (1u << 2)
const volatile __u32 filter_flags = 0;
const volatile __u32 target_pid = 0;
const volatile __u32 target_uid = 0;
const volatile __u64 target_cgroup_id = 0;
/* 1 where the kernel has no BPF ring buffer: events go to the per-CPU perf buffer instead */
const volatile __u32 use_perfbuf = 0;
/*
 * Adaptive ring-buffer wakeups: with a threshold set, a submit wakes the reader only once that many bytes
 * are waiting; userspace also drains on a short timer. Under load this turns one wakeup per event into one
 * per batch (the reader's cost per event drops several times); 0 = wake on every event.
 */
const volatile __u64 wakeup_bytes = 0;

/* The same filter, changeable while running (struct live_filter in events.h); used when .active is set. */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct live_filter);
} live_filter_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by userspace from --mapsize */
} events_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events_pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_REASONS);
	__type(key, __u32);
	__type(value, struct drop_counter);
} drops SEC(".maps");

static __always_inline int pass_filter(void)
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
	if ((flags & FILTER_PID) && (__u32)(bpf_get_current_pid_tgid() >> 32) != pid)
		return 0;
	if ((flags & FILTER_UID) && (__u32)bpf_get_current_uid_gid() != uid)
		return 0;
	if ((flags & FILTER_CGROUP) && bpf_get_current_cgroup_id() != cg)
		return 0;
	return 1;
}

static __always_inline void fill_hdr(struct event_hdr *h, __u32 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->cpu = bpf_get_smp_processor_id();
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

static __always_inline void count_drop(__u32 reason, __u64 bytes)
{
	struct drop_counter *c = bpf_map_lookup_elem(&drops, &reason);
	if (c) {
		c->events += 1;
		c->bytes += bytes;
	}
}

/* Send `size` bytes of `data` to userspace; counts a drop when the buffer is full. */
static __always_inline long emit(void *ctx, void *data, __u64 size)
{
	long err;
	__u64 flags = 0;

	if (use_perfbuf)
		return bpf_perf_event_output(ctx, &events_pb, BPF_F_CURRENT_CPU, data, size);
	if (wakeup_bytes)
		flags = bpf_ringbuf_query(&events_rb, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
											    : BPF_RB_NO_WAKEUP;
	err = bpf_ringbuf_output(&events_rb, data, size, flags);
	return err;
}

/* BTF anchors: make the wire enums visible to scripts/gen-events.ts. */
enum event_kind _btf_event_kind __attribute__((unused));
enum data_dir _btf_data_dir __attribute__((unused));
enum event_flags _btf_event_flags __attribute__((unused));
enum drop_reason _btf_drop_reason __attribute__((unused));
struct drop_counter *_btf_drop_counter __attribute__((unused));

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#endif
