/* Ring buffer and perf buffer consumption on the libuv loop.
 *
 * A uv_poll_t watches ring_buffer__epoll_fd / perf_buffer__epoll_fd (libuv polls level-triggered on
 * Linux: no EPOLLET, and the nested epoll re-checks readiness, so a ring that still holds data makes
 * the loop call us again). Samples are copied into a batch of records [u32 LE len][sample][pad to 8];
 * a ring buffer stops consuming when the batch reaches maxBatchBytes (the sample callback returns
 * < 0; libbpf 1.1 has already advanced consumer_pos past that sample, so nothing is lost), the batch
 * is delivered, and consumption resumes, at most 8 batches per wakeup. Perf buffers cannot stop
 * mid-buffer: their limit is checked between per-CPU buffers.
 *
 * JS callbacks run through napi_make_callback. An exception thrown by a callback cannot propagate
 * from the event loop, so it is reported with process.emitWarning(err) and consumption continues;
 * during drainBuffers() (a synchronous JS call) the first exception is rethrown after everything
 * pending has been drained. */
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ASYNC_ROUNDS 8
#define HANDOFF_BYTES (64 * 1024)

static bool append(ecap_buf *b, const void *sample, size_t size) {
  size_t rec = (4 + size + 7) & ~(size_t)7;
  if (b->len + rec > b->cap) {
    size_t cap = b->cap ? b->cap : 64 * 1024;
    while (cap < b->len + rec) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) return false;
    b->data = p;
    b->cap = cap;
  }
  uint8_t *r = b->data + b->len;
  uint32_t n = (uint32_t)size;
  r[0] = n & 0xff, r[1] = (n >> 8) & 0xff, r[2] = (n >> 16) & 0xff, r[3] = n >> 24;
  memcpy(r + 4, sample, size);
  memset(r + 4 + size, 0, rec - 4 - size);
  b->len += rec;
  b->count++;
  return true;
}

int ecap_ring_sample(void *ctx, void *data, size_t size) {
  ecap_buf *b = ctx;
  if (!append(b, data, size)) {
    b->dropped = true;
    return -ENOMEM;
  }
  if (b->len >= b->max) {
    b->full = true;
    return -EAGAIN; /* stop; consumer_pos already covers this sample */
  }
  return 0;
}

void ecap_perf_sample(void *ctx, int cpu, void *data, __u32 size) {
  ecap_buf *b = ctx;
  if (!append(b, data, size)) b->dropped = true;
}

void ecap_perf_lost(void *ctx, int cpu, __u64 cnt) {
  ecap_buf *b = ctx;
  if (cpu >= 0 && cpu < b->ncpu) b->lost_counts[cpu] += cnt;
  b->any_lost = true;
}

static void report(ecap_buf *b, pump_ctx *ctx, napi_value exc) {
  if (!ctx->sync) ecap_emit_warning(b->env, exc);
  else if (!ctx->exc) napi_create_reference(b->env, exc, 1, &ctx->exc);
}

static void call_js(ecap_buf *b, pump_ctx *ctx, napi_ref fnref, size_t argc, napi_value *argv) {
  napi_value fn, recv, res, exc;
  bool pending = false;
  if (napi_get_reference_value(b->env, fnref, &fn) != napi_ok || !fn) return;
  napi_get_global(b->env, &recv); /* napi_make_callback needs an object receiver */
  if (napi_make_callback(b->env, b->actx, recv, fn, argc, argv, &res) == napi_ok) return;
  napi_is_exception_pending(b->env, &pending);
  if (pending && napi_get_and_clear_last_exception(b->env, &exc) == napi_ok) report(b, ctx, exc);
}

/*
 * Batch allocations handed to JS come back here when JS lets go of them (finalizer, on the JS thread like every
 * use below), and a few (up to 8 MiB) are kept for the next batches: allocating a fresh one per batch (glibc serves these sizes
 * with mmap) cost a page fault per 4 KiB and an munmap per batch, ~1-3 % of a CPU under nginx+wrk (perf).
 */
#define POOL_SLOTS 8
#define POOL_MAX_CAP (1u << 20) /* bigger ones (rare, huge payload bursts) go back to the system */
static __thread struct { uint8_t *p; size_t cap; } pool[POOL_SLOTS]; /* per thread: one per JS environment */
static __thread int pooled;

static void free_batch(napi_env env, void *data, void *hint) {
  size_t cap = (size_t)(uintptr_t)hint;
  napi_adjust_external_memory(env, -(int64_t)cap, NULL);
  if (pooled < POOL_SLOTS && cap <= POOL_MAX_CAP) {
    pool[pooled].p = data;
    pool[pooled].cap = cap;
    pooled++;
    return;
  }
  free(data);
}

/* A buffer of at least `want` bytes for the next batch: a pooled one if it is big enough. */
static void next_batch_memory(ecap_buf *b, size_t want) {
  for (int i = pooled - 1; i >= 0; i--) {
    if (pool[i].cap < want) continue;
    b->data = pool[i].p;
    b->cap = pool[i].cap;
    pool[i] = pool[--pooled];
    return;
  }
  b->data = malloc(want);
  b->cap = b->data ? want : 0;
}

