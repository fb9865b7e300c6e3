/**
 * The pcap filter of pcap mode: compiled with libpcap's own pcap_compile (native pcapCompile) for the captured
 * interface's link type, checked here, and then run either in the kernel by the TC programs' classic BPF
 * interpreter (bpf/lib/cbpf.bpf.h: the program is written to rodata before load) or, where that cannot be done,
 * in userspace with libpcap's bpf_filter (native pcapFilter) on every packet the kernel sends.
 *
 * The kernel is preferred: rejected packets then cost neither ring-buffer space nor a copy to userspace nor a
 * JavaScript call (bench/pcap.ts measures the two). The userspace path is used when the kernel has no bpf_loop
 * (Linux < 5.17), when the program is longer than the interpreter's limit, or when ECAPTURE_PCAP_FILTER=user.
 */
import { ConfigError } from '../../errors.js';
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_RAW } from '../../output/pcapng/blocks.js';

/** Instructions the kernel interpreter takes (ECAP_MAX_CBPF in bpf/lib/cbpf.bpf.h; BPF_MAXINSNS). */
export const MAX_KERNEL_INSNS = 4096;
export const INSN_SIZE = 8;

export interface CbpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** libpcap's DLT_* for a pcapng LINKTYPE_* (they differ for raw IP: LINKTYPE_RAW 101 is DLT_RAW 12 on Linux). */
export function dltForLinkType(linkType: number): number {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return 1; // DLT_EN10MB
    case LINKTYPE_RAW:
      return 12; // DLT_RAW
    case LINKTYPE_LINUX_SLL:
      return 113; // DLT_LINUX_SLL
    default:
      return linkType;
  }
}

/** Split pcapCompile's output (n × {u16 code, u8 jt, u8 jf, u32 k}, host order) into instructions. */
export function parseCbpf(prog: Buffer): CbpfInsn[] {
  if (prog.length === 0 || prog.length % INSN_SIZE !== 0) throw new RangeError(`classic BPF program of ${prog.length} bytes`);
  const out: CbpfInsn[] = [];
  for (let o = 0; o < prog.length; o += INSN_SIZE) {
    out.push({ code: prog.readUInt16LE(o), jt: prog[o + 2]!, jf: prog[o + 3]!, k: prog.readUInt32LE(o + 4) });
  }
  return out;
}

