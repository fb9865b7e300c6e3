/* Small system helpers: libbpf version, clocks, CPU count, feature probes, mount, memlock, ifindex,
 * cgroup id. */
#include "addon.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  const char *name;
  int value;
} named;

#define P(n, v) { n, BPF_PROG_TYPE_##v }
static const named prog_types[] = {
  P("socket_filter", SOCKET_FILTER), P("kprobe", KPROBE), P("sched_cls", SCHED_CLS), P("sched_act", SCHED_ACT),
  P("tracepoint", TRACEPOINT), P("xdp", XDP), P("perf_event", PERF_EVENT), P("cgroup_skb", CGROUP_SKB),
  P("cgroup_sock", CGROUP_SOCK), P("sock_ops", SOCK_OPS), P("sk_skb", SK_SKB), P("sk_msg", SK_MSG),
  P("raw_tracepoint", RAW_TRACEPOINT), P("cgroup_sock_addr", CGROUP_SOCK_ADDR),
  P("raw_tracepoint_writable", RAW_TRACEPOINT_WRITABLE), P("tracing", TRACING), P("lsm", LSM),
  P("sk_lookup", SK_LOOKUP), P("syscall", SYSCALL), P("cgroup_sockopt", CGROUP_SOCKOPT), P("ext", EXT),
};
#define M(n, v) { n, BPF_MAP_TYPE_##v }
static const named map_types[] = {
  M("hash", HASH), M("array", ARRAY), M("prog_array", PROG_ARRAY), M("perf_event_array", PERF_EVENT_ARRAY),
  M("percpu_hash", PERCPU_HASH), M("percpu_array", PERCPU_ARRAY), M("stack_trace", STACK_TRACE),
  M("lru_hash", LRU_HASH), M("lru_percpu_hash", LRU_PERCPU_HASH), M("lpm_trie", LPM_TRIE),
  M("array_of_maps", ARRAY_OF_MAPS), M("hash_of_maps", HASH_OF_MAPS), M("sockmap", SOCKMAP),
  M("sockhash", SOCKHASH), M("queue", QUEUE), M("stack", STACK), M("sk_storage", SK_STORAGE),
  M("ringbuf", RINGBUF), M("inode_storage", INODE_STORAGE), M("task_storage", TASK_STORAGE),
  M("bloom_filter", BLOOM_FILTER), M("user_ringbuf", USER_RINGBUF),
};
#define H(n) { #n, BPF_FUNC_##n }
static const named helpers[] = {
  H(map_lookup_elem), H(probe_read), H(ktime_get_ns), H(get_current_pid_tgid), H(get_current_comm),
  H(perf_event_output), H(skb_load_bytes), H(probe_read_str), H(get_current_task), H(get_socket_cookie),
  H(probe_read_user), H(probe_read_kernel), H(probe_read_user_str), H(probe_read_kernel_str),
  H(get_current_cgroup_id), H(ringbuf_output), H(ringbuf_reserve), H(ringbuf_submit), H(get_current_task_btf),
  H(loop), H(send_signal), H(get_attach_cookie), H(ktime_get_boot_ns), H(get_func_ip),
};

static int lookup(const named *t, size_t n, const char *name) {
  if (!strncmp(name, "bpf_", 4)) name += 4;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(t[i].name, name)) return t[i].value;
  return -1;
}
#define LOOKUP(t, name) lookup(t, sizeof t / sizeof t[0], name)

static napi_value probe_result(napi_env env, int r, const char *what, const char *name) {
  napi_value v;
  if (r < 0) {
    ecap_throw(env, r, "probe %s '%s'", what, name);
    return NULL;
  }
  napi_get_boolean(env, r > 0, &v);
  return v;
}

/* libbpf 1.1's libbpf_probe_bpf_helper() only knows the verifier's old "unknown func" wording; newer
 * kernels say "program of this type cannot use helper", which 1.1 takes for "supported". For program
 * types that need no attach setup we run the same probe (a program calling the helper) and also
 * recognise the new wording; other types go to libbpf. */
static int probe_helper(enum bpf_prog_type t, enum bpf_func_id h) {
  switch (t) {
  case BPF_PROG_TYPE_SOCKET_FILTER: case BPF_PROG_TYPE_KPROBE: case BPF_PROG_TYPE_SCHED_CLS:
  case BPF_PROG_TYPE_SCHED_ACT: case BPF_PROG_TYPE_TRACEPOINT: case BPF_PROG_TYPE_XDP:
  case BPF_PROG_TYPE_PERF_EVENT: case BPF_PROG_TYPE_CGROUP_SKB: case BPF_PROG_TYPE_RAW_TRACEPOINT:
    break;
  default:
    return libbpf_probe_bpf_helper(t, h, NULL);
  }
  struct bpf_insn insns[2] = { { .code = BPF_JMP | BPF_CALL, .imm = h }, { .code = BPF_JMP | BPF_EXIT } };
  static char log[16384];
  log[0] = 0;
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = sizeof log, .log_level = 1);
  int fd = bpf_prog_load(t, NULL, "GPL", insns, 2, &opts);
  if (fd >= 0) {
    close(fd);
    return 1;
  }
  if (strstr(log, "invalid func ") || strstr(log, "unknown func ") || strstr(log, "cannot use helper")) return 0;
  int err = errno;
  if (err == EPERM || err == ENOSPC || log[0] == 0) return -err; /* not a verdict on the helper */
  return 1; /* rejected for another reason (e.g. its arguments): the helper itself is known */
}

