/* setGlobal/getGlobal: a global variable is found by name in the DATASEC of its section in the object's
 * BTF; its bytes live in the initial value of the internal map backing that section. */
#include "addon.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint32_t offset, size;
  struct bpf_map *map;
  void *base; /* libbpf's copy of the section's initial value */
  size_t base_size;
} global_loc;

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The internal map backing `section`: its BTF value type is the section's DATASEC. Fallback: libbpf's
 * naming, "<obj-prefix>.rodata" (or the bare, possibly truncated, name of a custom ".rodata.*" section). */
static struct bpf_map *section_map(struct bpf_object *obj, const char *section, int sec_id) {
  struct bpf_map *m;
  char trunc[16];
  snprintf(trunc, sizeof trunc, "%s", section);
  bpf_object__for_each_map(m, obj) {
    if (bpf_map__is_internal(m) && bpf_map__btf_value_type_id(m) == (uint32_t)sec_id) return m;
  }
  bpf_object__for_each_map(m, obj) {
    if (bpf_map__is_internal(m) && (ends_with(bpf_map__name(m), section) || !strcmp(bpf_map__name(m), trunc)))
      return m;
  }
  return NULL;
}

static bool locate(napi_env env, ecap_obj *o, const char *name, const char *section, global_loc *loc) {
  struct btf *btf = bpf_object__btf(o->obj);
  if (!btf) {
    ecap_throw(env, ENOENT, "find global '%s' (BPF object '%s' has no BTF)", name, o->name);
    return false;
  }
  int sec_id = btf__find_by_name_kind(btf, section, BTF_KIND_DATASEC);
  if (sec_id < 0) {
    ecap_throw(env, ENOENT, "find section '%s' for global '%s' in BPF object '%s'", section, name, o->name);
    return false;
  }
  const struct btf_type *sec = btf__type_by_id(btf, (uint32_t)sec_id);
  const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
  bool found = false;
  for (uint16_t i = 0; i < btf_vlen(sec); i++, vs++) {
    const struct btf_type *var = btf__type_by_id(btf, vs->type);
    if (var && btf_is_var(var) && strcmp(btf__name_by_offset(btf, var->name_off), name) == 0) {
      loc->offset = vs->offset;
      loc->size = vs->size;
      found = true;
      break;
    }
  }
  if (!found) {
    ecap_throw(env, ENOENT, "find global '%s' in section '%s' of BPF object '%s'", name, section, o->name);
    return false;
  }
  loc->map = section_map(o->obj, section, sec_id);
  loc->base = loc->map ? (void *)bpf_map__initial_value(loc->map, &loc->base_size) : NULL;
  if (!loc->base) {
    ecap_throw(env, ENOENT, "find the data of section '%s' in BPF object '%s'", section, o->name);
    return false;
  }
  if ((size_t)loc->offset + loc->size > loc->base_size) {
    ecap_throw(env, ERANGE, "locate global '%s' in section '%s' (offset %u + %u > %zu)", name, section, loc->offset,
               loc->size, loc->base_size);
    return false;
  }
  return true;
}

/* setGlobal(name, value, section = ".rodata") */
napi_value js_set_global(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  ecap_obj *o = ecap_this(env, info, 3, argv, false);
  char *name = NULL, *section = NULL;
  void *data;
  size_t len;
  global_loc loc;
  if (!o || !ecap_bytes(env, argv[1], "value", &data, &len)) return NULL;
  if (!(name = ecap_str(env, argv[0], "name")) || !(section = ecap_str_opt(env, argv[2], "section", ".rodata")))
    goto out;
  if (o->loaded) {
    ecap_throw(env, EBUSY, "set global '%s' in section '%s' (BPF object '%s' is already loaded)", name, section,
               o->name);
    goto out;
  }
  if (!locate(env, o, name, section, &loc)) goto out;
  if (len != loc.size) {
    ecap_throw(env, EINVAL, "set global '%s' in section '%s' (value has %zu bytes, the variable has %u)", name,
               section, len, loc.size);
    goto out;
  }
  memcpy((char *)loc.base + loc.offset, data, len);
out:
  free(name);
  free(section);
  return NULL;
}

/* getGlobal(name, section = ".rodata"): a copy of the current value (after load: read from the map). */
napi_value js_get_global(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  ecap_obj *o = ecap_this(env, info, 2, argv, false);
  char *name = NULL, *section = NULL;
  global_loc loc;
  if (!o) return NULL;
  if (!(name = ecap_str(env, argv[0], "name")) || !(section = ecap_str_opt(env, argv[1], "section", ".rodata")))
    goto out;
  if (!locate(env, o, name, section, &loc)) goto out;
  void *src = (char *)loc.base + loc.offset, *live = NULL;
  if (o->loaded && bpf_map__fd(loc.map) >= 0) { /* libbpf 1.1 does not remap the initial value after load */
    uint32_t zero = 0;
    int err = (live = malloc(loc.base_size)) ? 0 : -ENOMEM;
    if (!err) err = bpf_map__lookup_elem(loc.map, &zero, sizeof zero, live, loc.base_size, 0);
    if (err) {
      free(live);
      ecap_throw(env, err, "read global '%s' from map '%s'", name, bpf_map__name(loc.map));
      goto out;
    }
    src = (char *)live + loc.offset;
  }
  if (napi_create_buffer_copy(env, loc.size, src, NULL, &result) != napi_ok) {
    result = NULL;
    ecap_throw(env, ENOMEM, "copy global '%s'", name);
  }
  free(live);
out:
  free(name);
  free(section);
  return result;
}