export function encodeCbpf(insns: readonly CbpfInsn[]): Buffer {
  const b = Buffer.alloc(insns.length * INSN_SIZE);
  insns.forEach((i, n) => {
    b.writeUInt16LE(i.code, n * 8);
    b[n * 8 + 2] = i.jt;
    b[n * 8 + 3] = i.jf;
    b.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return b;
}

const CLASS = (c: number): number => c & 0x07;
const LD = 0x00;
const LDX = 0x01;
const ST = 0x02;
const STX = 0x03;
const ALU = 0x04;
const JMP = 0x05;
const RET = 0x06;
const MISC = 0x07;

/**
 * Structural check, as libpcap's bpf_validate: every jump lands inside the program, scratch memory indexes are
 * below 16, opcodes are known, division by a constant zero is absent, and the program ends with a return.
 * Returns the first problem, or undefined for a valid program. (The kernel interpreter checks all of this
 * again at run time; this gives a clear error up front.)
 */
export function validateCbpf(insns: readonly CbpfInsn[]): string | undefined {
  const n = insns.length;
  if (n === 0) return 'empty program';
  if (n > 65535) return 'program too long';
  for (let pc = 0; pc < n; pc++) {
    const { code, jt, jf, k } = insns[pc]!;
    const at = `instruction ${pc} (code 0x${code.toString(16)})`;
    switch (CLASS(code)) {
      case LD:
      case LDX: {
        const mode = code & 0xe0;
        const size = code & 0x18;
        if (size === 0x18) return `${at}: bad load size`;
        if (CLASS(code) === LD && ![0x00, 0x20, 0x40, 0x60, 0x80].includes(mode)) return `${at}: bad load mode`;
        if (CLASS(code) === LDX && ![0x00, 0x60, 0x80, 0xa0].includes(mode)) return `${at}: bad load mode`;
        if (mode === 0x60 && k >= 16) return `${at}: scratch memory index ${k}`;
        break;
      }
      case ST:
      case STX:
        if (k >= 16) return `${at}: scratch memory index ${k}`;
        break;
      case ALU: {
        const op = code & 0xf0;
        if (![0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0].includes(op)) return `${at}: bad ALU operation`;
        if ((op === 0x30 || op === 0x90) && (code & 0x08) === 0 && k === 0) return `${at}: division by zero`;
        break;
      }
      case JMP: {
        const op = code & 0xf0;
        if (op === 0x00) {
          if (pc + 1 + k >= n) return `${at}: jump out of the program`;
        } else if ([0x10, 0x20, 0x30, 0x40].includes(op)) {
          if (pc + 1 + jt >= n || pc + 1 + jf >= n) return `${at}: jump out of the program`;
        } else return `${at}: bad jump`;
        break;
      }
      case RET:
        if ((code & 0x18) === 0x18) return `${at}: bad return`;
        break;
      case MISC:
        if ((code & 0xf8) !== 0x00 && (code & 0xf8) !== 0x80) return `${at}: bad misc operation`;
        break;
    }
  }
  if (CLASS(insns[n - 1]!.code) !== RET) return 'the program does not end with a return';
  return undefined;
}

/** The rodata value of cbpf_prog[MAX_KERNEL_INSNS] for a program (zero-padded). */
export function cbpfRodata(prog: Buffer): Buffer {
  if (prog.length > MAX_KERNEL_INSNS * INSN_SIZE) throw new RangeError('classic BPF program too long for the kernel interpreter');
  const b = Buffer.alloc(MAX_KERNEL_INSNS * INSN_SIZE);
  prog.copy(b);
  return b;
}

/** A program that accepts everything (what libpcap compiles for an empty expression). */
export function acceptsAll(insns: readonly CbpfInsn[]): boolean {
  return insns.length === 1 && insns[0]!.code === 0x06 && insns[0]!.k !== 0;
}

export type FilterPlacement = 'none' | 'kernel' | 'user';

export interface CompiledFilter {
  expr: string;
  program: Buffer;
  insns: number;
  placement: FilterPlacement;
  /** why the filter runs where it does */
  why: string;
}

export interface FilterEnv {
  compile: (expr: string, dlt: number, snaplen: number) => Buffer;
  haveBpfLoop: boolean;
  /** ECAPTURE_PCAP_FILTER: 'kernel' | 'user' | undefined */
  force?: string;
}

/**
 * Compile and place a pcap filter expression. An empty expression means no filter. Throws a ConfigError
 * carrying libpcap's message for an expression it rejects.
 */
export function compileFilter(expr: string, linkType: number, snaplen: number, env: FilterEnv): CompiledFilter | undefined {
  const e = expr.trim();
  if (e === '') return undefined;
  let program: Buffer;
  try {
    program = env.compile(e, dltForLinkType(linkType), snaplen);
  } catch (cause) {
    const msg = ((cause as Error).message ?? String(cause)).replace(/^compile pcap filter '.*?': /, '');
    throw new ConfigError(`pcap filter "${e}": ${msg}`, {
      cause,
      field: 'pcapFilter',
      hint: 'see pcap-filter(7); e.g. "tcp port 443" or "host 10.0.0.1 and not port 22"',
    });
  }
  const insns = parseCbpf(program);
  const bad = validateCbpf(insns);
  if (bad) throw new ConfigError(`pcap filter "${e}": libpcap produced a program we cannot run: ${bad}`, { field: 'pcapFilter' });
  const base = { expr: e, program, insns: insns.length };
  if (acceptsAll(insns)) return { ...base, placement: 'none', why: 'the expression accepts every packet' };
  if (env.force === 'user') return { ...base, placement: 'user', why: 'ECAPTURE_PCAP_FILTER=user' };
  if (!env.haveBpfLoop) return { ...base, placement: 'user', why: 'the kernel has no bpf_loop (Linux >= 5.17) for the in-kernel interpreter' };
  if (insns.length > MAX_KERNEL_INSNS) {
    return { ...base, placement: 'user', why: `${insns.length} instructions: more than the in-kernel interpreter takes (${MAX_KERNEL_INSNS})` };
  }
  return { ...base, placement: 'kernel', why: 'in-kernel classic BPF interpreter' };
}
