/* Attachments: uprobe, kprobe, tracepoint, raw tracepoint (libbpf links) and TC (tc.c), kept in a
 * per-object table keyed by small integer ids (never reused within an object). */
#include "addon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static int add_link(napi_env env, ecap_obj *o, struct bpf_link *link, int tc_id, int fd) {
  if (o->nlinks == o->cap_links) {
    size_t cap = o->cap_links ? o->cap_links * 2 : 8;
    ecap_link *n = realloc(o->links, cap * sizeof *n);
    if (!n) {
      if (link) bpf_link__destroy(link);
      if (tc_id) ecap_tc_detach(tc_id);
      if (fd >= 0) close(fd);
      ecap_throw(env, ENOMEM, "remember link");
      return -1;
    }
    o->links = n;
    o->cap_links = cap;
  }
  ecap_link *l = &o->links[o->nlinks++];
  l->id = o->next_link_id++;
  l->link = link;
  l->tc_id = tc_id;
  l->fd = fd;
  return l->id;
}

static int destroy_one(ecap_link *l) {
  int err = 0;
  if (l->link) err = bpf_link__destroy(l->link);
  if (l->tc_id) err = ecap_tc_detach(l->tc_id);
  if (l->fd >= 0 && close(l->fd) != 0) err = -errno;
  l->link = NULL;
  l->tc_id = 0;
  l->fd = -1;
  return err;
}

/* Closing a uprobe_multi link waits for the kernel's grace periods (umulti.c); closed from several threads
 * at once they share the waits. The other links are closed on the calling thread. */
#define CLOSE_THREADS 16

struct close_job {
  ecap_link *links;
  size_t n, first, stride;
};

static void *close_some(void *arg) {
  struct close_job *j = arg;
  for (size_t i = j->first; i < j->n; i += j->stride)
    if (j->links[i].fd >= 0) {
      close(j->links[i].fd);
      j->links[i].fd = -1;
    }
  return NULL;
}

void ecap_links_destroy(ecap_obj *o) {
  size_t fds = 0;
  for (size_t i = 0; i < o->nlinks; i++) fds += o->links[i].fd >= 0;
  size_t nthreads = fds < CLOSE_THREADS ? fds : CLOSE_THREADS;
  if (nthreads > 1) {
    pthread_t th[CLOSE_THREADS];
    struct close_job jobs[CLOSE_THREADS];
    bool started[CLOSE_THREADS] = {false};
    for (size_t t = 0; t < nthreads; t++) {
      jobs[t] = (struct close_job){o->links, o->nlinks, t, nthreads};
      started[t] = pthread_create(&th[t], NULL, close_some, &jobs[t]) == 0;
    }
    for (size_t t = 0; t < nthreads; t++) {
      if (started[t]) pthread_join(th[t], NULL);
      else close_some(&jobs[t]); /* no thread: that share is closed here */
    }
  }
  while (o->nlinks > 0) destroy_one(&o->links[--o->nlinks]);
}

static napi_value link_result(napi_env env, ecap_obj *o, struct bpf_link *link, const char *what, const char *prog,
                              const char *target) {
  if (!link) {
    ecap_throw(env, ecap_errno(EINVAL), "attach %s '%s' to %s", what, prog, target);
    return NULL;
  }
  int id = add_link(env, o, link, 0, -1);
  return id < 0 ? NULL : ecap_num(env, id);
}

