/**
 * Root-free analysis of Go binaries for the gotls module: Go version and build settings, calling convention,
 * function addresses (symbol table or pclntab), RET offsets, and the resulting uprobe plan.
 */
export { planGoTls, planFromElf, GOTLS_KEYLOG_SYMBOL, GOTLS_READ_SYMBOL, GOTLS_WRITE_SYMBOL } from './plan.js';
export type { GoTlsPlan, GoTlsProbePoint } from './plan.js';
export { readGoBuildInfo, parseGoVersion, compareGoVersion, parseModInfo } from './buildinfo.js';
export type { GoBuildInfo, GoModule, GoVersion } from './buildinfo.js';
export {
  goAbi,
  abiTable,
  MIN_GO_VERSION,
  REGISTER_ABI_SINCE,
  AMD64_ARG_REGS,
  AMD64_ARG_PT_REGS_OFFSETS,
  AMD64_PT_REGS_FIELDS,
  amd64PtRegsOffset,
  ARM64_ARG_REGS,
  ARM64_ARG_PT_REGS_OFFSETS,
  ARM64_PT_REGS_SP_OFFSET,
  ARM64_PT_REGS_PC_OFFSET,
  G_REGISTER,
} from './abi.js';
export type { AbiTable, GoAbi } from './abi.js';
export { openPclntab, Pclntab, PCLNTAB_MAGIC } from './pclntab.js';
export type { GoFunc, PclntabFormat } from './pclntab.js';
export { resolveGoFunction, findGoFunction, functionCode, isStripped, codeFileOffset } from './symbols.js';
export type { GoFunction } from './symbols.js';
export { findX86Rets } from './x86/ret.js';
export { decodeX86, decodeAllX86, X86DecodeError } from './x86/length.js';
export { findArm64Rets, isArm64Ret, ARM64_RET } from './arm64/ret.js';
export { GO_TLS_STRUCT_OFFSETS, GO_TLS_STRUCT_OFFSETS_RANGE, GO_TLS_ARGS, RECORD_TYPE_APPLICATION_DATA } from './offsets.js';
export type { GoTlsStructOffsets } from './offsets.js';
export { goArchOf } from './image.js';
export type { GoArch } from './image.js';
