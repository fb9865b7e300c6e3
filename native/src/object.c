/* BpfObject: open, inspect, size maps, load, close; plus the lifetime glue (finalizer, env cleanup). */
#include "addon.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Everything except freeing the struct itself. Idempotent. In teardown mode (env cleanup) no JS
 * may run and the cleanup hook completes only once every uv handle has finished closing. */
void ecap_obj_release(ecap_obj *o, bool teardown) {
  ecap_teardown *td = NULL;
  if (!o->closed) {
    o->closed = true;
    if (teardown && o->cleanup) {
      td = calloc(1, sizeof *td);
      if (td) {
        td->pending = 1;
        td->handle = o->cleanup;
        o->cleanup = NULL;
      }
    }
    ecap_links_destroy(o); /* stop producers first */
    ecap_bufs_close(o, td);
    if (o->obj) bpf_object__close(o->obj);
    o->obj = NULL;
    if (o->wrapper_strong && o->wrapper && !teardown) napi_reference_unref(o->env, o->wrapper, NULL);
    o->wrapper_strong = false;
  }
  if (o->cleanup) {
    napi_remove_async_cleanup_hook(o->cleanup);
    o->cleanup = NULL;
  }
  if (td) ecap_teardown_done(td);
}

void ecap_teardown_done(ecap_teardown *td) {
  if (--td->pending > 0) return;
  napi_remove_async_cleanup_hook(td->handle);
  free(td);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  ecap_obj *o = arg;
  o->cleanup = handle; /* the same handle; it must be removed once, when we are done */
  ecap_obj_release(o, true);
}

static void finalize(napi_env env, void *data, void *hint) {
  ecap_obj *o = data;
  ecap_obj_release(o, false);
  if (o->wrapper) napi_delete_reference(env, o->wrapper);
  free(o->links);
  free(o->name);
  free(o);
}

ecap_obj *ecap_this(napi_env env, napi_callback_info info, size_t want, napi_value *argv, bool need_loaded) {
  napi_value self;
  ecap_obj *o = NULL;
  if (!ecap_args(env, info, want, argv, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&o) != napi_ok || !o) {
    ecap_throw_type(env, "method called on an object that is not a BpfObject");
    return NULL;
  }
  if (o->closed) {
    ecap_throw(env, EBADF, "use BPF object '%s' (closed)", o->name);
    return NULL;
  }
  if (need_loaded && !o->loaded) {
    ecap_throw(env, EINVAL, "use BPF object '%s' (not loaded yet)", o->name);
    return NULL;
  }
  return o;
}

struct bpf_program *ecap_find_prog(napi_env env, ecap_obj *o, const char *name) {
  struct bpf_program *p = bpf_object__find_program_by_name(o->obj, name);
  if (!p) ecap_throw(env, ENOENT, "find program '%s' in BPF object '%s'", name, o->name);
  return p;
}

struct bpf_map *ecap_find_map(napi_env env, ecap_obj *o, const char *name) {
  struct bpf_map *m = bpf_object__find_map_by_name(o->obj, name);
  if (!m) ecap_throw(env, ENOENT, "find map '%s' in BPF object '%s'", name, o->name);
  return m;
}