/* Small batches are copied (our allocation is reused); large ones are handed to JS without copying. */
static bool batch_buffer(ecap_buf *b, napi_value *out) {
  napi_env env = b->env;
  int64_t adjusted;
  bool pending = false;
  napi_value exc;
  if (b->len >= HANDOFF_BYTES &&
      napi_create_external_buffer(env, b->len, b->data, free_batch, (void *)(uintptr_t)b->cap, out) == napi_ok) {
    size_t cap = b->cap;
    napi_adjust_external_memory(env, (int64_t)cap, &adjusted);
    /* the next batch is likely as big as this one: start at this size, not at 64 KiB doubling up again */
    next_batch_memory(b, cap);
    return true;
  }
  napi_is_exception_pending(env, &pending); /* e.g. external buffers not allowed by this runtime */
  if (pending) napi_get_and_clear_last_exception(env, &exc);
  return napi_create_buffer_copy(env, b->len, b->data, NULL, out) == napi_ok;
}

/* Calls the JS callbacks with the batch and the lost counts. Nothing is delivered once the buffer was
 * closed (possibly by a callback earlier in the same wakeup). */
static void deliver(ecap_buf *b, pump_ctx *ctx) {
  napi_handle_scope scope;
  napi_value argv[2];
  if (b->dead || (b->count == 0 && !b->any_lost) || napi_open_handle_scope(b->env, &scope) != napi_ok) return;
  if (b->count > 0) {
    uint32_t count = b->count;
    bool ok = batch_buffer(b, &argv[0]);
    b->len = 0;
    b->count = 0;
    napi_create_uint32(b->env, count, &argv[1]);
    if (ok) call_js(b, ctx, b->cb, 2, argv);
  }
  if (b->any_lost && !b->dead) {
    b->any_lost = false;
    for (int cpu = 0; cpu < b->ncpu && !b->dead; cpu++) {
      if (!b->lost_counts[cpu]) continue;
      napi_create_int32(b->env, cpu, &argv[0]);
      napi_create_double(b->env, (double)b->lost_counts[cpu], &argv[1]);
      b->lost_counts[cpu] = 0;
      if (b->lost) call_js(b, ctx, b->lost, 2, argv);
    }
  }
  napi_close_handle_scope(b->env, scope);
}

void ecap_buf_free(ecap_buf *b) {
  if (b->rb) ring_buffer__free(b->rb);
  if (b->pb) perf_buffer__free(b->pb);
  if (b->cb) napi_delete_reference(b->env, b->cb);
  if (b->lost) napi_delete_reference(b->env, b->lost);
  if (b->actx && !b->teardown) napi_async_destroy(b->env, b->actx);
  free(b->data);
  free(b->lost_counts);
  free(b->map);
  free(b);
}

static void consume_error(ecap_buf *b, pump_ctx *ctx, int err) {
  char op[300];
  napi_handle_scope scope;
  snprintf(op, sizeof op, "consume %s buffer '%s'%s", b->perf ? "perf" : "ring", b->map,
           b->dropped ? " (out of memory: samples were dropped)" : "");
  b->dropped = false;
  if (napi_open_handle_scope(b->env, &scope) != napi_ok) return;
  napi_value e = ecap_make_error(b->env, err, op, NULL);
  if (e) report(b, ctx, e);
  napi_close_handle_scope(b->env, scope);
}

double ecap_pump(ecap_buf *b, pump_ctx *ctx, int rounds) {
  double total = 0;
  b->busy++;
  for (int r = 0; r < rounds && !b->dead; r++) {
    int err = 0;
    b->full = false;
    if (b->perf) {
      size_t n = perf_buffer__buffer_cnt(b->pb);
      for (size_t i = 0; i < n && !b->dead && err >= 0; i++) {
        err = perf_buffer__consume_buffer(b->pb, i);
        if (err == -ENOENT) err = 0; /* no buffer for an offline CPU */
        if (b->len >= b->max) total += b->count, deliver(b, ctx);
      }
    } else {
      err = ring_buffer__consume(b->rb);
      if (b->full) err = 0;
    }
    if (b->dropped && err >= 0) err = -ENOMEM;
    total += b->count;
    deliver(b, ctx);
    if (err < 0 && !b->dead) consume_error(b, ctx, err);
    if (err < 0 || !b->full) break;
  }
  if (--b->busy == 0 && b->dead) ecap_buf_free(b);
  return total;
}

void ecap_on_poll(uv_poll_t *h, int status, int events) {
  ecap_buf *b = h->data;
  pump_ctx ctx = { false, NULL };
  if (!b || b->dead) return;
  if (status < 0) {
    uv_poll_stop(h); /* would otherwise spin */
    consume_error(b, &ctx, -status);
    return;
  }
  ecap_pump(b, &ctx, ASYNC_ROUNDS);
}

void ecap_on_closed(uv_handle_t *h) {
  poll_box *box = (poll_box *)h;
  ecap_teardown *td = box->td;
  free(box);
  if (td) ecap_teardown_done(td);
}

static void buf_close(ecap_buf *b, ecap_teardown *td) {
  b->dead = true;
  b->owner = NULL;
  b->teardown = td != NULL;
  if (b->poll) {
    b->poll->h.data = NULL;
    b->poll->td = td;
    if (td) td->pending++;
    uv_close((uv_handle_t *)&b->poll->h, ecap_on_closed); /* stops polling before the epoll fd is closed */
    b->poll = NULL;
  }
  if (b->busy == 0) ecap_buf_free(b);
}

void ecap_bufs_close(ecap_obj *o, ecap_teardown *td) {
  ecap_buf *b = o->bufs, *next;
  o->bufs = NULL;
  for (; b; b = next) {
    next = b->next;
    buf_close(b, td);
  }
}

