/* libbpf's log: a libbpf_set_print callback that keeps the last 64 KiB of warning/info text in a ring
 * (for error reports), remembers the verifier log of the last failed program load, and optionally
 * forwards lines to a JS callback. libbpf prints on the calling thread, which is always the JS thread
 * here, so the JS callback is invoked synchronously; re-entering the addon from it is refused. */
#include "addon.h"

#include <bpf/libbpf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_SIZE (64 * 1024)
#define VLOG_MAX_LINES 40

static char ring[RING_SIZE];
static uint64_t ring_total; /* bytes ever appended; positions are offsets in this stream */

static char *vlog_prog, *vlog_text; /* last "prog 'X': -- BEGIN PROG LOAD LOG --" capture */
static uint64_t vlog_pos;           /* ring_total when it was captured */

static napi_env cb_env;
static napi_ref cb_ref;
static int cb_level;
static pthread_t cb_thread;
static bool in_callback;

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER; /* libbpf may print on any thread */

static void ring_append(const char *s, size_t n) {
  if (n > RING_SIZE) {
    ring_total += n - RING_SIZE;
    s += n - RING_SIZE;
    n = RING_SIZE;
  }
  for (size_t i = 0; i < n; i++) ring[(ring_total + i) % RING_SIZE] = s[i];
  ring_total += n;
}

uint64_t ecap_log_mark(void) {
  pthread_mutex_lock(&ring_lock);
  uint64_t m = ring_total;
  pthread_mutex_unlock(&ring_lock);
  return m;
}

/* Pointer to the start of the last `max_lines` lines of s[0..n). */
static const char *tail_lines(const char *s, size_t n, int max_lines) {
  const char *p = s + n;
  if (p > s && p[-1] == '\n') p--;
  while (p > s) {
    if (p[-1] == '\n' && --max_lines == 0) break;
    p--;
  }
  return p;
}

static char *tail_locked(uint64_t since, int max_lines);

char *ecap_log_tail(uint64_t since, int max_lines) {
  pthread_mutex_lock(&ring_lock);
  char *out = tail_locked(since, max_lines);
  pthread_mutex_unlock(&ring_lock);
  return out;
}

static char *tail_locked(uint64_t since, int max_lines) {
  uint64_t start = since;
  if (ring_total - start > RING_SIZE) start = ring_total - RING_SIZE;
  size_t n = (size_t)(ring_total - start);
  char *lin = malloc(n + 1);
  if (!lin) return NULL;
  for (size_t i = 0; i < n; i++) lin[i] = ring[(start + i) % RING_SIZE];
  lin[n] = 0;
  const char *t = tail_lines(lin, n, max_lines);
  char *out = strdup(t);
  free(lin);
  return out;
}

/* Finds the last "prog 'NAME': ...fail..." line in the log since `since`. */
static char *failed_prog_from_ring(uint64_t since) {
  char *text = tail_locked(since, RING_SIZE), *found = NULL;
  if (!text) return NULL;
  for (char *p = strstr(text, "prog '"); p; p = strstr(p + 1, "prog '")) {
    char *name = p + 6, *end = strchr(name, '\'');
    char *eol = strchr(name, '\n');
    if (!end || (eol && eol < end) || end[1] != ':') continue;
    char save = eol ? *eol : 0;
    if (eol) *eol = 0;
    bool fail = strstr(end, "fail") != NULL;
    if (eol) *eol = save;
    if (!fail) continue;
    free(found);
    found = strndup(name, (size_t)(end - name));
  }
  free(text);
  return found;
}

bool ecap_log_failed_prog(uint64_t since, char **prog, char **log) {
  *prog = NULL;
  *log = NULL;
  pthread_mutex_lock(&ring_lock);
  if (vlog_prog && vlog_pos >= since) {
    *prog = strdup(vlog_prog);
    *log = strdup(vlog_text ? vlog_text : "");
  } else {
    *prog = failed_prog_from_ring(since);
  }
  pthread_mutex_unlock(&ring_lock);
  return *prog != NULL;
}

