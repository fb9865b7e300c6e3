/**
 * Just enough packet parsing for the writer's key-ordering logic: the TCP flow of a frame (direction-free) and,
 * when the segment starts with a TLS ClientHello, its client_random (which is what key log lines are keyed by).
 */
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from './blocks.js';

export interface TcpFlowInfo {
  /** same for both directions of a connection */
  flow: string;
  /** hex client_random when the TCP payload begins with a TLS ClientHello */
  clientRandom?: string;
}

/** Offset of the network header and its ethertype, for the link types the writer is used with. */
function networkLayer(linkType: number, d: Buffer): { off: number; proto: number } | undefined {
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (d.length < 14) return undefined;
      let off = 12;
      let proto = d.readUInt16BE(off);
      while ((proto === 0x8100 || proto === 0x88a8) && d.length >= off + 6) {
        off += 4;
        proto = d.readUInt16BE(off);
      }
      return { off: off + 2, proto };
    }
    case LINKTYPE_RAW: {
      const v = (d[0] ?? 0) >> 4;
      return v === 4 ? { off: 0, proto: 0x0800 } : v === 6 ? { off: 0, proto: 0x86dd } : undefined;
    }
    case LINKTYPE_LINUX_SLL:
      return d.length >= 16 ? { off: 16, proto: d.readUInt16BE(14) } : undefined;
    case LINKTYPE_LINUX_SLL2:
      return d.length >= 20 ? { off: 20, proto: d.readUInt16BE(0) } : undefined;
    default:
      return undefined;
  }
}

export function tcpFlowInfo(linkType: number, d: Buffer): TcpFlowInfo | undefined {
  const nl = networkLayer(linkType, d);
  if (!nl) return undefined;
  let src: string;
  let dst: string;
  let l4: number;
  let end: number;
  const o = nl.off;
  if (nl.proto === 0x0800) {
    if (d.length < o + 20 || d[o]! >> 4 !== 4 || d[o + 9] !== 6) return undefined;
    if ((d.readUInt16BE(o + 6) & 0x1fff) !== 0) return undefined; // non-first fragment
    src = d.toString('hex', o + 12, o + 16);
    dst = d.toString('hex', o + 16, o + 20);
    l4 = o + (d[o]! & 0x0f) * 4;
    end = Math.min(d.length, o + d.readUInt16BE(o + 2));
  } else if (nl.proto === 0x86dd) {
    if (d.length < o + 40 || d[o + 6] !== 6) return undefined; // TCP directly after the fixed header only
    src = d.toString('hex', o + 8, o + 24);
    dst = d.toString('hex', o + 24, o + 40);
    l4 = o + 40;
    end = Math.min(d.length, l4 + d.readUInt16BE(o + 4));
  } else return undefined;
  if (end < l4 + 20) return undefined;
  const a = `${src}:${d.readUInt16BE(l4)}`;
  const b = `${dst}:${d.readUInt16BE(l4 + 2)}`;
  const info: TcpFlowInfo = { flow: a < b ? `${a}-${b}` : `${b}-${a}` };
  const p = l4 + (d[l4 + 12]! >> 4) * 4;
  // TLS record: 0x16 handshake, version 0x03xx, u16 length; handshake: type 1 ClientHello, u24 length,
  // u16 legacy_version, random[32]
  if (end >= p + 43 && d[p] === 0x16 && d[p + 1] === 0x03 && d[p + 5] === 0x01 && d[p + 9] === 0x03) {
    info.clientRandom = d.toString('hex', p + 11, p + 43);
  }
  return info;
}
