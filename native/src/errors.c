/* Errors: JS Error objects with message "<op>: <strerror>", errno (positive), op and code 'ECAP_NATIVE'.
 * Load failures additionally carry `program` and `log` (tail of libbpf's log / the verifier output). */
#include "addon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ecap_errno(int fallback) {
  int e = errno;
  if (e < 0) e = -e;
  return e ? e : fallback;
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

/* detail replaces strerror when given (e.g. libpcap's own message). */
napi_value ecap_make_error(napi_env env, int err, const char *op, const char *detail) {
  char reason[256];
  napi_value msg, error, v;
  if (err < 0) err = -err;
  if (err == 0) err = EIO;
  if (detail) {
    snprintf(reason, sizeof reason, "%s", detail);
  } else if (libbpf_strerror(err, reason, sizeof reason) != 0) {
    snprintf(reason, sizeof reason, "%s", strerror(err));
  }
  size_t n = strlen(op) + strlen(reason) + 3;
  char *text = malloc(n);
  if (!text) return NULL;
  snprintf(text, n, "%s: %s", op, reason);
  napi_status st = napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  free(text);
  if (st != napi_ok || napi_create_error(env, NULL, msg, &error) != napi_ok) return NULL;
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, error, "errno", v);
  set_str(env, error, "op", op);
  set_str(env, error, "code", "ECAP_NATIVE");
  return error;
}

static void throw_or_fallback(napi_env env, napi_value error, const char *op) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  if (error) napi_throw(env, error);
  else napi_throw_error(env, "ECAP_NATIVE", op);
}

void ecap_throw(napi_env env, int err, const char *opfmt, ...) {
  char op[1024];
  va_list ap;
  va_start(ap, opfmt);
  vsnprintf(op, sizeof op, opfmt, ap);
  va_end(ap);
  throw_or_fallback(env, ecap_make_error(env, err, op, NULL), op);
}

void ecap_throw_type(napi_env env, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  bool pending = false;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
}

/* bpf_object__load() failed: name the failing program (from libbpf's "prog 'NAME': ..." lines) and
 * attach the meaningful tail of the verifier log, or of libbpf's log when there is no verifier log. */
void ecap_throw_load(napi_env env, int err, const char *objname, uint64_t log_mark) {
  char op[512];
  char *prog = NULL, *log = NULL;
  ecap_log_failed_prog(log_mark, &prog, &log);
  if (!log || !*log) {
    free(log);
    log = ecap_log_tail(log_mark, 40);
  }
  if (prog)
    snprintf(op, sizeof op, "load program '%s' of BPF object '%s'", prog, objname);
  else
    snprintf(op, sizeof op, "load BPF object '%s'", objname);
  napi_value error = ecap_make_error(env, err, op, NULL);
  if (error) {
    if (prog) set_str(env, error, "program", prog);
    set_str(env, error, "log", log ? log : "");
  }
  free(prog);
  free(log);
  throw_or_fallback(env, error, op);
}

/* process.emitWarning(err): how exceptions thrown by JS callbacks invoked from the event loop are
 * reported (they cannot propagate anywhere, and must not crash the process). */
void ecap_emit_warning(napi_env env, napi_value err) {
  napi_value global, process, fn, result, exc;
  napi_valuetype t;
  bool pending = false, is_error = false;
  napi_valuetype vt;
  if (napi_is_error(env, err, &is_error) != napi_ok) return;
  if (!is_error && (napi_typeof(env, err, &vt) != napi_ok || vt != napi_string) &&
      napi_coerce_to_string(env, err, &err) != napi_ok) {
    napi_get_and_clear_last_exception(env, &exc);
    return;
  }
  if (napi_get_global(env, &global) != napi_ok) return;
  if (napi_get_named_property(env, global, "process", &process) != napi_ok) return;
  if (napi_get_named_property(env, process, "emitWarning", &fn) != napi_ok) return;
  if (napi_typeof(env, fn, &t) != napi_ok || t != napi_function) return;
  if (napi_call_function(env, process, fn, 1, &err, &result) != napi_ok) {
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &exc);
  }
}