/* "libbpf: prog 'NAME': -- BEGIN PROG LOAD LOG --\n<log>-- END PROG LOAD LOG --\n" */
static void capture_verifier_log(const char *msg) {
  static const char begin[] = "': -- BEGIN PROG LOAD LOG --\n", endm[] = "-- END PROG LOAD LOG --";
  const char *p = strstr(msg, "prog '"), *b = p ? strstr(p, begin) : NULL;
  if (!b) return;
  const char *body = b + sizeof begin - 1, *e = strstr(body, endm);
  if (!e) e = body + strlen(body);
  while (e > body && e[-1] == '\n') e--;
  const char *t = tail_lines(body, (size_t)(e - body), VLOG_MAX_LINES);
  free(vlog_prog);
  free(vlog_text);
  vlog_prog = strndup(p + 6, (size_t)(b - (p + 6)));
  vlog_text = strndup(t, (size_t)(e - t));
  vlog_pos = ring_total;
}

static void forward_to_js(int level, const char *msg) {
  napi_env env = cb_env;
  napi_handle_scope scope;
  napi_value cb, argv[2], result, exc;
  bool pending = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, cb_ref, &cb) == napi_ok && cb) {
    in_callback = true;
    for (const char *line = msg; *line;) {
      const char *nl = strchr(line, '\n');
      size_t n = nl ? (size_t)(nl - line) : strlen(line);
      napi_create_int32(env, level, &argv[0]);
      napi_create_string_utf8(env, line, n, &argv[1]);
      if (napi_call_function(env, ecap_undefined(env), cb, 2, argv, &result) != napi_ok) {
        napi_is_exception_pending(env, &pending);
        if (pending && napi_get_and_clear_last_exception(env, &exc) == napi_ok) ecap_emit_warning(env, exc);
      }
      line += n + (nl ? 1 : 0);
    }
    in_callback = false;
  }
  napi_close_handle_scope(env, scope);
}

static int print_cb(enum libbpf_print_level level, const char *fmt, va_list ap) {
  char small[1024], *msg = small;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    return 0;
  }
  if ((size_t)n >= sizeof small) {
    msg = malloc((size_t)n + 1);
    if (msg) vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    else msg = small; /* truncated, still better than nothing */
  }
  va_end(ap2);
  size_t len = strlen(msg);
  if (level <= LIBBPF_INFO) {
    pthread_mutex_lock(&ring_lock);
    capture_verifier_log(msg);
    ring_append(msg, len);
    pthread_mutex_unlock(&ring_lock);
  }
  if (cb_ref && (int)level <= cb_level && !in_callback && pthread_equal(pthread_self(), cb_thread))
    forward_to_js((int)level, msg);
  if (msg != small) free(msg);
  return n;
}

void ecap_log_install(void) { libbpf_set_print(print_cb); }

bool ecap_reentrant(napi_env env) {
  if (!in_callback) return false;
  napi_throw_error(env, "ECAP_NATIVE", "ecapture_native: calling the addon from the libbpf log callback is not allowed");
  return true;
}

/* env cleanup hook: the env that registered the callback is going away */
static void forget_callback(void *arg) {
  if (cb_ref) napi_delete_reference(cb_env, cb_ref);
  cb_ref = NULL;
  cb_env = NULL;
}

static void drop_callback(void) {
  napi_env env = cb_env;
  forget_callback(NULL);
  if (env) napi_remove_env_cleanup_hook(env, forget_callback, NULL);
}

/* setLogCallback(level, cb | null) */
napi_value js_set_log_callback(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t level;
  if (!ecap_args(env, info, 2, argv, NULL)) return NULL;
  if (!ecap_u32(env, argv[0], "level", &level)) return NULL;
  if (level > LIBBPF_DEBUG) {
    ecap_throw_type(env, "level must be 0 (warn), 1 (info) or 2 (debug)");
    return NULL;
  }
  bool clear = ecap_is_nullish(env, argv[1]);
  if (!clear && !ecap_func(env, argv[1], "cb")) return NULL;
  drop_callback();
  if (!clear) {
    if (napi_create_reference(env, argv[1], 1, &cb_ref) != napi_ok) {
      cb_ref = NULL;
      ecap_throw(env, 12, "keep log callback");
      return NULL;
    }
    cb_env = env; /* forget the callback when this env (e.g. a worker) goes away */
    napi_add_env_cleanup_hook(env, forget_callback, NULL);
    cb_level = (int)level;
    cb_thread = pthread_self();
  }
  return ecap_undefined(env);
}
