/**
 * A minimal pcapng block reader (little-endian sections only), for tests and diagnostics: it checks every
 * block's framing (lengths, trailer, padding) and decodes the block types the writer produces.
 */
import {
  BLOCK_DSB, BLOCK_EPB, BLOCK_IDB, BLOCK_ISB, BLOCK_SHB, BYTE_ORDER_MAGIC, EPB_FLAGS, IF_DESCRIPTION, IF_FILTER,
  IF_NAME, IF_OS, IF_TSRESOL, ISB_ENDTIME, ISB_IFDROP, ISB_IFRECV, ISB_OSDROP, ISB_STARTTIME, OPT_COMMENT,
  SHB_HARDWARE, SHB_OS, SHB_USERAPPL,
} from './blocks.js';

export interface RawOption {
  code: number;
  value: Buffer;
}

export type PcapngBlock =
  | { type: 'shb'; major: number; minor: number; sectionLength: bigint; hardware?: string; os?: string; userAppl?: string; comment?: string; options: RawOption[] }
  | { type: 'idb'; linkType: number; snaplen: number; name?: string; description?: string; tsresol?: number; filter?: string; os?: string; options: RawOption[] }
  | { type: 'epb'; interfaceId: number; tsNs: bigint; capturedLen: number; origLen: number; data: Buffer; comment?: string; flags?: number; options: RawOption[] }
  | { type: 'dsb'; secretsType: number; secrets: Buffer; options: RawOption[] }
  | { type: 'isb'; interfaceId: number; tsNs: bigint; startNs?: bigint; endNs?: bigint; ifRecv?: bigint; ifDrop?: bigint; osDrop?: bigint; options: RawOption[] }
  | { type: 'other'; code: number; body: Buffer };

export class PcapngFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`pcapng at byte ${offset}: ${message}`);
    this.name = 'PcapngFormatError';
  }
}

const pad4 = (n: number): number => (n + 3) & ~3;

function readOptions(b: Buffer, off: number, end: number, at: number): RawOption[] {
  const out: RawOption[] = [];
  while (off + 4 <= end) {
    const code = b.readUInt16LE(off);
    const len = b.readUInt16LE(off + 2);
    if (code === 0) return out;
    if (off + 4 + len > end) throw new PcapngFormatError(`option ${code} overruns its block`, at);
    out.push({ code, value: b.subarray(off + 4, off + 4 + len) });
    off += 4 + pad4(len);
  }
  if (out.length > 0) throw new PcapngFormatError('options without opt_endofopt', at);
  return out;
}

const str = (o: RawOption[], code: number): string | undefined => {
  const v = o.find((x) => x.code === code)?.value;
  return v ? v.toString('utf8') : undefined;
};
const num64 = (o: RawOption[], code: number): bigint | undefined => {
  const v = o.find((x) => x.code === code)?.value;
  return v && v.length === 8 ? v.readBigUInt64LE(0) : undefined;
};
const ts64 = (o: RawOption[], code: number): bigint | undefined => {
  const v = o.find((x) => x.code === code)?.value;
  return v && v.length === 8 ? (BigInt(v.readUInt32LE(0)) << 32n) | BigInt(v.readUInt32LE(4)) : undefined;
};

/** Decode a whole pcapng file. Throws PcapngFormatError on any framing error. */
export function readPcapng(b: Buffer): PcapngBlock[] {
  const out: PcapngBlock[] = [];
  let off = 0;
  while (off < b.length) {
    if (off + 12 > b.length) throw new PcapngFormatError('truncated block header', off);
    const code = b.readUInt32LE(off);
    const len = b.readUInt32LE(off + 4);
    if (len < 12 || len % 4 !== 0 || off + len > b.length) throw new PcapngFormatError(`bad block length ${len}`, off);
    if (b.readUInt32LE(off + len - 4) !== len) throw new PcapngFormatError('trailing length differs', off);
    const body = b.subarray(off + 8, off + len - 4);
    const end = body.length;
    switch (code) {
      case BLOCK_SHB: {
        if (body.readUInt32LE(0) !== BYTE_ORDER_MAGIC) throw new PcapngFormatError('not a little-endian section', off);
        const options = readOptions(body, 16, end, off);
        out.push({
          type: 'shb', major: body.readUInt16LE(4), minor: body.readUInt16LE(6), sectionLength: body.readBigInt64LE(8),
          hardware: str(options, SHB_HARDWARE), os: str(options, SHB_OS), userAppl: str(options, SHB_USERAPPL),
          comment: str(options, OPT_COMMENT), options,
        });
        break;
      }
      case BLOCK_IDB: {
        const options = readOptions(body, 8, end, off);
        const f = options.find((x) => x.code === IF_FILTER)?.value;
        out.push({
          type: 'idb', linkType: body.readUInt16LE(0), snaplen: body.readUInt32LE(4), name: str(options, IF_NAME),
          description: str(options, IF_DESCRIPTION), tsresol: options.find((x) => x.code === IF_TSRESOL)?.value[0],
          filter: f && f[0] === 0 ? f.subarray(1).toString('utf8') : undefined, os: str(options, IF_OS), options,
        });
        break;
      }
      case BLOCK_EPB: {
        const capturedLen = body.readUInt32LE(12);
        if (20 + pad4(capturedLen) > end) throw new PcapngFormatError('packet data overruns its block', off);
        const options = readOptions(body, 20 + pad4(capturedLen), end, off);
        const fl = options.find((x) => x.code === EPB_FLAGS)?.value;
        out.push({
          type: 'epb', interfaceId: body.readUInt32LE(0), tsNs: (BigInt(body.readUInt32LE(4)) << 32n) | BigInt(body.readUInt32LE(8)),
          capturedLen, origLen: body.readUInt32LE(16), data: body.subarray(20, 20 + capturedLen),
          comment: str(options, OPT_COMMENT), flags: fl && fl.length === 4 ? fl.readUInt32LE(0) : undefined, options,
        });
        break;
      }
      case BLOCK_DSB: {
        const n = body.readUInt32LE(4);
        if (8 + pad4(n) > end) throw new PcapngFormatError('secrets overrun their block', off);
        out.push({ type: 'dsb', secretsType: body.readUInt32LE(0), secrets: body.subarray(8, 8 + n), options: readOptions(body, 8 + pad4(n), end, off) });
        break;
      }
      case BLOCK_ISB: {
        const options = readOptions(body, 12, end, off);
        out.push({
          type: 'isb', interfaceId: body.readUInt32LE(0), tsNs: (BigInt(body.readUInt32LE(4)) << 32n) | BigInt(body.readUInt32LE(8)),
          startNs: ts64(options, ISB_STARTTIME), endNs: ts64(options, ISB_ENDTIME), ifRecv: num64(options, ISB_IFRECV),
          ifDrop: num64(options, ISB_IFDROP), osDrop: num64(options, ISB_OSDROP), options,
        });
        break;
      }
      default:
        out.push({ type: 'other', code, body });
    }
    if (out.length === 1 && out[0]!.type !== 'shb') throw new PcapngFormatError('file does not start with a Section Header Block', 0);
    off += len;
  }
  return out;
}
