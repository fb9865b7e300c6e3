/* Shared declarations of the ecapture native addon: a thin N-API binding over libbpf and libpcap.
 * No protocol logic and no policy: every function maps onto one libbpf/libpcap/syscall operation. */
#ifndef ECAP_ADDON_H
#define ECAP_ADDON_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
typedef struct ecap_buf ecap_buf;

/* One attachment: either a libbpf link or a TC filter (id in the process-wide TC table of tc.c). */
typedef struct ecap_link {
  int id;
  struct bpf_link *link;
  int tc_id;
  int fd; /* a uprobe_multi link made without libbpf (umulti.c), else -1 */
} ecap_link;

/* The native state behind one JS BpfObject. */
typedef struct ecap_obj {
  napi_env env;
  struct bpf_object *obj; /* NULL once closed */
  char *name;
  bool loaded;
  bool closed;
  ecap_link *links;
  size_t nlinks, cap_links;
  int next_link_id;
  ecap_buf *bufs;                          /* open ring/perf buffers (ringbuf.c) */
  napi_ref wrapper;                        /* weak; made strong while buffers are open */
  bool wrapper_strong;
  napi_async_cleanup_hook_handle cleanup;  /* NULL once removed */
} ecap_obj;

/* args.c: argument validation. All return false with a pending TypeError on misuse. */
bool ecap_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, napi_value *self);
bool ecap_is_nullish(napi_env env, napi_value v);
char *ecap_str(napi_env env, napi_value v, const char *what);                 /* malloc'd */
char *ecap_str_opt(napi_env env, napi_value v, const char *what, const char *dflt);
bool ecap_u32(napi_env env, napi_value v, const char *what, uint32_t *out);
bool ecap_u32_opt(napi_env env, napi_value v, const char *what, uint32_t dflt, uint32_t *out);
bool ecap_i32_opt(napi_env env, napi_value v, const char *what, int32_t dflt, int32_t *out);
bool ecap_u64_num(napi_env env, napi_value v, const char *what, uint64_t *out); /* safe integer */
bool ecap_bool_opt(napi_env env, napi_value v, const char *what, bool dflt, bool *out);
bool ecap_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len);
bool ecap_func(napi_env env, napi_value v, const char *what);
bool ecap_prop(napi_env env, napi_value obj, const char *key, napi_value *out); /* false if absent */
napi_value ecap_undefined(napi_env env);
napi_value ecap_num(napi_env env, double v);
napi_value ecap_string(napi_env env, const char *s);

/* errors.c: "<op>: <strerror>" errors with errno (positive), op and code 'ECAP_NATIVE'. */
napi_value ecap_make_error(napi_env env, int err, const char *op, const char *detail);
void ecap_throw(napi_env env, int err, const char *opfmt, ...) __attribute__((format(printf, 3, 4)));
void ecap_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ecap_throw_load(napi_env env, int err, const char *objname, uint64_t log_mark);
void ecap_emit_warning(napi_env env, napi_value err);
int ecap_errno(int fallback); /* current errno, or fallback when 0 */

/* log.c: libbpf print callback, log ring, verifier log capture, setLogCallback. */
void ecap_log_install(void);
uint64_t ecap_log_mark(void);
char *ecap_log_tail(uint64_t since, int max_lines);                 /* malloc'd, may be "" */
bool ecap_log_failed_prog(uint64_t since, char **prog, char **log); /* malloc'd outputs */
bool ecap_reentrant(napi_env env);                                  /* throws if inside the log callback */
napi_value js_set_log_callback(napi_env env, napi_callback_info info);

/* object.c */
napi_value ecap_define_class(napi_env env);
ecap_obj *ecap_this(napi_env env, napi_callback_info info, size_t want, napi_value *argv, bool need_loaded);
struct bpf_program *ecap_find_prog(napi_env env, ecap_obj *o, const char *name);
struct bpf_map *ecap_find_map(napi_env env, ecap_obj *o, const char *name);
void ecap_obj_release(ecap_obj *o, bool teardown);

/* globals.c */
napi_value js_set_global(napi_env env, napi_callback_info info);
napi_value js_get_global(napi_env env, napi_callback_info info);

/* attach.c */
napi_value js_attach_uprobe(napi_env env, napi_callback_info info);
napi_value js_attach_kprobe(napi_env env, napi_callback_info info);
napi_value js_attach_tracepoint(napi_env env, napi_callback_info info);
napi_value js_attach_raw_tracepoint(napi_env env, napi_callback_info info);
napi_value js_attach_tc(napi_env env, napi_callback_info info);
napi_value js_detach(napi_env env, napi_callback_info info);
napi_value js_link_count(napi_env env, napi_callback_info info);
void ecap_links_destroy(ecap_obj *o);

/* umulti.c: uprobe_multi links */
bool ecap_is_uprobe_section(struct bpf_program *p);
void ecap_set_uprobe_multi(struct bpf_object *obj);
bool ecap_prog_is_umulti(struct bpf_program *p);
int ecap_umulti_attach(struct bpf_program *p, const char *path, uint64_t offset, uint64_t cookie, bool ret, int pid);
napi_value js_probe_uprobe_multi(napi_env env, napi_callback_info info);

/* tc.c: process-wide table of our TC filters and of the clsact qdiscs we created. */
int ecap_tc_attach(int ifindex, bool ingress, int prog_fd, uint32_t handle, uint32_t priority, const char **stage);
int ecap_tc_detach(int tc_id);

/* maps.c */
napi_value js_map_lookup(napi_env env, napi_callback_info info);
napi_value js_map_update(napi_env env, napi_callback_info info);
napi_value js_map_delete(napi_env env, napi_callback_info info);
napi_value js_map_keys(napi_env env, napi_callback_info info);
napi_value js_map_fd(napi_env env, napi_callback_info info);

/* ringbuf.c */
napi_value js_open_ring_buffer(napi_env env, napi_callback_info info);
napi_value js_open_perf_buffer(napi_env env, napi_callback_info info);
napi_value js_drain_buffers(napi_env env, napi_callback_info info);
/* Pending uv_close()s during env teardown: the async cleanup hook completes when `pending` hits 0. */
typedef struct ecap_teardown {
  int pending;
  napi_async_cleanup_hook_handle handle;
} ecap_teardown;
/* Stop and free all buffers. With td != NULL (env teardown) every closing uv handle holds td->pending. */
void ecap_bufs_close(ecap_obj *o, ecap_teardown *td);
void ecap_teardown_done(ecap_teardown *td);

/* pcap.c */
napi_value js_pcap_compile(napi_env env, napi_callback_info info);
napi_value js_pcap_filter(napi_env env, napi_callback_info info);

/* misc.c */
napi_value js_libbpf_version(napi_env env, napi_callback_info info);
napi_value js_clock_offset_ns(napi_env env, napi_callback_info info);
napi_value js_monotonic_ns(napi_env env, napi_callback_info info);
napi_value js_num_possible_cpus(napi_env env, napi_callback_info info);
napi_value js_probe_prog_type(napi_env env, napi_callback_info info);
napi_value js_probe_map_type(napi_env env, napi_callback_info info);
napi_value js_probe_helper(napi_env env, napi_callback_info info);
napi_value js_mount_fs(napi_env env, napi_callback_info info);
napi_value js_raise_memlock(napi_env env, napi_callback_info info);
napi_value js_if_name_to_index(napi_env env, napi_callback_info info);
napi_value js_cgroup_id(napi_env env, napi_callback_info info);

#endif
