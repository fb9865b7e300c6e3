/* TC attachments, process-wide: every filter we attached, and for each interface whether the clsact
 * qdisc was created by us. A qdisc we created is destroyed when our last filter on it goes; a clsact
 * that existed before (bpf_tc_hook_create → -EEXIST) is never destroyed. An atexit() handler removes
 * whatever is left when the process exits through exit() (e.g. process.exit()) without close(). */
#include "addon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int id, ifindex;
  bool ingress;
  uint32_t handle, priority;
} tc_filter;

typedef struct {
  int ifindex;
  bool created; /* by us */
  int refs;     /* our filters on it */
} tc_qdisc;

static tc_filter *filters;
static size_t nfilters, cap_filters;
static tc_qdisc *qdiscs;
static size_t nqdiscs, cap_qdiscs;
static int next_id = 1;
static bool atexit_registered;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the table is process-wide (workers) */

static tc_qdisc *find_qdisc(int ifindex) {
  for (size_t i = 0; i < nqdiscs; i++)
    if (qdiscs[i].ifindex == ifindex) return &qdiscs[i];
  return NULL;
}

static bool grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return true;
  size_t c = *cap ? *cap * 2 : 8;
  void *p = realloc(*arr, c * elem);
  if (!p) return false;
  *arr = p;
  *cap = c;
  return true;
}

static void destroy_qdisc(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
  bpf_tc_hook_destroy(&hook);
}

/* Drops one reference; destroys the qdisc if it was ours and unused now. */
static void qdisc_put(int ifindex) {
  tc_qdisc *q = find_qdisc(ifindex);
  if (!q || --q->refs > 0) return;
  if (q->created) destroy_qdisc(ifindex);
  *q = qdiscs[--nqdiscs];
}

static int tc_detach_locked(int tc_id);

static void cleanup_at_exit(void) {
  pthread_mutex_lock(&lock);
  while (nfilters > 0) tc_detach_locked(filters[nfilters - 1].id);
  pthread_mutex_unlock(&lock);
}

static int tc_attach_locked(int ifindex, bool ingress, int prog_fd, uint32_t handle, uint32_t priority,
                            const char **stage);

/* Returns a filter id > 0, or -errno with *stage = "create" (qdisc) or "attach" (filter). */
int ecap_tc_attach(int ifindex, bool ingress, int prog_fd, uint32_t handle, uint32_t priority, const char **stage) {
  pthread_mutex_lock(&lock);
  int r = tc_attach_locked(ifindex, ingress, prog_fd, handle, priority, stage);
  pthread_mutex_unlock(&lock);
  return r;
}

/* Returns 0 or -errno of bpf_tc_detach; the filter is forgotten either way. */
int ecap_tc_detach(int tc_id) {
  pthread_mutex_lock(&lock);
  int r = tc_detach_locked(tc_id);
  pthread_mutex_unlock(&lock);
  return r;
}

static int tc_attach_locked(int ifindex, bool ingress, int prog_fd, uint32_t handle, uint32_t priority,
                            const char **stage) {
  if (!grow((void **)&filters, &cap_filters, nfilters, sizeof *filters) ||
      !grow((void **)&qdiscs, &cap_qdiscs, nqdiscs, sizeof *qdiscs))
    return -ENOMEM;
  if (!atexit_registered) atexit_registered = atexit(cleanup_at_exit) == 0;

  LIBBPF_OPTS(bpf_tc_hook, both, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
  *stage = "create";
  int err = bpf_tc_hook_create(&both);
  if (err && err != -EEXIST) return err;
  tc_qdisc *q = find_qdisc(ifindex);
  if (!q) {
    q = &qdiscs[nqdiscs++];
    q->ifindex = ifindex;
    q->created = false;
    q->refs = 0;
  }
  if (err == 0) q->created = true; /* (re)created by us just now */
  q->refs++;

  *stage = "attach";
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle, .priority = priority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) {
    qdisc_put(ifindex);
    return err;
  }
  tc_filter *f = &filters[nfilters++];
  f->id = next_id++;
  f->ifindex = ifindex;
  f->ingress = ingress;
  f->handle = handle;
  f->priority = priority;
  return f->id;
}

static int tc_detach_locked(int tc_id) {
  for (size_t i = 0; i < nfilters; i++) {
    if (filters[i].id != tc_id) continue;
    tc_filter f = filters[i];
    filters[i] = filters[--nfilters];
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = f.ifindex, .attach_point = f.ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
    /* libbpf requires prog_fd, prog_id and flags to be zero for detach */
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = f.handle, .priority = f.priority);
    int err = bpf_tc_detach(&hook, &opts);
    qdisc_put(f.ifindex);
    return err;
  }
  return -ENOENT;
}
