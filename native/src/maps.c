/* Map operations on a loaded object: lookup, update, delete, keys, fd. */
#include "addon.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_percpu(enum bpf_map_type t) {
  return t == BPF_MAP_TYPE_PERCPU_HASH || t == BPF_MAP_TYPE_PERCPU_ARRAY || t == BPF_MAP_TYPE_LRU_PERCPU_HASH ||
         t == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

/* Size of a value as seen from user space: per-CPU maps hold one 8-byte aligned slot per possible CPU. */
static size_t value_size(struct bpf_map *m) {
  size_t vs = bpf_map__value_size(m);
  if (!is_percpu(bpf_map__type(m))) return vs;
  int ncpu = libbpf_num_possible_cpus();
  return (size_t)(ncpu > 0 ? ncpu : 1) * ((vs + 7) & ~(size_t)7);
}

/* Common prologue: the object, the map, and optionally a key of exactly the key size. */
static struct bpf_map *map_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *op,
                               void **key, bool need_key) {
  ecap_obj *o = ecap_this(env, info, want, argv, true);
  char *name;
  size_t klen;
  struct bpf_map *m;
  if (!o) return NULL;
  if (need_key && !ecap_bytes(env, argv[1], "key", key, &klen)) return NULL;
  if (!(name = ecap_str(env, argv[0], "map"))) return NULL;
  m = ecap_find_map(env, o, name);
  if (m && bpf_map__fd(m) < 0) {
    ecap_throw(env, EBADF, "%s map '%s' (map was not created)", op, name);
    m = NULL;
  }
  if (m && need_key && klen != bpf_map__key_size(m)) {
    ecap_throw(env, EINVAL, "%s map '%s' (key has %zu bytes, the map's key size is %u)", op, name, klen,
               bpf_map__key_size(m));
    m = NULL;
  }
  free(name);
  return m;
}

/* mapLookup(map, key): Buffer | null */
napi_value js_map_lookup(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  void *key, *val;
  struct bpf_map *m = map_arg(env, info, 2, argv, "look up in", &key, true);
  if (!m) return NULL;
  size_t vs = value_size(m);
  if (!(val = calloc(1, vs ? vs : 1))) {
    ecap_throw(env, ENOMEM, "look up in map '%s'", bpf_map__name(m));
    return NULL;
  }
  int err = bpf_map__lookup_elem(m, key, bpf_map__key_size(m), val, vs, 0);
  if (err == -ENOENT) {
    napi_get_null(env, &result);
  } else if (err) {
    ecap_throw(env, err, "look up in map '%s'", bpf_map__name(m));
  } else if (napi_create_buffer_copy(env, vs, val, NULL, &result) != napi_ok) {
    result = NULL;
    ecap_throw(env, ENOMEM, "copy value of map '%s'", bpf_map__name(m));
  }
  free(val);
  return result;
}

/* mapUpdate(map, key, value, flags = BPF_ANY) */
napi_value js_map_update(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  void *key, *val;
  size_t vlen;
  uint32_t flags;
  struct bpf_map *m = map_arg(env, info, 4, argv, "update", &key, true);
  if (!m || !ecap_bytes(env, argv[2], "value", &val, &vlen) || !ecap_u32_opt(env, argv[3], "flags", 0, &flags))
    return NULL;
  if (vlen != value_size(m)) {
    ecap_throw(env, EINVAL, "update map '%s' (value has %zu bytes, expected %zu)", bpf_map__name(m), vlen,
               value_size(m));
    return NULL;
  }
  int err = bpf_map__update_elem(m, key, bpf_map__key_size(m), val, vlen, flags);
  if (err) ecap_throw(env, err, "update map '%s'", bpf_map__name(m));
  return NULL;
}

/* mapDelete(map, key): false when the key was absent */
napi_value js_map_delete(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  void *key;
  struct bpf_map *m = map_arg(env, info, 2, argv, "delete from", &key, true);
  if (!m) return NULL;
  int err = bpf_map__delete_elem(m, key, bpf_map__key_size(m), 0);
  if (err && err != -ENOENT) {
    ecap_throw(env, err, "delete from map '%s'", bpf_map__name(m));
    return NULL;
  }
  napi_get_boolean(env, err == 0, &result);
  return result;
}

/* mapKeys(map): Buffer[]; at most max_entries keys (iteration restarts if keys vanish concurrently). */
napi_value js_map_keys(napi_env env, napi_callback_info info) {
  napi_value argv[1], arr, kb;
  struct bpf_map *m = map_arg(env, info, 1, argv, "list keys of", NULL, false);
  if (!m) return NULL;
  size_t ks = bpf_map__key_size(m);
  uint32_t max = bpf_map__max_entries(m), n = 0;
  char *prev = calloc(2, ks ? ks : 1), *next = prev + ks;
  if (!prev || ks == 0) {
    free(prev);
    ecap_throw(env, ks ? ENOMEM : EINVAL, "list keys of map '%s'", bpf_map__name(m));
    return NULL;
  }
  napi_create_array(env, &arr);
  int err = bpf_map__get_next_key(m, NULL, next, ks);
  while (err == 0 && n < max) {
    if (napi_create_buffer_copy(env, ks, next, NULL, &kb) != napi_ok) break;
    napi_set_element(env, arr, n++, kb);
    memcpy(prev, next, ks);
    err = bpf_map__get_next_key(m, prev, next, ks);
  }
  free(prev);
  if (err && err != -ENOENT) {
    ecap_throw(env, err, "list keys of map '%s'", bpf_map__name(m));
    return NULL;
  }
  return arr;
}

napi_value js_map_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct bpf_map *m = map_arg(env, info, 1, argv, "get fd of", NULL, false);
  return m ? ecap_num(env, bpf_map__fd(m)) : NULL;
}
