/**
 * HKDF (RFC 5869) and the TLS 1.3 key-schedule helpers built on it (RFC 8446 §7.1), on node:crypto.
 *
 * Used by the keylog path: OpenSSL keeps only `handshake_secret` and the handshake transcript hash in its
 * SSL object, so CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET are derived here:
 *   Derive-Secret(handshake_secret, "c hs traffic" | "s hs traffic", Hash(ClientHello..ServerHello)).
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';

/** The hashes TLS 1.3 cipher suites use. */
export type TlsHash = 'sha256' | 'sha384';

export function hashLength(hash: TlsHash): number {
  return hash === 'sha256' ? 32 : 48;
}

/** HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM). An empty salt means HashLen zero bytes (RFC 5869 §2.2). */
export function hkdfExtract(hash: TlsHash, salt: Buffer, ikm: Buffer): Buffer {
  const key = salt.length > 0 ? salt : Buffer.alloc(hashLength(hash));
  return createHmac(hash, key).update(ikm).digest();
}

/** HKDF-Expand(PRK, info, L). */
export function hkdfExpand(hash: TlsHash, prk: Buffer, info: Buffer, length: number): Buffer {
  if (length < 0 || length > 255 * hashLength(hash)) throw new RangeError(`HKDF-Expand: bad length ${length}`);
  if (length === 0) return Buffer.alloc(0);
  // hkdfSync does Extract+Expand; Expand alone is the RFC 5869 loop T(i) = HMAC(PRK, T(i-1) | info | i).
  const out = Buffer.alloc(length);
  let t = Buffer.alloc(0);
  for (let i = 1, off = 0; off < length; i++) {
    t = createHmac(hash, prk).update(t).update(info).update(Buffer.of(i)).digest();
    off += t.copy(out, off);
  }
  return out;
}

/** Full HKDF (Extract then Expand), through node's native implementation. */
export function hkdf(hash: TlsHash, ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync(hash, ikm, salt, info, length));
}

/** The HkdfLabel structure of RFC 8446 §7.1: u16 length, opaque label<7..255> ("tls13 " + label), opaque context<0..255>. */
export function hkdfLabel(label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  if (full.length > 255 || context.length > 255) throw new RangeError('HKDF label or context too long');
  const b = Buffer.alloc(2 + 1 + full.length + 1 + context.length);
  b.writeUInt16BE(length, 0);
  b[2] = full.length;
  full.copy(b, 3);
  b[3 + full.length] = context.length;
  context.copy(b, 4 + full.length);
  return b;
}

/** HKDF-Expand-Label(Secret, Label, Context, Length). */
export function hkdfExpandLabel(hash: TlsHash, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  return hkdfExpand(hash, secret, hkdfLabel(label, context, length), length);
}

/**
 * Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length).
 * `transcriptHash` is the already computed hash of the messages (what libraries keep).
 */
export function deriveSecret(hash: TlsHash, secret: Buffer, label: string, transcriptHash: Buffer): Buffer {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, hashLength(hash));
}

/** Transcript-Hash of a list of handshake messages (or of none: the empty hash used by "derived"). */
export function transcriptHash(hash: TlsHash, ...messages: Buffer[]): Buffer {
  const h = createHash(hash);
  for (const m of messages) h.update(m);
  return h.digest();
}

/**
 * The hash of a TLS 1.3 cipher suite (`cipherId` may carry OpenSSL's 0x0300xxxx prefix; only the low 16 bits count):
 * 0x1301 TLS_AES_128_GCM_SHA256, 0x1303 TLS_CHACHA20_POLY1305_SHA256, 0x1304/0x1305 AES_128_CCM(_8)_SHA256 → SHA-256;
 * 0x1302 TLS_AES_256_GCM_SHA384 → SHA-384; anything else → undefined.
 */
export function tls13HashForCipher(cipherId: number): TlsHash | undefined {
  switch (cipherId & 0xffff) {
    case 0x1301:
    case 0x1303:
    case 0x1304:
    case 0x1305:
      return 'sha256';
    case 0x1302:
      return 'sha384';
    default:
      return undefined;
  }
}

export interface HandshakeTrafficSecrets {
  hash: TlsHash;
  client: Buffer;
  server: Buffer;
}

/**
 * CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET from a TLS 1.3 handshake secret and Hash(ClientHello..ServerHello).
 * Inputs may be longer than the hash (kernel events carry 64-byte arrays); they are cut to the hash length.
 * Returns undefined for a cipher suite whose hash is unknown.
 */
export function deriveHandshakeTrafficSecrets(
  cipherId: number,
  handshakeSecret: Buffer,
  handshakeTranscriptHash: Buffer,
): HandshakeTrafficSecrets | undefined {
  const hash = tls13HashForCipher(cipherId);
  if (!hash) return undefined;
  const n = hashLength(hash);
  if (handshakeSecret.length < n || handshakeTranscriptHash.length < n) return undefined;
  const hs = handshakeSecret.subarray(0, n);
  const th = handshakeTranscriptHash.subarray(0, n);
  return { hash, client: deriveSecret(hash, hs, 'c hs traffic', th), server: deriveSecret(hash, hs, 's hs traffic', th) };
}