static napi_value probe(napi_env env, napi_callback_info info, int kind) {
  napi_value argv[2], result = NULL;
  char *a = NULL, *b = NULL;
  if (!ecap_args(env, info, kind == 2 ? 2 : 1, argv, NULL) || !(a = ecap_str(env, argv[0], "type"))) return NULL;
  int t = kind == 1 ? LOOKUP(map_types, a) : LOOKUP(prog_types, a);
  if (t < 0) {
    ecap_throw(env, EINVAL, "probe %s '%s' (unknown name)", kind == 1 ? "map type" : "program type", a);
  } else if (kind == 0) {
    result = probe_result(env, libbpf_probe_bpf_prog_type(t, NULL), "program type", a);
  } else if (kind == 1) {
    result = probe_result(env, libbpf_probe_bpf_map_type(t, NULL), "map type", a);
  } else if ((b = ecap_str(env, argv[1], "helper"))) {
    int h = LOOKUP(helpers, b);
    if (h < 0) ecap_throw(env, EINVAL, "probe helper '%s' (unknown name)", b);
    else result = probe_result(env, probe_helper(t, h), "helper", b);
  }
  free(a);
  free(b);
  return result;
}

napi_value js_probe_prog_type(napi_env env, napi_callback_info info) { return probe(env, info, 0); }
napi_value js_probe_map_type(napi_env env, napi_callback_info info) { return probe(env, info, 1); }
napi_value js_probe_helper(napi_env env, napi_callback_info info) { return probe(env, info, 2); }

napi_value js_libbpf_version(napi_env env, napi_callback_info info) {
  char v[32];
  snprintf(v, sizeof v, "%u.%u", libbpf_major_version(), libbpf_minor_version());
  return ecap_string(env, v);
}

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000LL + t->tv_nsec; }

/* CLOCK_REALTIME − CLOCK_MONOTONIC: monotonic read between two realtime reads; of 3 tries, the one with
 * the smallest gap wins, and the realtime midpoint is used. */
napi_value js_clock_offset_ns(napi_env env, napi_callback_info info) {
  struct timespec r1, m, r2;
  int64_t best_gap = INT64_MAX, best = 0;
  napi_value v;
  for (int i = 0; i < 3; i++) {
    clock_gettime(CLOCK_REALTIME, &r1);
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &r2);
    int64_t gap = ns(&r2) - ns(&r1);
    if (gap < best_gap) best_gap = gap, best = ns(&r1) + gap / 2 - ns(&m);
  }
  napi_create_bigint_int64(env, best, &v);
  return v;
}

napi_value js_monotonic_ns(napi_env env, napi_callback_info info) {
  struct timespec m;
  napi_value v;
  clock_gettime(CLOCK_MONOTONIC, &m);
  napi_create_bigint_uint64(env, (uint64_t)ns(&m), &v);
  return v;
}

napi_value js_num_possible_cpus(napi_env env, napi_callback_info info) {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) {
    ecap_throw(env, n, "count possible CPUs");
    return NULL;
  }
  return ecap_num(env, n);
}

/* mountFs(fstype, target) */
napi_value js_mount_fs(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char *type = NULL, *target = NULL;
  if (!ecap_args(env, info, 2, argv, NULL) || !(type = ecap_str(env, argv[0], "fstype"))) return NULL;
  if ((target = ecap_str(env, argv[1], "target")) && mount("none", target, type, 0, NULL) != 0)
    ecap_throw(env, ecap_errno(EIO), "mount %s at '%s'", type, target);
  free(type);
  free(target);
  return NULL;
}

napi_value js_raise_memlock(napi_env env, napi_callback_info info) {
  struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
  napi_value v;
  napi_get_boolean(env, setrlimit(RLIMIT_MEMLOCK, &r) == 0, &v);
  return v;
}

napi_value js_if_name_to_index(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char *name;
  if (!ecap_args(env, info, 1, argv, NULL) || !(name = ecap_str(env, argv[0], "name"))) return NULL;
  unsigned idx = if_nametoindex(name);
  free(name);
  return ecap_num(env, idx);
}

/* cgroupId(path): the 8-byte file handle of a cgroup v2 directory is its id. */
napi_value js_cgroup_id(napi_env env, napi_callback_info info) {
  napi_value argv[1], v = NULL;
  char *path;
  int mount_id;
  union {
    struct file_handle fh;
    char space[sizeof(struct file_handle) + 8];
  } h;
  if (!ecap_args(env, info, 1, argv, NULL) || !(path = ecap_str(env, argv[0], "path"))) return NULL;
  h.fh.handle_bytes = 8;
  if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) != 0) {
    ecap_throw(env, ecap_errno(EIO), "get cgroup id of '%s'", path);
  } else if (h.fh.handle_bytes != 8) {
    ecap_throw(env, EINVAL, "get cgroup id of '%s' (file handle is %u bytes, not 8)", path, h.fh.handle_bytes);
  } else {
    uint64_t id;
    memcpy(&id, h.fh.f_handle, 8);
    napi_create_bigint_uint64(env, id, &v);
  }
  free(path);
  return v;
}
