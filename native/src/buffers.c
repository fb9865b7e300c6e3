/* openRingBuffer / openPerfBuffer / drainBuffers: set up a buffer record and its uv_poll; the
 * consumption engine and the exception policy are in ringbuf.c. */
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_ROUNDS 65536

/* Shared part of openRingBuffer/openPerfBuffer: validation, the buffer record, its uv_poll. */
static ecap_buf *buf_open(napi_env env, ecap_obj *o, const char *map, bool perf, uint32_t pages, napi_value cb,
                          napi_value lost, uint32_t max) {
  const char *what = perf ? "perf" : "ring";
  struct bpf_map *m = ecap_find_map(env, o, map);
  uv_loop_t *loop = NULL;
  napi_value res_name, resource;
  if (!m) return NULL;
  enum bpf_map_type want = perf ? BPF_MAP_TYPE_PERF_EVENT_ARRAY : BPF_MAP_TYPE_RINGBUF;
  if (bpf_map__type(m) != want || bpf_map__fd(m) < 0) {
    ecap_throw(env, EINVAL, "open %s buffer on map '%s' (%s)", what, map,
               bpf_map__type(m) != want ? "wrong map type" : "map was not created");
    return NULL;
  }
  ecap_buf *b = calloc(1, sizeof *b);
  if (!b || !(b->map = strdup(map))) {
    free(b);
    ecap_throw(env, ENOMEM, "open %s buffer on map '%s'", what, map);
    return NULL;
  }
  b->env = env;
  b->perf = perf;
  b->max = max;
  b->ncpu = libbpf_num_possible_cpus();
  if (b->ncpu < 1) b->ncpu = 1;
  napi_create_string_utf8(env, perf ? "ecapture:perfbuf" : "ecapture:ringbuf", NAPI_AUTO_LENGTH, &res_name);
  napi_create_object(env, &resource);
  if (!(b->lost_counts = calloc((size_t)b->ncpu, sizeof *b->lost_counts)) ||
      napi_create_reference(env, cb, 1, &b->cb) != napi_ok ||
      (lost && napi_create_reference(env, lost, 1, &b->lost) != napi_ok) ||
      napi_async_init(env, resource, res_name, &b->actx) != napi_ok || napi_get_uv_event_loop(env, &loop) != napi_ok) {
    ecap_buf_free(b);
    ecap_throw(env, ENOMEM, "open %s buffer on map '%s'", what, map);
    return NULL;
  }
  int fd;
  if (perf) {
    b->pb = perf_buffer__new(bpf_map__fd(m), pages, ecap_perf_sample, ecap_perf_lost, b, NULL);
    fd = b->pb ? perf_buffer__epoll_fd(b->pb) : -1;
  } else {
    b->rb = ring_buffer__new(bpf_map__fd(m), ecap_ring_sample, b, NULL);
    fd = b->rb ? ring_buffer__epoll_fd(b->rb) : -1;
  }
  if (fd < 0) {
    int err = ecap_errno(EINVAL);
    ecap_buf_free(b);
    ecap_throw(env, err, "open %s buffer on map '%s'", what, map);
    return NULL;
  }
  int uerr = -ENOMEM;
  if (!(b->poll = calloc(1, sizeof *b->poll)) || (uerr = uv_poll_init(loop, &b->poll->h, fd)) != 0) {
    free(b->poll);
    ecap_buf_free(b);
    ecap_throw(env, -uerr, "watch %s buffer '%s' on the event loop", what, map);
    return NULL;
  }
  b->poll->h.data = b;
  if ((uerr = uv_poll_start(&b->poll->h, UV_READABLE, ecap_on_poll)) != 0) {
    b->poll->h.data = NULL;
    uv_close((uv_handle_t *)&b->poll->h, ecap_on_closed);
    ecap_buf_free(b);
    ecap_throw(env, -uerr, "watch %s buffer '%s' on the event loop", what, map);
    return NULL;
  }
  b->owner = o;
  b->next = o->bufs;
  o->bufs = b;
  if (!o->wrapper_strong && o->wrapper && napi_reference_ref(env, o->wrapper, NULL) == napi_ok)
    o->wrapper_strong = true; /* an object with open buffers stays alive until close() */
  return b;
}

/* openRingBuffer(map, cb, maxBatchBytes = 4 MiB) */
napi_value js_open_ring_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  ecap_obj *o = ecap_this(env, info, 3, argv, true);
  uint32_t max;
  char *map;
  if (!o || !ecap_func(env, argv[1], "cb") ||
      !ecap_u32_opt(env, argv[2], "maxBatchBytes", 4u << 20, &max) || !(map = ecap_str(env, argv[0], "map")))
    return NULL;
  if (max == 0) max = 1;
  buf_open(env, o, map, false, 0, argv[1], NULL, max);
  free(map);
  return NULL;
}

/* openPerfBuffer(map, pagesPerCpu, cb, lost, maxBatchBytes = 4 MiB) */
napi_value js_open_perf_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  ecap_obj *o = ecap_this(env, info, 5, argv, true);
  uint32_t pages, max;
  char *map;
  if (!o || !ecap_u32(env, argv[1], "pagesPerCpu", &pages) || !ecap_func(env, argv[2], "cb") ||
      !ecap_func(env, argv[3], "lost") || !ecap_u32_opt(env, argv[4], "maxBatchBytes", 4u << 20, &max) ||
      !(map = ecap_str(env, argv[0], "map")))
    return NULL;
  if (max == 0) max = 1;
  buf_open(env, o, map, true, pages, argv[2], argv[3], max);
  free(map);
  return NULL;
}

/* drainBuffers(): consume everything pending now; 0 after close(). Rethrows the first exception
 * thrown by a callback, after draining. */
napi_value js_drain_buffers(napi_env env, napi_callback_info info) {
  napi_value self, exc;
  ecap_obj *o = NULL;
  pump_ctx ctx = { true, NULL };
  double total = 0;
  if (!ecap_args(env, info, 0, NULL, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&o) != napi_ok || !o) {
    ecap_throw_type(env, "method called on an object that is not a BpfObject");
    return NULL;
  }
  for (ecap_buf *b = o->bufs, *next; b && !o->closed; b = next) {
    next = b->next;
    total += ecap_pump(b, &ctx, SYNC_ROUNDS);
  }
  if (ctx.exc) {
    napi_status st = napi_get_reference_value(env, ctx.exc, &exc);
    napi_delete_reference(env, ctx.exc);
    if (st == napi_ok) napi_throw(env, exc);
    return NULL;
  }
  return ecap_num(env, total);
}