/* new BpfObject(path, { btfCustomPath?, objectName? }) */
static napi_value js_construct(napi_env env, napi_callback_info info) {
  napi_value argv[2], self, target, v;
  char *path = NULL, *btf = NULL, *objname = NULL;
  bool umulti = false;
  ecap_obj *o = NULL;
  if (!ecap_args(env, info, 2, argv, &self)) return NULL;
  if (napi_get_new_target(env, info, &target) != napi_ok || !target) {
    ecap_throw_type(env, "BpfObject must be called with new");
    return NULL;
  }
  if (!(path = ecap_str(env, argv[0], "path"))) return NULL;
  if (!ecap_is_nullish(env, argv[1])) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_object) {
      ecap_throw_type(env, "opts must be an object");
      goto out;
    }
    if (ecap_prop(env, argv[1], "btfCustomPath", &v) && !(btf = ecap_str(env, v, "opts.btfCustomPath"))) goto out;
    if (ecap_prop(env, argv[1], "objectName", &v) && !(objname = ecap_str(env, v, "opts.objectName"))) goto out;
    if (ecap_prop(env, argv[1], "uprobeMulti", &v) && !ecap_bool_opt(env, v, "opts.uprobeMulti", false, &umulti)) goto out;
  }
  LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = btf, .object_name = objname);
  struct bpf_object *obj = bpf_object__open_file(path, &oo);
  if (!obj) {
    ecap_throw(env, ecap_errno(EINVAL), "open BPF object '%s'", path);
    goto out;
  }
  if (umulti) ecap_set_uprobe_multi(obj);
  o = calloc(1, sizeof *o);
  if (!o || !(o->name = strdup(bpf_object__name(obj)))) {
    bpf_object__close(obj);
    free(o);
    o = NULL;
    ecap_throw(env, ENOMEM, "open BPF object '%s'", path);
    goto out;
  }
  o->env = env;
  o->obj = obj;
  o->next_link_id = 1;
  if (napi_wrap(env, self, o, finalize, NULL, &o->wrapper) != napi_ok) {
    bpf_object__close(obj);
    free(o->name);
    free(o);
    o = NULL;
    ecap_throw(env, EINVAL, "wrap BPF object '%s'", path);
    goto out;
  }
  if (napi_add_async_cleanup_hook(env, on_env_cleanup, o, &o->cleanup) != napi_ok) o->cleanup = NULL;
out:
  free(path);
  free(btf);
  free(objname);
  return o ? self : NULL;
}

static napi_value js_name(napi_env env, napi_callback_info info) {
  napi_value self;
  ecap_obj *o = NULL;
  if (!ecap_args(env, info, 0, NULL, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&o) != napi_ok || !o) return ecap_undefined(env);
  return ecap_string(env, o->name);
}

static void set_prop(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

static napi_value js_programs(napi_env env, napi_callback_info info) {
  ecap_obj *o = ecap_this(env, info, 0, NULL, false);
  napi_value arr, item, b;
  struct bpf_program *p;
  uint32_t i = 0;
  if (!o) return NULL;
  napi_create_array(env, &arr);
  bpf_object__for_each_program(p, o->obj) {
    napi_create_object(env, &item);
    set_prop(env, item, "name", ecap_string(env, bpf_program__name(p)));
    set_prop(env, item, "section", ecap_string(env, bpf_program__section_name(p)));
    napi_get_boolean(env, bpf_program__autoload(p), &b);
    set_prop(env, item, "autoload", b);
    napi_set_element(env, arr, i++, item);
  }
  return arr;
}

static napi_value js_maps(napi_env env, napi_callback_info info) {
  ecap_obj *o = ecap_this(env, info, 0, NULL, false);
  napi_value arr, item;
  struct bpf_map *m;
  uint32_t i = 0;
  if (!o) return NULL;
  napi_create_array(env, &arr);
  bpf_object__for_each_map(m, o->obj) {
    napi_create_object(env, &item);
    set_prop(env, item, "name", ecap_string(env, bpf_map__name(m)));
    set_prop(env, item, "type", ecap_num(env, bpf_map__type(m)));
    set_prop(env, item, "keySize", ecap_num(env, bpf_map__key_size(m)));
    set_prop(env, item, "valueSize", ecap_num(env, bpf_map__value_size(m)));
    set_prop(env, item, "maxEntries", ecap_num(env, bpf_map__max_entries(m)));
    napi_set_element(env, arr, i++, item);
  }
  return arr;
}

/* setMapMaxEntries(map, n) / setMapAutocreate(map, bool) / setAutoload(program, bool) */
static napi_value js_set_map_max_entries(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  ecap_obj *o = ecap_this(env, info, 2, argv, false);
  uint32_t n;
  char *name;
  struct bpf_map *m;
  if (!o || !ecap_u32(env, argv[1], "maxEntries", &n) || !(name = ecap_str(env, argv[0], "map"))) return NULL;
  if ((m = ecap_find_map(env, o, name))) {
    int err = bpf_map__set_max_entries(m, n);
    if (err) ecap_throw(env, err, "set max_entries of map '%s' to %u", name, n);
  }
  free(name);
  return NULL;
}

static napi_value js_set_map_autocreate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  ecap_obj *o = ecap_this(env, info, 2, argv, false);
  bool on;
  char *name;
  struct bpf_map *m;
  if (!o || !ecap_bool_opt(env, argv[1], "autocreate", true, &on) || !(name = ecap_str(env, argv[0], "map")))
    return NULL;
  if ((m = ecap_find_map(env, o, name))) {
    int err = bpf_map__set_autocreate(m, on);
    if (err) ecap_throw(env, err, "set autocreate of map '%s'", name);
  }
  free(name);
  return NULL;
}