/* attachUprobe(program, { path, offset, pid = -1, retprobe = false, cookie = 0 }) */
napi_value js_attach_uprobe(napi_env env, napi_callback_info info) {
  napi_value argv[2], v, result = NULL;
  ecap_obj *o = ecap_this(env, info, 2, argv, true);
  char *prog = NULL, *path = NULL, target[4200];
  uint64_t offset;
  int32_t pid = -1;
  uint64_t cookie = 0;
  bool ret = false;
  struct bpf_program *p;
  if (!o || !(prog = ecap_str(env, argv[0], "program"))) return NULL;
  if (!ecap_prop(env, argv[1], "path", &v)) {
    ecap_throw_type(env, "opts.path must be a string");
    goto out;
  }
  if (!(path = ecap_str(env, v, "opts.path"))) goto out;
  if (!ecap_prop(env, argv[1], "offset", &v)) {
    ecap_throw_type(env, "opts.offset must be a number");
    goto out;
  }
  if (!ecap_u64_num(env, v, "opts.offset", &offset)) goto out;
  if (ecap_prop(env, argv[1], "pid", &v) && !ecap_i32_opt(env, v, "opts.pid", -1, &pid)) goto out;
  if (ecap_prop(env, argv[1], "retprobe", &v) && !ecap_bool_opt(env, v, "opts.retprobe", false, &ret)) goto out;
  if (ecap_prop(env, argv[1], "cookie", &v) && !ecap_u64_num(env, v, "opts.cookie", &cookie)) goto out;
  if (!(p = ecap_find_prog(env, o, prog))) goto out;
  snprintf(target, sizeof target, "%s+0x%llx%s", path, (unsigned long long)offset, pid >= 0 ? " (one pid)" : "");
  if (ecap_prog_is_umulti(p)) {
    int fd = ecap_umulti_attach(p, path, offset, cookie, ret, pid);
    if (fd < 0) {
      errno = -fd;
      ecap_throw(env, -fd, "attach %s '%s' to %s (uprobe_multi link)", ret ? "uretprobe" : "uprobe", prog, target);
      goto out;
    }
    int id = add_link(env, o, NULL, 0, fd);
    result = id < 0 ? NULL : ecap_num(env, id);
    goto out;
  }
  LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = cookie);
  result = link_result(env, o, bpf_program__attach_uprobe_opts(p, pid, path, (size_t)offset, &uo),
                       ret ? "uretprobe" : "uprobe", prog, target);
out:
  free(prog);
  free(path);
  return result;
}

/* attachKprobe(program, func, retprobe = false) */
napi_value js_attach_kprobe(napi_env env, napi_callback_info info) {
  napi_value argv[3], result = NULL;
  ecap_obj *o = ecap_this(env, info, 3, argv, true);
  char *prog = NULL, *func = NULL;
  bool ret;
  struct bpf_program *p;
  if (!o || !ecap_bool_opt(env, argv[2], "retprobe", false, &ret) || !(prog = ecap_str(env, argv[0], "program")))
    return NULL;
  if ((func = ecap_str(env, argv[1], "func")) && (p = ecap_find_prog(env, o, prog))) {
    LIBBPF_OPTS(bpf_kprobe_opts, ko, .retprobe = ret);
    result = link_result(env, o, bpf_program__attach_kprobe_opts(p, func, &ko), ret ? "kretprobe" : "kprobe", prog,
                         func);
  }
  free(prog);
  free(func);
  return result;
}

/* attachTracepoint(program, category, name) */
napi_value js_attach_tracepoint(napi_env env, napi_callback_info info) {
  napi_value argv[3], result = NULL;
  ecap_obj *o = ecap_this(env, info, 3, argv, true);
  char *prog = NULL, *cat = NULL, *name = NULL, target[512];
  struct bpf_program *p;
  if (!o || !(prog = ecap_str(env, argv[0], "program"))) return NULL;
  if ((cat = ecap_str(env, argv[1], "category")) && (name = ecap_str(env, argv[2], "name")) &&
      (p = ecap_find_prog(env, o, prog))) {
    snprintf(target, sizeof target, "%s/%s", cat, name);
    result = link_result(env, o, bpf_program__attach_tracepoint(p, cat, name), "tracepoint", prog, target);
  }
  free(prog);
  free(cat);
  free(name);
  return result;
}

/* attachRawTracepoint(program, name) */
napi_value js_attach_raw_tracepoint(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  ecap_obj *o = ecap_this(env, info, 2, argv, true);
  char *prog = NULL, *name = NULL;
  struct bpf_program *p;
  if (!o || !(prog = ecap_str(env, argv[0], "program"))) return NULL;
  if ((name = ecap_str(env, argv[1], "name")) && (p = ecap_find_prog(env, o, prog)))
    result = link_result(env, o, bpf_program__attach_raw_tracepoint(p, name), "raw tracepoint", prog, name);
  free(prog);
  free(name);
  return result;
}

