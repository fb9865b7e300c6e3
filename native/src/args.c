/* Argument validation helpers: misuse from JS raises a TypeError, never a crash. */
#include "addon.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool ecap_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, napi_value *self) {
  size_t argc = want;
  if (ecap_reentrant(env)) return false;
  if (napi_get_cb_info(env, info, &argc, want ? argv : NULL, self, NULL) != napi_ok) {
    ecap_throw_type(env, "invalid call");
    return false;
  }
  return true; /* missing arguments are filled with undefined by N-API */
}

bool ecap_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

char *ecap_str(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  size_t len = 0;
  if (!v || napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    ecap_throw_type(env, "%s must be a string", what);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  char *s = malloc(len + 1);
  if (!s) {
    ecap_throw(env, 12 /* ENOMEM */, "copy %s", what);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    ecap_throw_type(env, "%s must not contain NUL characters", what);
    return NULL;
  }
  return s;
}

char *ecap_str_opt(napi_env env, napi_value v, const char *what, const char *dflt) {
  if (ecap_is_nullish(env, v)) return dflt ? strdup(dflt) : NULL;
  return ecap_str(env, v, what);
}

static bool number_of(napi_env env, napi_value v, const char *what, double *out) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    ecap_throw_type(env, "%s must be a number", what);
    return false;
  }
  napi_get_value_double(env, v, out);
  if (!isfinite(*out) || floor(*out) != *out) {
    ecap_throw_type(env, "%s must be an integer", what);
    return false;
  }
  return true;
}

bool ecap_u32(napi_env env, napi_value v, const char *what, uint32_t *out) {
  double d;
  if (!number_of(env, v, what, &d)) return false;
  if (d < 0 || d > 4294967295.0) {
    ecap_throw_type(env, "%s must be an unsigned 32-bit integer", what);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

bool ecap_u32_opt(napi_env env, napi_value v, const char *what, uint32_t dflt, uint32_t *out) {
  if (ecap_is_nullish(env, v)) {
    *out = dflt;
    return true;
  }
  return ecap_u32(env, v, what, out);
}

bool ecap_i32_opt(napi_env env, napi_value v, const char *what, int32_t dflt, int32_t *out) {
  double d;
  if (ecap_is_nullish(env, v)) {
    *out = dflt;
    return true;
  }
  if (!number_of(env, v, what, &d)) return false;
  if (d < -2147483648.0 || d > 2147483647.0) {
    ecap_throw_type(env, "%s must be a 32-bit integer", what);
    return false;
  }
  *out = (int32_t)d;
  return true;
}

bool ecap_u64_num(napi_env env, napi_value v, const char *what, uint64_t *out) {
  double d;
  if (!number_of(env, v, what, &d)) return false;
  if (d < 0 || d > 9007199254740991.0) {
    ecap_throw_type(env, "%s must be a non-negative safe integer", what);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

bool ecap_bool_opt(napi_env env, napi_value v, const char *what, bool dflt, bool *out) {
  napi_valuetype t;
  if (ecap_is_nullish(env, v)) {
    *out = dflt;
    return true;
  }
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    ecap_throw_type(env, "%s must be a boolean", what);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

/* Accepts a Buffer or any Uint8Array. */
bool ecap_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool is = false;
  napi_typedarray_type tt;
  napi_value ab;
  size_t off;
  if (v && napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok;
  }
  if (v && napi_is_typedarray(env, v, &is) == napi_ok && is &&
      napi_get_typedarray_info(env, v, &tt, len, data, &ab, &off) == napi_ok && tt == napi_uint8_array) {
    return true;
  }
  ecap_throw_type(env, "%s must be a Buffer or Uint8Array", what);
  return false;
}

bool ecap_func(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  if (!v || napi_typeof(env, v, &t) != napi_ok || t != napi_function) {
    ecap_throw_type(env, "%s must be a function", what);
    return false;
  }
  return true;
}

bool ecap_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  napi_valuetype t;
  if (ecap_is_nullish(env, obj)) return false;
  if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return false;
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return false;
  return !ecap_is_nullish(env, *out);
}

napi_value ecap_undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value ecap_num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value ecap_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &v);
  return v;
}
