/**
 * pcapng block encoders (draft-ietf-opsawg-pcapng; https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html).
 * Host byte order is little-endian on every architecture we support; the Section Header's byte-order magic says so.
 *
 * Every block: u32 type, u32 total length, body (padded to 32 bits), options, u32 total length again.
 * Options: u16 code, u16 length, value padded to 32 bits; the list ends with opt_endofopt (0, 0).
 */

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_ISB = 0x00000005;
export const BLOCK_EPB = 0x00000006;
export const BLOCK_DSB = 0x0000000a;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Decryption Secrets Block secrets type: TLS key log (NSS format). */
export const SECRETS_TLS_KEYLOG = 0x544c534b;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_FILTER = 11;
export const IF_OS = 12;
export const EPB_FLAGS = 2;
export const ISB_STARTTIME = 2;
export const ISB_ENDTIME = 3;
export const ISB_IFRECV = 4;
export const ISB_IFDROP = 5;
export const ISB_OSDROP = 7;

/** LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) that Linux capture points produce. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Link type for a Linux ARPHRD_* device type (/sys/class/net/<if>/type), as a TC program sees its frames. */
export function linkTypeForArphrd(arphrd: number): number | undefined {
  switch (arphrd) {
    case 1: // ARPHRD_ETHER
    case 772: // ARPHRD_LOOPBACK: TC sees a zeroed Ethernet header
      return LINKTYPE_ETHERNET;
    case 65534: // ARPHRD_NONE (tun, wireguard)
    case 768: // ARPHRD_TUNNEL (ipip)
    case 769: // ARPHRD_TUNNEL6
    case 776: // ARPHRD_SIT
    case 778: // ARPHRD_IPGRE
    case 519: // ARPHRD_RAWIP
      return LINKTYPE_RAW;
    default:
      return undefined;
  }
}

export type OptionValue = Buffer | string;
export type Option = [code: number, value: OptionValue];

const pad4 = (n: number): number => (n + 3) & ~3;

function encodeOptions(opts: Option[]): Buffer {
  const present = opts.filter(([, v]) => v !== undefined && (typeof v === 'string' ? v.length > 0 : true));
  if (present.length === 0) return Buffer.alloc(0);
  const vals = present.map(([c, v]) => [c, typeof v === 'string' ? Buffer.from(v, 'utf8') : v] as const);
  const size = vals.reduce((n, [, v]) => n + 4 + pad4(v.length), 4);
  const b = Buffer.alloc(size);
  let o = 0;
  for (const [c, v] of vals) {
    if (v.length > 0xffff) throw new RangeError(`pcapng option ${c} too long`);
    b.writeUInt16LE(c, o);
    b.writeUInt16LE(v.length, o + 2);
    v.copy(b, o + 4);
    o += 4 + pad4(v.length);
  }
  return b; // trailing 4 zero bytes = opt_endofopt
}

/** Assemble a block from its fixed body, an optional variable part (padded) and options. */
export function block(type: number, fixed: Buffer, data: Buffer | undefined, opts: Option[]): Buffer {
  const o = encodeOptions(opts);
  const dataLen = data ? pad4(data.length) : 0;
  const total = 12 + fixed.length + dataLen + o.length;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type >>> 0, 0);
  b.writeUInt32LE(total, 4);
  fixed.copy(b, 8);
  if (data) data.copy(b, 8 + fixed.length);
  o.copy(b, 8 + fixed.length + dataLen);
  b.writeUInt32LE(total, total - 4);
  return b;
}

export interface ShbOptions {
  hardware?: string;
  os?: string;
  userAppl?: string;
  comment?: string;
}

export function sectionHeaderBlock(o: ShbOptions = {}): Buffer {
  const f = Buffer.alloc(16);
  f.writeUInt32LE(BYTE_ORDER_MAGIC, 0);
  f.writeUInt16LE(1, 4); // major
  f.writeUInt16LE(0, 6); // minor
  f.writeBigInt64LE(-1n, 8); // section length: not specified
  const opts: Option[] = [];
  if (o.comment) opts.push([OPT_COMMENT, o.comment]);
  if (o.hardware) opts.push([SHB_HARDWARE, o.hardware]);
  if (o.os) opts.push([SHB_OS, o.os]);
  if (o.userAppl) opts.push([SHB_USERAPPL, o.userAppl]);
  return block(BLOCK_SHB, f, undefined, opts);
}