static napi_value js_set_autoload(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  ecap_obj *o = ecap_this(env, info, 2, argv, false);
  bool on;
  char *name;
  struct bpf_program *p;
  if (!o || !ecap_bool_opt(env, argv[1], "autoload", true, &on) || !(name = ecap_str(env, argv[0], "program")))
    return NULL;
  if ((p = ecap_find_prog(env, o, name))) {
    int err = bpf_program__set_autoload(p, on);
    if (err) ecap_throw(env, err, "set autoload of program '%s'", name);
  }
  free(name);
  return NULL;
}

static napi_value js_load(napi_env env, napi_callback_info info) {
  ecap_obj *o = ecap_this(env, info, 0, NULL, false);
  if (!o) return NULL;
  if (o->loaded) {
    ecap_throw(env, EALREADY, "load BPF object '%s' (already loaded)", o->name);
    return NULL;
  }
  uint64_t mark = ecap_log_mark();
  /* The verifier gives up with EAGAIN when a signal is pending (libbpf retries a few times): a profiler's
   * SIGPROF every few hundred microseconds made loads fail. Signals aimed at this thread wait until the
   * load is done; process-wide ones go to Node's other threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int err = bpf_object__load(o->obj);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err) {
    ecap_throw_load(env, err, o->name, mark);
    return NULL;
  }
  o->loaded = true;
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value self;
  ecap_obj *o = NULL;
  if (!ecap_args(env, info, 0, NULL, &self)) return NULL;
  if (napi_unwrap(env, self, (void **)&o) != napi_ok || !o) {
    ecap_throw_type(env, "method called on an object that is not a BpfObject");
    return NULL;
  }
  ecap_obj_release(o, false);
  return NULL;
}

#define METHOD(n, f) { n, NULL, f, NULL, NULL, NULL, napi_default_method, NULL }

napi_value ecap_define_class(napi_env env) {
  napi_property_descriptor props[] = {
    { "name", NULL, NULL, js_name, NULL, NULL, napi_enumerable, NULL },
    METHOD("programs", js_programs), METHOD("maps", js_maps),
    METHOD("setGlobal", js_set_global), METHOD("getGlobal", js_get_global),
    METHOD("setMapMaxEntries", js_set_map_max_entries), METHOD("setAutoload", js_set_autoload),
    METHOD("setMapAutocreate", js_set_map_autocreate), METHOD("load", js_load),
    METHOD("attachUprobe", js_attach_uprobe), METHOD("attachKprobe", js_attach_kprobe),
    METHOD("attachTracepoint", js_attach_tracepoint), METHOD("attachRawTracepoint", js_attach_raw_tracepoint),
    METHOD("attachTc", js_attach_tc), METHOD("detach", js_detach), METHOD("linkCount", js_link_count),
    METHOD("mapLookup", js_map_lookup), METHOD("mapUpdate", js_map_update), METHOD("mapDelete", js_map_delete),
    METHOD("mapKeys", js_map_keys), METHOD("mapFd", js_map_fd),
    METHOD("openRingBuffer", js_open_ring_buffer), METHOD("openPerfBuffer", js_open_perf_buffer),
    METHOD("drainBuffers", js_drain_buffers), METHOD("close", js_close),
  };
  napi_value cls = NULL;
  napi_define_class(env, "BpfObject", NAPI_AUTO_LENGTH, js_construct, NULL, sizeof props / sizeof props[0], props,
                    &cls);
  return cls;
}
