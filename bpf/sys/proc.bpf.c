/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* Process lifecycle for discovery: new programs (exec) may bring new TLS libraries; exits end connections. */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_exec_event);
} proc_scratch SEC(".maps");

struct proc_exec_event *_btf_proc_event __attribute__((unused));

SEC("tracepoint/sched/sched_process_exec")
int tp_sched_process_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 zero = 0;
	struct proc_exec_event *e = bpf_map_lookup_elem(&proc_scratch, &zero);
	struct task_struct *task;
	unsigned int loc;

	if (!e)
		return 0;
	fill_hdr(&e->hdr, EVENT_PROC_EXEC);
	task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = 0;
	loc = ctx->__data_loc_filename & 0xffff;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + loc);
	if (emit(ctx, e, sizeof(*e)))
		count_drop(DROP_RINGBUF_FULL, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int tp_sched_process_exit(void *ctx)
{
	__u32 zero = 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct proc_exec_event *e;
	struct task_struct *task;

	if ((__u32)id != (__u32)(id >> 32))
		return 0; /* a thread, not the process */
	e = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!e)
		return 0;
	fill_hdr(&e->hdr, EVENT_PROC_EXIT);
	task = (struct task_struct *)bpf_get_current_task();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->exit_code = BPF_CORE_READ(task, exit_code);
	e->filename[0] = 0;
	if (emit(ctx, e, offsetof(struct proc_exec_event, filename) + 1))
		count_drop(DROP_RINGBUF_FULL, 0);
	return 0;
}
