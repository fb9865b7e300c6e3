/* pcap-filter(7) compilation (pcap_open_dead + pcap_compile) and classic BPF execution (bpf_filter). */
#include "addon.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

/* pcapCompile(expr, linkType, snaplen): Buffer of n × struct bpf_insn (8 bytes, host order) */
napi_value js_pcap_compile(napi_env env, napi_callback_info info) {
  napi_value argv[3], result = NULL;
  uint32_t linktype, snaplen;
  char *expr;
  struct bpf_program prog;
  if (!ecap_args(env, info, 3, argv, NULL) || !ecap_u32(env, argv[1], "linkType", &linktype) ||
      !ecap_u32(env, argv[2], "snaplen", &snaplen) || !(expr = ecap_str(env, argv[0], "expr")))
    return NULL;
  if (linktype > INT32_MAX || snaplen == 0 || snaplen > INT32_MAX) {
    free(expr);
    ecap_throw_type(env, "linkType must be a DLT_* value and snaplen > 0");
    return NULL;
  }
  pcap_t *p = pcap_open_dead((int)linktype, (int)snaplen);
  if (!p) {
    ecap_throw(env, ENOMEM, "compile pcap filter '%s' (pcap_open_dead)", expr);
    free(expr);
    return NULL;
  }
  if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
    char op[1024];
    snprintf(op, sizeof op, "compile pcap filter '%s'", expr);
    napi_value e = ecap_make_error(env, EINVAL, op, pcap_geterr(p));
    if (e) napi_throw(env, e);
    else ecap_throw(env, EINVAL, "%s", op);
  } else {
    if (napi_create_buffer_copy(env, (size_t)prog.bf_len * sizeof(struct bpf_insn), prog.bf_insns, NULL, &result) !=
        napi_ok) {
      result = NULL;
      ecap_throw(env, ENOMEM, "copy compiled pcap filter");
    }
    pcap_freecode(&prog);
  }
  pcap_close(p);
  free(expr);
  return result;
}

/* pcapFilter(program, packet, wireLen): accepted length, 0 = reject. The program is validated
 * (bpf_validate) first: bpf_filter trusts its program, and this one comes from JS. */
napi_value js_pcap_filter(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  void *code, *pkt;
  size_t clen, plen;
  uint32_t wirelen;
  if (!ecap_args(env, info, 3, argv, NULL) || !ecap_bytes(env, argv[0], "program", &code, &clen) ||
      !ecap_bytes(env, argv[1], "packet", &pkt, &plen) || !ecap_u32(env, argv[2], "wireLen", &wirelen))
    return NULL;
  size_t n = clen / sizeof(struct bpf_insn);
  if (clen == 0 || clen % sizeof(struct bpf_insn) != 0 || n > INT32_MAX || plen > UINT32_MAX) {
    ecap_throw_type(env, "program must be a non-empty multiple of 8 bytes");
    return NULL;
  }
  struct bpf_insn *insns = malloc(clen); /* aligned copy */
  if (!insns) {
    ecap_throw(env, ENOMEM, "run pcap filter");
    return NULL;
  }
  memcpy(insns, code, clen);
  if (!bpf_validate(insns, (int)n)) {
    free(insns);
    ecap_throw(env, EINVAL, "run pcap filter (invalid classic BPF program)");
    return NULL;
  }
  u_int r = bpf_filter(insns, plen ? pkt : (const u_char *)"", wirelen, (u_int)plen);
  free(insns);
  return ecap_num(env, r);
}
