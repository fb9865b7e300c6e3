/**
 * Owners of the sockets that were open before a pcap capture started (listening servers, long-lived
 * connections): /proc/net/{tcp,tcp6,udp,udp6} give each socket's endpoints and inode, /proc/<pid>/fd gives
 * the processes holding that inode. The result seeds the kernel's sk_owners map (bpf/net/tc_capture.bpf.c),
 * which the kernel keeps up to date from then on.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { FlowKeyLayout, SkOwnerLayout } from '../../gen/events.js';
import { listPids } from '../../discovery/proc.js';

export interface ProcSocket {
  inode: number;
  proto: 6 | 17;
  family: 4 | 6;
  /** 16 bytes; IPv4 in the first 4 */
  laddr: Buffer;
  lport: number;
  raddr: Buffer;
  rport: number;
  /** TCP state (0x0A = LISTEN), 7 for unconnected UDP */
  state: number;
}

export interface SocketOwner {
  pid: number;
  uid: number;
  comm: string;
  cgroupId?: bigint;
}

/** "0100007F:24C3" (IPv4) or 32 hex digits (IPv6), each 32-bit word in host (little-endian) order. */
export function parseProcAddr(s: string): { addr: Buffer; port: number; family: 4 | 6 } | undefined {
  const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(s);
  if (!m) return undefined;
  const hex = m[1]!;
  const addr = Buffer.alloc(16);
  for (let w = 0; w < hex.length / 8; w++) addr.writeUInt32LE(parseInt(hex.slice(w * 8, w * 8 + 8), 16) >>> 0, w * 4);
  let family: 4 | 6 = hex.length === 8 ? 4 : 6;
  if (family === 6 && addr.readUInt32LE(0) === 0 && addr.readUInt32LE(4) === 0 && addr.readUInt32BE(8) === 0xffff) {
    // IPv4-mapped: the kernel sees (and the TC programs key) such flows as IPv4
    addr.copy(addr, 0, 12, 16);
    addr.fill(0, 4);
    family = 4;
  }
  return { addr, port: parseInt(m[2]!, 16), family };
}

/** Parse /proc/net/{tcp,tcp6,udp,udp6} text. */
export function parseProcNet(text: string, proto: 6 | 17): ProcSocket[] {
  const out: ProcSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const l = parseProcAddr(f[1]!);
    const r = parseProcAddr(f[2]!);
    const inode = Number(f[9]);
    if (!l || !r || !Number.isSafeInteger(inode) || inode === 0) continue;
    // a v4-mapped local address with an unspecified remote: keep both on the local's family
    const family = l.family === 4 || r.family === 4 ? 4 : 6;
    if (family === 4 && l.family === 6 && !l.addr.every((b) => b === 0)) continue; // a real IPv6 address: cannot be v4
    out.push({ inode, proto, family, laddr: l.addr, lport: l.port, raddr: family === 4 && r.family === 6 ? Buffer.alloc(16) : r.addr, rport: r.port, state: parseInt(f[3]!, 16) });
  }
  return out;
}

/** The map key of a socket (struct flow_key). */
export function flowKeyBytes(s: Pick<ProcSocket, 'family' | 'proto' | 'laddr' | 'lport' | 'raddr' | 'rport'>): Buffer {
  const F = Object.fromEntries(FlowKeyLayout.fields.map((f) => [f.name, f.offset]));
  const b = Buffer.alloc(FlowKeyLayout.SIZE);
  b[F.family!] = s.family;
  b[F.proto!] = s.proto;
  b.writeUInt16LE(s.lport, F.lport!);
  b.writeUInt16LE(s.rport, F.rport!);
  s.laddr.copy(b, F.laddr!, 0, 16);
  s.raddr.copy(b, F.raddr!, 0, 16);
  return b;
}

/** The map value (struct sk_owner). */
export function skOwnerBytes(o: SocketOwner): Buffer {
  const F = Object.fromEntries(SkOwnerLayout.fields.map((f) => [f.name, f.offset]));
  const b = Buffer.alloc(SkOwnerLayout.SIZE);
  b.writeUInt32LE(o.pid, F.pid!);
  b.writeUInt32LE(o.pid, F.tid!);
  b.writeUInt32LE(o.uid >>> 0, F.uid!);
  b.writeBigUInt64LE(o.cgroupId ?? 0n, F.cgroup_id!);
  b.write(o.comm.slice(0, 15), F.comm!, 'latin1');
  return b;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Every TCP/UDP socket of the host's network namespace (ours). */
export function procSockets(root = '/proc'): ProcSocket[] {
  return [
    ...parseProcNet(readOr(`${root}/net/tcp`), 6),
    ...parseProcNet(readOr(`${root}/net/tcp6`), 6),
    ...parseProcNet(readOr(`${root}/net/udp`), 17),
    ...parseProcNet(readOr(`${root}/net/udp6`), 17),
  ];
}

/** inode → owner, from /proc/<pid>/fd (the highest pid wins for shared sockets: workers over their master). */
export function socketOwners(wanted: ReadonlySet<number>, cgroupIdOf?: (pid: number) => bigint | undefined): Map<number, SocketOwner> {
  const out = new Map<number, SocketOwner>();
  for (const pid of listPids().sort((a, b) => a - b)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    let owner: SocketOwner | undefined;
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m) continue;
      const inode = Number(m[1]);
      if (!wanted.has(inode)) continue;
      if (!owner) {
        const status = readOr(`/proc/${pid}/status`);
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        owner = { pid, uid, comm: readOr(`/proc/${pid}/comm`).trim() };
        const cg = cgroupIdOf?.(pid);
        if (cg !== undefined) owner.cgroupId = cg;
      }
      out.set(inode, owner);
    }
  }
  return out;
}
