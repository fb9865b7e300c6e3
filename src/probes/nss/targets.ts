/**
 * Which files to hook for NSS: files whose .dynsym defines NSPR's PR_Write and PR_Read (libnspr4.so, or
 * Firefox/Thunderbird's libnss3.so, into which Mozilla folds NSPR). The TLS check happens in the kernel
 * program per call (bpf/tls/nss.bpf.c): hooking NSPR in a process that never uses TLS costs one short
 * check per call and reports nothing.
 */
import { EM_X86_64, type ElfFile } from '../../elf/elf-file.js';
import { LibFinder, type LibTarget } from '../common/lib-finder.js';

export const NSPR_FUNCS = ['PR_Write', 'PR_Read', 'PR_Send', 'PR_Recv', 'PR_Writev', 'PR_Close'] as const;
export type NsprFunc = (typeof NSPR_FUNCS)[number];

export interface NsprInfo {
  /** "nspr 4.35" or "nspr" */
  lib: string;
}

export type NsprTarget = LibTarget<NsprFunc, NsprInfo>;

export const nsprFinder = new LibFinder<NsprFunc, NsprInfo>({
  what: 'NSPR',
  funcs: NSPR_FUNCS,
  required: ['PR_Write', 'PR_Read'],
  systemName: /^libnspr4\.so$/,
  neededName: /^(libnspr4|libnss3)\.so/,
  // NSS programs usually need libnspr4 only through libnss3/libssl3/libsmime3
  viaName: /^lib(nss3|ssl3|smime3|nssutil3)\.so/,
  describe(elf) {
    const v = nsprVersion(elf);
    return { lib: v ? `nspr ${v}` : 'nspr' };
  },
});

/**
 * NSPR's version, as `const char *PR_GetVersion(void) { return PR_VERSION; }` returns it: on x86-64 that is
 * `lea str(%rip),%rax; ret`, and the string is read from the file. Undefined when the code looks different.
 */
export function nsprVersion(elf: ElfFile): string | undefined {
  if (elf.machine !== EM_X86_64) return undefined;
  const sym = elf.findSymbol('PR_GetVersion', { dynamicOnly: true });
  const off = sym ? elf.vaddrToOffset(sym.value) : undefined;
  if (!sym || off === undefined) return undefined;
  let c = elf.read(off, 16);
  let vaddr = sym.value;
  if (c.readUInt32BE(0) === 0xf30f1efa) {
    c = c.subarray(4); // endbr64
    vaddr += 4;
  }
  if (c[0] !== 0x48 || c[1] !== 0x8d || c[2] !== 0x05 || c[7] !== 0xc3) return undefined;
  const strOff = elf.vaddrToOffset(vaddr + 7 + c.readInt32LE(3));
  if (strOff === undefined) return undefined;
  const s = elf.read(strOff, 24);
  const str = s.toString('latin1', 0, Math.max(0, s.indexOf(0)));
  return /^\d+\.\d+(\.\d+)*( Beta)?$/.test(str) ? str : undefined;
}
