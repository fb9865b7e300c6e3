/* uprobe_multi links (Linux >= 6.6), created with the bpf() syscall because libbpf 1.1 predates them.
 *
 * Why: a classic uprobe is a perf event whose close waits for RCU grace periods under a kernel-wide mutex,
 * 50-100 ms each here, so detaching a capture's ~30 probes took 1.5-2.5 s at every Ctrl-C. A uprobe_multi
 * link is not a perf event: closing one waits once, and links closed from several threads share the wait
 * (measured on 6.18: 32 probes detached in 25-40 ms instead of 2.6 s; attached in 0.2 ms instead of 2.5).
 * A program attached this way must be loaded with expected_attach_type BPF_TRACE_UPROBE_MULTI, so the
 * choice is made per object before load (BpfObject option uprobeMulti), after probeUprobeMulti(). */
#include "addon.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* enum bpf_attach_type and flag values from the kernel's uapi (not in Debian 12's headers) */
#define ECAP_TRACE_UPROBE_MULTI 48
#define ECAP_F_UPROBE_MULTI_RETURN 1U

/* union bpf_attr's link_create with its uprobe_multi member (uapi layout since 6.6) */
struct ecap_link_create_umulti {
  __u32 prog_fd, target_fd, attach_type, flags;
  __aligned_u64 path, offsets, ref_ctr_offsets, cookies;
  __u32 cnt, umulti_flags, pid;
};
union ecap_attr {
  struct ecap_link_create_umulti lc;
  char pad[128]; /* larger than any kernel's link_create: trailing zeros are accepted */
};

static int link_create(int prog_fd, const char *path, uint64_t offset, uint64_t cookie, bool ret, int pid) {
  union ecap_attr a;
  memset(&a, 0, sizeof a);
  a.lc.prog_fd = (__u32)prog_fd;
  a.lc.attach_type = ECAP_TRACE_UPROBE_MULTI;
  a.lc.path = (__u64)(uintptr_t)path;
  a.lc.offsets = (__u64)(uintptr_t)&offset;
  a.lc.cookies = (__u64)(uintptr_t)&cookie;
  a.lc.cnt = 1;
  a.lc.umulti_flags = ret ? ECAP_F_UPROBE_MULTI_RETURN : 0;
  a.lc.pid = pid > 0 ? (__u32)pid : 0;
  int fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof a);
  return fd < 0 ? -errno : fd;
}

bool ecap_is_uprobe_section(struct bpf_program *p) {
  const char *s = bpf_program__section_name(p);
  return s && (strncmp(s, "uprobe", 6) == 0 || strncmp(s, "uretprobe", 9) == 0);
}

void ecap_set_uprobe_multi(struct bpf_object *obj) {
  struct bpf_program *p;
  bpf_object__for_each_program(p, obj) {
    if (ecap_is_uprobe_section(p)) bpf_program__set_expected_attach_type(p, ECAP_TRACE_UPROBE_MULTI);
  }
}

bool ecap_prog_is_umulti(struct bpf_program *p) {
  return (int)bpf_program__expected_attach_type(p) == ECAP_TRACE_UPROBE_MULTI;
}

int ecap_umulti_attach(struct bpf_program *p, const char *path, uint64_t offset, uint64_t cookie, bool ret, int pid) {
  return link_create(bpf_program__fd(p), path, offset, cookie, ret, pid);
}

/* probeUprobeMulti(): does this kernel create uprobe_multi links? A trivial program loaded with that
 * attach type, linked to a path that does not exist: ENOENT means the kernel got as far as the path. */
napi_value js_probe_uprobe_multi(napi_env env, napi_callback_info info) {
  struct bpf_insn insns[2] = { { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                               { .code = BPF_JMP | BPF_EXIT } };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = (enum bpf_attach_type)ECAP_TRACE_UPROBE_MULTI);
  bool ok = false;
  int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &opts);
  if (fd >= 0) {
    int l = link_create(fd, "/nonexistent/ecapture-probe", 0, 0, false, 0);
    ok = l == -ENOENT;
    if (l >= 0) close(l);
    close(fd);
  }
  napi_value v;
  napi_get_boolean(env, ok, &v);
  return v;
}
