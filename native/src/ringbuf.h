/* Private to ringbuf.c (consumption engine) and buffers.c (openRingBuffer/openPerfBuffer/drainBuffers). */
#ifndef ECAP_RINGBUF_H
#define ECAP_RINGBUF_H
#include "addon.h"

#include <bpf/libbpf.h>
#include <uv.h>

typedef struct {
  uv_poll_t h;
  ecap_teardown *td;
} poll_box;

struct ecap_buf {
  napi_env env;
  ecap_obj *owner; /* NULL once closed */
  char *map;
  bool perf;
  struct ring_buffer *rb;
  struct perf_buffer *pb;
  poll_box *poll;
  napi_ref cb, lost;
  napi_async_context actx;
  uint8_t *data;
  size_t len, cap, max;
  uint32_t count;
  bool full, dropped;
  uint64_t *lost_counts;
  int ncpu;
  bool any_lost;
  int busy;
  bool dead, teardown;
  ecap_buf *next;
};

typedef struct {
  bool sync;
  napi_ref exc; /* sync mode: first exception, rethrown by drainBuffers */
} pump_ctx;

int ecap_ring_sample(void *ctx, void *data, size_t size);
void ecap_perf_sample(void *ctx, int cpu, void *data, __u32 size);
void ecap_perf_lost(void *ctx, int cpu, __u64 cnt);
void ecap_on_poll(uv_poll_t *h, int status, int events);
void ecap_on_closed(uv_handle_t *h);
void ecap_buf_free(ecap_buf *b);
/* Consumes and delivers up to `rounds` batches; returns the number of samples. May free b. */
double ecap_pump(ecap_buf *b, pump_ctx *ctx, int rounds);

#endif