export interface InterfaceDescription {
  linkType: number;
  /** default 262144 (what tcpdump uses); 0 = no limit */
  snaplen?: number;
  name?: string;
  description?: string;
  /** pcap-filter(7) expression the capture applied */
  filter?: string;
  os?: string;
}

/** IDB with if_tsresol = 9: timestamps are nanoseconds. */
export function interfaceDescriptionBlock(d: InterfaceDescription): Buffer {
  const f = Buffer.alloc(8);
  f.writeUInt16LE(d.linkType, 0);
  f.writeUInt32LE(d.snaplen ?? 262144, 4);
  const opts: Option[] = [];
  if (d.name) opts.push([IF_NAME, d.name]);
  if (d.description) opts.push([IF_DESCRIPTION, d.description]);
  opts.push([IF_TSRESOL, Buffer.of(9)]);
  if (d.filter) opts.push([IF_FILTER, Buffer.concat([Buffer.of(0), Buffer.from(d.filter, 'utf8')])]); // 0 = libpcap string
  if (d.os) opts.push([IF_OS, d.os]);
  return block(BLOCK_IDB, f, undefined, opts);
}

export type PacketDirection = 'inbound' | 'outbound';

export interface EnhancedPacket {
  interfaceId: number;
  /** wall clock, nanoseconds since the epoch */
  tsNs: bigint;
  data: Buffer;
  /** length on the wire (default data.length) */
  origLen?: number;
  comment?: string;
  direction?: PacketDirection;
}

function tsWords(b: Buffer, off: number, tsNs: bigint): void {
  b.writeUInt32LE(Number((tsNs >> 32n) & 0xffffffffn), off);
  b.writeUInt32LE(Number(tsNs & 0xffffffffn), off + 4);
}

/**
 * The hot path of pcap mode (one call per packet): the same bytes as block(BLOCK_EPB, ...) would give, built in
 * one allocation with no intermediate buffers (enhancedPacketBlockGeneric is the reference, see blocks.test.ts).
 */
export function enhancedPacketBlock(p: EnhancedPacket): Buffer {
  const dataLen = p.data.length;
  const dataEnd = 28 + pad4(dataLen);
  const commentLen = p.comment ? Buffer.byteLength(p.comment, 'utf8') : 0;
  if (commentLen > 0xffff) return enhancedPacketBlockGeneric(p);
  let optLen = 0;
  if (commentLen > 0) optLen += 4 + pad4(commentLen);
  if (p.direction) optLen += 8;
  if (optLen > 0) optLen += 4; // opt_endofopt
  const total = dataEnd + optLen + 4;
  const b = Buffer.allocUnsafe(total);
  b.writeUInt32LE(BLOCK_EPB, 0);
  b.writeUInt32LE(total, 4);
  b.writeUInt32LE(p.interfaceId, 8);
  tsWords(b, 12, p.tsNs);
  b.writeUInt32LE(dataLen, 20);
  b.writeUInt32LE(Math.max(p.origLen ?? dataLen, dataLen), 24);
  p.data.copy(b, 28);
  b.fill(0, 28 + dataLen, dataEnd);
  let o = dataEnd;
  if (commentLen > 0) {
    b.writeUInt16LE(OPT_COMMENT, o);
    b.writeUInt16LE(commentLen, o + 2);
    b.write(p.comment!, o + 4, 'utf8');
    b.fill(0, o + 4 + commentLen, o + 4 + pad4(commentLen));
    o += 4 + pad4(commentLen);
  }
  if (p.direction) {
    b.writeUInt16LE(EPB_FLAGS, o);
    b.writeUInt16LE(4, o + 2);
    b.writeUInt32LE(p.direction === 'inbound' ? 1 : 2, o + 4); // bits 0-1: 01 inbound, 10 outbound
    o += 8;
  }
  if (optLen > 0) {
    b.writeUInt32LE(0, o);
    o += 4;
  }
  b.writeUInt32LE(total, o);
  return b;
}

/**
 * The same block as enhancedPacketBlock, as [header, data, trailer]: the packet bytes are not copied (for writev).
 * The data part is `p.data` itself (left out when empty).
 */
