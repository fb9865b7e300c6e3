// SPDX-License-Identifier: GPL-2.0
/* Test fixture for the native addon e2e test (test/e2e/native.test.ts): one program of each
 * attachment kind and one map of each kind the addon consumes. Not used by the tool itself. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* .rodata knobs, set from JS with setGlobal() before load */
const volatile __u32 knob = 0;
const volatile __u8 use_perf = 0;
/* .data: initialised global (getGlobal/setGlobal with section ".data") */
__u64 data_word = 0x1122334455667788ULL;

#define FIXTURE_MAGIC 0xEC0FFEE5u

enum sample_kind { KIND_TRACEPOINT = 1, KIND_UPROBE = 2, KIND_URETPROBE = 3 };

struct fixture_sample {
	__u32 magic;
	__u32 kind;
	__u32 knob;
	__u32 tgid;
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

static __always_inline void emit(void *ctx, __u32 kind)
{
	struct fixture_sample s = {
		.magic = FIXTURE_MAGIC,
		.kind = kind,
		.knob = knob,
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.ts = bpf_ktime_get_ns(),
	};
	__u64 one = 1, *v;

	v = bpf_map_lookup_elem(&counts, &kind);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &kind, &one, BPF_NOEXIST);
	if (use_perf)
		bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &s, sizeof(s));
	else
		bpf_ringbuf_output(&events, &s, sizeof(s), 0);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tp_getpid(void *ctx)
{
	emit(ctx, KIND_TRACEPOINT);
	return 0;
}

SEC("uprobe")
int probe_entry(struct pt_regs *ctx)
{
	emit(ctx, KIND_UPROBE);
	return 0;
}

SEC("uretprobe")
int probe_return(struct pt_regs *ctx)
{
	emit(ctx, KIND_URETPROBE);
	return 0;
}

/* raw tracepoint and kprobe programs: only loaded when a test asks for them */
SEC("raw_tracepoint/sys_enter")
int raw_sys_enter(void *ctx)
{
	return 0;
}

SEC("kprobe/do_nanosleep")
int kprobe_nanosleep(struct pt_regs *ctx)
{
	return 0;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&pcpu, &key);

	if (v)
		*v += 1;
	return 0; /* TC_ACT_OK */
}
