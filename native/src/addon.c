/* Module init and export table. See native/index.d.ts for the API contract. */
#include "addon.h"

#define FN(n, f) { n, NULL, f, NULL, NULL, NULL, napi_enumerable, NULL }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
    FN("libbpfVersion", js_libbpf_version),
    FN("clockOffsetNs", js_clock_offset_ns),
    FN("monotonicNs", js_monotonic_ns),
    FN("numPossibleCpus", js_num_possible_cpus),
    FN("probeProgType", js_probe_prog_type),
    FN("probeMapType", js_probe_map_type),
    FN("probeHelper", js_probe_helper),
    FN("probeUprobeMulti", js_probe_uprobe_multi),
    FN("setLogCallback", js_set_log_callback),
    FN("mountFs", js_mount_fs),
    FN("raiseMemlock", js_raise_memlock),
    FN("ifNameToIndex", js_if_name_to_index),
    FN("cgroupId", js_cgroup_id),
    FN("pcapCompile", js_pcap_compile),
    FN("pcapFilter", js_pcap_filter),
  };
  napi_value cls = ecap_define_class(env);
  if (!cls) return NULL;
  if (napi_set_named_property(env, exports, "BpfObject", cls) != napi_ok) return NULL;
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  ecap_log_install();
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