export function enhancedPacketBlockParts(p: EnhancedPacket): Buffer[] {
  const dataLen = p.data.length;
  const padLen = pad4(dataLen) - dataLen;
  const commentLen = p.comment ? Buffer.byteLength(p.comment, 'utf8') : 0;
  if (commentLen > 0xffff) return [enhancedPacketBlockGeneric(p)];
  let optLen = 0;
  if (commentLen > 0) optLen += 4 + pad4(commentLen);
  if (p.direction) optLen += 8;
  if (optLen > 0) optLen += 4;
  const total = 28 + dataLen + padLen + optLen + 4;
  const head = Buffer.allocUnsafe(28);
  head.writeUInt32LE(BLOCK_EPB, 0);
  head.writeUInt32LE(total, 4);
  head.writeUInt32LE(p.interfaceId, 8);
  tsWords(head, 12, p.tsNs);
  head.writeUInt32LE(dataLen, 20);
  head.writeUInt32LE(Math.max(p.origLen ?? dataLen, dataLen), 24);
  const tail = Buffer.allocUnsafe(padLen + optLen + 4);
  tail.fill(0, 0, padLen);
  let o = padLen;
  if (commentLen > 0) {
    tail.writeUInt16LE(OPT_COMMENT, o);
    tail.writeUInt16LE(commentLen, o + 2);
    tail.write(p.comment!, o + 4, 'utf8');
    tail.fill(0, o + 4 + commentLen, o + 4 + pad4(commentLen));
    o += 4 + pad4(commentLen);
  }
  if (p.direction) {
    tail.writeUInt16LE(EPB_FLAGS, o);
    tail.writeUInt16LE(4, o + 2);
    tail.writeUInt32LE(p.direction === 'inbound' ? 1 : 2, o + 4);
    o += 8;
  }
  if (optLen > 0) {
    tail.writeUInt32LE(0, o);
    o += 4;
  }
  tail.writeUInt32LE(total, o);
  return dataLen > 0 ? [head, p.data, tail] : [head, tail];
}

/** Reference encoder of an EPB through the generic block() path. */
export function enhancedPacketBlockGeneric(p: EnhancedPacket): Buffer {
  const f = Buffer.alloc(20);
  f.writeUInt32LE(p.interfaceId, 0);
  tsWords(f, 4, p.tsNs);
  f.writeUInt32LE(p.data.length, 12);
  f.writeUInt32LE(Math.max(p.origLen ?? p.data.length, p.data.length), 16);
  const opts: Option[] = [];
  if (p.comment) opts.push([OPT_COMMENT, p.comment]);
  if (p.direction) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(p.direction === 'inbound' ? 1 : 2); // bits 0-1: 01 inbound, 10 outbound
    opts.push([EPB_FLAGS, v]);
  }
  return block(BLOCK_EPB, f, p.data, opts);
}

/** Decryption Secrets Block carrying NSS key log text. */
export function decryptionSecretsBlock(keylog: string | Buffer, comment?: string): Buffer {
  const data = typeof keylog === 'string' ? Buffer.from(keylog, 'latin1') : keylog;
  const f = Buffer.alloc(8);
  f.writeUInt32LE(SECRETS_TLS_KEYLOG, 0);
  f.writeUInt32LE(data.length, 4);
  return block(BLOCK_DSB, f, data, comment ? [[OPT_COMMENT, comment]] : []);
}

export interface InterfaceStatistics {
  interfaceId: number;
  tsNs: bigint;
  startNs?: bigint;
  ifRecv?: bigint;
  ifDrop?: bigint;
  osDrop?: bigint;
}

const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const tsOpt = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  tsWords(b, 0, v);
  return b;
};

export function interfaceStatisticsBlock(s: InterfaceStatistics): Buffer {
  const f = Buffer.alloc(12);
  f.writeUInt32LE(s.interfaceId, 0);
  tsWords(f, 4, s.tsNs);
  const opts: Option[] = [];
  if (s.startNs !== undefined) opts.push([ISB_STARTTIME, tsOpt(s.startNs)]);
  opts.push([ISB_ENDTIME, tsOpt(s.tsNs)]);
  if (s.ifRecv !== undefined) opts.push([ISB_IFRECV, u64(s.ifRecv)]);
  if (s.ifDrop !== undefined) opts.push([ISB_IFDROP, u64(s.ifDrop)]);
  if (s.osDrop !== undefined) opts.push([ISB_OSDROP, u64(s.osDrop)]);
  return block(BLOCK_ISB, f, undefined, opts);
}
