/** Test helpers (not used by the tool): synthetic frames and a classic-pcap reader for tcpdump output. */
import { spawnSync } from 'node:child_process';

function ipChecksum(h: Buffer): number {
  let s = 0;
  for (let i = 0; i < h.length; i += 2) s += h.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** IPv4 + TCP (PSH|ACK) segment carrying `payload`. */
export function ipv4Tcp(src: string, sport: number, dst: string, dport: number, payload: Buffer, seq = 1): Buffer {
  const ip = Buffer.alloc(20);
  const tcp = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  ip.writeUInt16BE(ipChecksum(ip), 10);
  tcp.writeUInt16BE(sport, 0);
  tcp.writeUInt16BE(dport, 2);
  tcp.writeUInt32BE(seq, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x18;
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([ip, tcp, payload]);
}

/** Ethernet II frame (zero MACs, as on lo) around an IPv4 packet. */
export function ether(ipPacket: Buffer): Buffer {
  const h = Buffer.alloc(14);
  h.writeUInt16BE(0x0800, 12);
  return Buffer.concat([h, ipPacket]);
}

/** A TLS record with a (truncated) ClientHello whose random is `random`. */
export function clientHello(random: Buffer): Buffer {
  const body = Buffer.concat([Buffer.of(0x03, 0x03), random, Buffer.of(0)]);
  const hs = Buffer.concat([Buffer.of(0x01, 0, 0, body.length), body]);
  return Buffer.concat([Buffer.of(0x16, 0x03, 0x01, 0, hs.length), hs]);
}

export interface PcapRecord {
  tsNs: bigint;
  data: Buffer;
  origLen: number;
}

/** Classic libpcap file (as tcpdump -w writes): link type and records. */
export function readClassicPcap(b: Buffer): { linkType: number; records: PcapRecord[] } {
  const magic = b.readUInt32LE(0);
  const nano = magic === 0xa1b23c4d;
  if (!nano && magic !== 0xa1b2c3d4) throw new Error('not a little-endian pcap file');
  const linkType = b.readUInt32LE(20) & 0xffff;
  const records: PcapRecord[] = [];
  for (let off = 24; off + 16 <= b.length; ) {
    const sec = BigInt(b.readUInt32LE(off));
    const frac = BigInt(b.readUInt32LE(off + 4));
    const incl = b.readUInt32LE(off + 8);
    const orig = b.readUInt32LE(off + 12);
    records.push({ tsNs: sec * 1_000_000_000n + (nano ? frac : frac * 1000n), data: b.subarray(off + 16, off + 16 + incl), origLen: orig });
    off += 16 + incl;
  }
  return { linkType, records };
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
