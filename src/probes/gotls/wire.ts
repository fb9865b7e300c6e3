/**
 * Conversions between the gotls kernel structs (bpf/include/events.h, via src/gen/events.ts) and the module:
 * the per-binary go_target map value, and go_keylog_event → NSS key log entry.
 */
import { GoAbi, GoTargetLayout, type GoKeylogEvent } from '../../gen/events.js';
import { TLS1_2_VERSION, TLS1_3_VERSION, type KeylogEntry } from '../../tls/keylog.js';
import { netFdTypeOffsets, type GoTlsTarget } from './discovery.js';

/** struct go_target for one binary (map go_targets, key = the attach cookie of its probes). */
export function encodeGoTarget(t: Pick<GoTlsTarget, 'abi' | 'argRegOffsets' | 'spOffset' | 'stackArgBase' | 'structOffsets'>): Buffer {
  const b = Buffer.alloc(GoTargetLayout.SIZE);
  const field = (name: string): { offset: number; size: number } => {
    const f = GoTargetLayout.fields.find((x) => x.name === name);
    if (!f) throw new Error(`struct go_target has no field ${name}`);
    return f;
  };
  const put = (name: string, v: number): void => {
    b.writeUInt32LE(v >>> 0, field(name).offset);
  };
  const args = field('args');
  const maxArgs = args.size / 4;
  const regs = t.abi === 'register' ? t.argRegOffsets.slice(0, maxArgs) : [];
  put('abi', t.abi === 'register' ? GoAbi.GO_ABI_REGISTER : GoAbi.GO_ABI_STACK);
  put('sp', t.spOffset);
  put('stack_base', t.stackArgBase);
  put('nargs', regs.length);
  regs.forEach((off, i) => b.writeUInt32LE(off, args.offset + 4 * i));
  const s = t.structOffsets;
  const fd = netFdTypeOffsets(s.netFdLaddr);
  put('conn_conn', s.tlsConnConn);
  put('iface_data', s.ifaceData);
  put('tcpconn_fd', s.tcpConnFd);
  put('netfd_sysfd', s.netFdSysfd);
  put('netfd_family', fd.family);
  put('netfd_sotype', fd.sotype);
  return b;
}

/** Labels Go's crypto/tls writes (key_schedule.go, prf.go), with the protocol version they belong to. */
const GO_LABELS: Record<string, number> = {
  CLIENT_RANDOM: TLS1_2_VERSION,
  CLIENT_EARLY_TRAFFIC_SECRET: TLS1_3_VERSION,
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: TLS1_3_VERSION,
  SERVER_HANDSHAKE_TRAFFIC_SECRET: TLS1_3_VERSION,
  CLIENT_TRAFFIC_SECRET_0: TLS1_3_VERSION,
  SERVER_TRAFFIC_SECRET_0: TLS1_3_VERSION,
  EXPORTER_SECRET: TLS1_3_VERSION,
};

export type GoKeyVerdict = KeylogEntry | { reject: string };

/**
 * The key log entry of one writeKeyLog call, verbatim (Go already hands over the NSS key log triple), or why
 * the event cannot be one: a label that is not a key log label, a client random that is not 32 bytes, a secret
 * that is empty, longer than the event carries, or all zero.
 */
export function goKeylogEntry(e: Pick<GoKeylogEvent, 'label' | 'labelLen' | 'clientRandom' | 'clientRandomLen' | 'secret' | 'secretLen'>): GoKeyVerdict {
  const label = e.label.slice(0, e.labelLen);
  if (label.length !== e.labelLen || !/^[A-Z][A-Z0-9_]{2,47}$/.test(label)) return { reject: `label ${JSON.stringify(label)} (length ${e.labelLen})` };
  if (e.clientRandomLen !== 32 || e.clientRandom.length < 32) return { reject: `client random of ${e.clientRandomLen} bytes` };
  if (e.secretLen === 0 || e.secretLen > e.secret.length) return { reject: `secret of ${e.secretLen} bytes` };
  const secret = Buffer.from(e.secret.subarray(0, e.secretLen));
  if (secret.every((x) => x === 0)) return { reject: 'all-zero secret' };
  const entry: KeylogEntry = { label, clientRandom: Buffer.from(e.clientRandom.subarray(0, 32)), secret };
  const v = GO_LABELS[label];
  if (v !== undefined) entry.tlsVersion = v;
  return entry;
}
