/**
 * GnuTLS key events (bpf/tls/gnutls.bpf.c) → NSS key log entries. Pure functions: never throw on bad input,
 * return no entry instead.
 */
import type { GnutlsKeylogEvent, GnutlsSecretsEvent } from '../../gen/events.js';
import { isAllZero, masterSecretEntries, TLS1_3_VERSION, type KeylogEntry } from '../../tls/keylog.js';

/** gnutls_protocol_t → TLS/DTLS wire version. */
export const GNUTLS_PROTOCOLS: Readonly<Record<number, number>> = {
  1: 0x0300, // SSL 3.0
  2: 0x0301, // TLS 1.0
  3: 0x0302, // TLS 1.1
  4: 0x0303, // TLS 1.2
  5: 0x0304, // TLS 1.3
  200: 0x0100, // DTLS 0.9 (Cisco AnyConnect)
  201: 0xfeff, // DTLS 1.0
  202: 0xfefd, // DTLS 1.2
};

/** gnutls_mac_algorithm_t → hash length of the TLS 1.3 PRF. */
const MAC_HASH_LEN: Readonly<Record<number, number>> = { 6: 32, 7: 48, 8: 64, 9: 28 };

const LABEL_RE = /^[A-Z][A-Z0-9_]{2,38}$/;

/** The TLS 1.3 labels GnuTLS passes to its key log hook; anything else with a 32-byte client random is kept too. */
const TLS13_LABELS = new Set([
  'CLIENT_EARLY_TRAFFIC_SECRET',
  'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET',
  'CLIENT_TRAFFIC_SECRET_0',
  'SERVER_TRAFFIC_SECRET_0',
  'EXPORTER_SECRET',
  'EARLY_EXPORTER_SECRET',
]);

/** One secret from the key log hook. */
export function keylogHookEntry(e: Pick<GnutlsKeylogEvent, 'label' | 'clientRandom' | 'secret' | 'secretLen'>): KeylogEntry | undefined {
  if (!LABEL_RE.test(e.label)) return undefined;
  const cr = e.clientRandom.subarray(0, 32);
  const n = Math.min(e.secretLen, e.secret.length);
  if (cr.length !== 32 || isAllZero(cr) || n <= 0) return undefined;
  const secret = Buffer.from(e.secret.subarray(0, n));
  if (isAllZero(secret)) return undefined;
  const entry: KeylogEntry = { label: e.label, clientRandom: Buffer.from(cr), secret };
  if (e.label === 'CLIENT_RANDOM') {
    if (n !== 48) return undefined;
  } else if (TLS13_LABELS.has(e.label)) {
    entry.tlsVersion = TLS1_3_VERSION;
  }
  return entry;
}

/** The secrets of a session read at gnutls_handshake() return. */
export function sessionSecretsEntries(e: Omit<GnutlsSecretsEvent, 'hdr' | 'connId' | 'libId'>): KeylogEntry[] {
  const wire = GNUTLS_PROTOCOLS[e.version];
  if (wire === undefined) return [];
  if (wire !== TLS1_3_VERSION) {
    const cr = e.clientRandom.subarray(0, 32);
    const ms = e.masterSecret.subarray(0, 48);
    if (cr.length !== 32 || isAllZero(cr) || ms.length !== 48 || isAllZero(ms)) return [];
    return [{ label: 'CLIENT_RANDOM', clientRandom: Buffer.from(cr), secret: Buffer.from(ms), tlsVersion: wire }];
  }
  const hashLen = MAC_HASH_LEN[e.macId];
  return masterSecretEntries({
    version: TLS1_3_VERSION,
    clientRandom: e.clientRandom,
    masterKey: Buffer.alloc(48),
    cipherId: 0,
    ...(hashLen ? { hashLen } : {}),
    earlyTrafficSecret: e.clientEarlySecret,
    clientHandshakeSecret: e.clientHsSecret,
    serverHandshakeSecret: e.serverHsSecret,
    clientAppTrafficSecret: e.clientApSecret,
    serverAppTrafficSecret: e.serverApSecret,
    exporterMasterSecret: e.exporterSecret,
  });
}
