// SPDX-License-Identifier: GPL-2.0
/* Test fixture: compiles, but the verifier must reject bad_access (out-of-bounds map value read),
 * so that the e2e test can check load() errors carry the program name and the verifier log. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} small SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getpid")
int fine_prog(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int bad_access(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&small, &key);

	if (!v)
		return 0;
	/* value_size is 8: reading at offset 64 is out of bounds */
	return (int)*(volatile __u64 *)((char *)v + 64);
}