/* attachTc(program, { ifindex, direction: 'ingress' | 'egress', priority = 1, handle = 1 }) */
napi_value js_attach_tc(napi_env env, napi_callback_info info) {
  napi_value argv[2], v, result = NULL;
  ecap_obj *o = ecap_this(env, info, 2, argv, true);
  char *prog = NULL, *dir = NULL;
  uint32_t ifindex = 0, prio = 1, handle = 1;
  struct bpf_program *p;
  const char *stage = "attach";
  if (!o || !(prog = ecap_str(env, argv[0], "program"))) return NULL;
  if (!ecap_prop(env, argv[1], "ifindex", &v) || !ecap_u32(env, v, "opts.ifindex", &ifindex)) {
    ecap_throw_type(env, "opts.ifindex must be a positive integer");
    goto out;
  }
  if (!ecap_prop(env, argv[1], "direction", &v) || !(dir = ecap_str(env, v, "opts.direction")) ||
      (strcmp(dir, "ingress") && strcmp(dir, "egress"))) {
    ecap_throw_type(env, "opts.direction must be 'ingress' or 'egress'");
    goto out;
  }
  if (ecap_prop(env, argv[1], "priority", &v) && !ecap_u32(env, v, "opts.priority", &prio)) goto out;
  if (ecap_prop(env, argv[1], "handle", &v) && !ecap_u32(env, v, "opts.handle", &handle)) goto out;
  if (ifindex == 0 || ifindex > INT32_MAX || prio == 0 || prio > 0xffff || handle == 0) {
    ecap_throw_type(env, "opts.ifindex and opts.handle must be > 0, opts.priority in 1..65535");
    goto out;
  }
  if (!(p = ecap_find_prog(env, o, prog))) goto out;
  if (bpf_program__type(p) != BPF_PROG_TYPE_SCHED_CLS) {
    ecap_throw(env, EINVAL, "attach tc '%s' (not a SCHED_CLS program)", prog);
    goto out;
  }
  int id = ecap_tc_attach((int)ifindex, dir[0] == 'i', bpf_program__fd(p), handle, prio, &stage);
  if (id < 0) {
    if (!strcmp(stage, "create"))
      ecap_throw(env, -id, "create clsact qdisc on ifindex %u for tc '%s'", ifindex, prog);
    else
      ecap_throw(env, -id, "attach tc '%s' to ifindex %u %s (handle %u, priority %u)", prog, ifindex, dir, handle,
                 prio);
    goto out;
  }
  id = add_link(env, o, NULL, id, -1);
  if (id > 0) result = ecap_num(env, id);
out:
  free(prog);
  free(dir);
  return result;
}

/* detach(id): the link is forgotten even when the kernel reports an error, which is then thrown. */
napi_value js_detach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  ecap_obj *o = ecap_this(env, info, 1, argv, false);
  uint32_t id;
  if (!o || !ecap_u32(env, argv[0], "link", &id)) return NULL;
  for (size_t i = 0; i < o->nlinks; i++) {
    if (o->links[i].id != (int)id) continue;
    ecap_link l = o->links[i];
    memmove(&o->links[i], &o->links[i + 1], (o->nlinks - i - 1) * sizeof l);
    o->nlinks--;
    int err = destroy_one(&l);
    if (err) ecap_throw(env, err, "detach link %u", id);
    return NULL;
  }
  ecap_throw(env, ENOENT, "detach link %u (no such link)", id);
  return NULL;
}

/* linkCount(): 0 after close(). */
napi_value js_link_count(napi_env env, napi_callback_info info) {
  napi_value self;
  ecap_obj *o = NULL;
  if (!ecap_args(env, info, 0, NULL, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&o) != napi_ok || !o) {
    ecap_throw_type(env, "method called on an object that is not a BpfObject");
    return NULL;
  }
  return ecap_num(env, (double)o->nlinks);
}
