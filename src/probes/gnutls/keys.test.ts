/** GnuTLS key events → NSS key log entries, including the rejection of malformed events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deriveHandshakeTrafficSecrets } from '../../tls/hkdf.js';
import { GNUTLS_PROTOCOLS, keylogHookEntry, sessionSecretsEntries } from './keys.js';

const cr = Buffer.alloc(32, 0x11);
const pad64 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(64 - b.length)]);

test('key log hook: labels, lengths and the client random become one entry', () => {
  const e = keylogHookEntry({ label: 'CLIENT_HANDSHAKE_TRAFFIC_SECRET', clientRandom: cr, secret: pad64(Buffer.alloc(48, 7)), secretLen: 48 });
  assert.deepEqual(e, { label: 'CLIENT_HANDSHAKE_TRAFFIC_SECRET', clientRandom: cr, secret: Buffer.alloc(48, 7), tlsVersion: 0x0304 });
  const ms = keylogHookEntry({ label: 'CLIENT_RANDOM', clientRandom: cr, secret: pad64(Buffer.alloc(48, 9)), secretLen: 48 });
  assert.equal(ms?.secret.length, 48);
  assert.equal(ms?.tlsVersion, undefined, 'TLS ≤ 1.2: version not stated by the hook');
  const s32 = keylogHookEntry({ label: 'SERVER_TRAFFIC_SECRET_0', clientRandom: cr, secret: pad64(Buffer.alloc(32, 3)), secretLen: 32 });
  assert.equal(s32?.secret.length, 32, 'SHA-256 suites: 32 bytes, not the 64 the event carries');
});

test('key log hook: malformed events are rejected', () => {
  const ok = { label: 'EXPORTER_SECRET', clientRandom: cr, secret: pad64(Buffer.alloc(32, 3)), secretLen: 32 };
  assert.ok(keylogHookEntry(ok));
  assert.equal(keylogHookEntry({ ...ok, label: '' }), undefined, 'empty label');
  assert.equal(keylogHookEntry({ ...ok, label: 'exporter secret' }), undefined, 'not a key log label');
  assert.equal(keylogHookEntry({ ...ok, label: 'A\u0001B' }), undefined, 'control characters');
  assert.equal(keylogHookEntry({ ...ok, clientRandom: Buffer.alloc(32) }), undefined, 'zero client random (offset wrong or not set)');
  assert.equal(keylogHookEntry({ ...ok, clientRandom: Buffer.alloc(16, 1) }), undefined, 'short client random');
  assert.equal(keylogHookEntry({ ...ok, secret: Buffer.alloc(64) }), undefined, 'zero secret');
  assert.equal(keylogHookEntry({ ...ok, secretLen: 0 }), undefined, 'empty secret');
  assert.equal(keylogHookEntry({ ...ok, label: 'CLIENT_RANDOM', secretLen: 32 }), undefined, 'master secret must be 48 bytes');
  assert.equal(keylogHookEntry({ ...ok, secretLen: 1000 })?.secret.length, 64, 'capped at what the event carries');
});

test('key log hook: never throws on arbitrary input', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 50 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 64 }), fc.nat(), (label, c, s, n) => {
      const e = keylogHookEntry({ label, clientRandom: Buffer.from(c), secret: Buffer.from(s), secretLen: n });
      if (e) {
        assert.equal(e.clientRandom.length, 32);
        assert.ok(e.secret.length > 0 && e.secret.length <= 64);
      }
    }),
  );
});

function secretsEvent(over: Partial<Parameters<typeof sessionSecretsEntries>[0]> = {}): Parameters<typeof sessionSecretsEntries>[0] {
  const z = Buffer.alloc(64);
  return {
    version: 4,
    macId: 6,
    clientRandom: cr,
    masterSecret: Buffer.alloc(48, 0x22),
    clientEarlySecret: z,
    clientHsSecret: z,
    serverHsSecret: z,
    clientApSecret: z,
    serverApSecret: z,
    exporterSecret: z,
    ...over,
  };
}

test('session secrets: TLS 1.2 and DTLS give CLIENT_RANDOM with the master secret', () => {
  for (const [v, wire] of [[4, 0x0303], [3, 0x0302], [202, 0xfefd]] as const) {
    const out = sessionSecretsEntries(secretsEvent({ version: v }));
    assert.deepEqual(out, [{ label: 'CLIENT_RANDOM', clientRandom: cr, secret: Buffer.alloc(48, 0x22), tlsVersion: wire }]);
  }
  assert.deepEqual(sessionSecretsEntries(secretsEvent({ masterSecret: Buffer.alloc(48) })), [], 'zero master secret');
  assert.deepEqual(sessionSecretsEntries(secretsEvent({ version: 0 })), [], 'unknown protocol (offset wrong)');
  assert.deepEqual(sessionSecretsEntries(secretsEvent({ version: 99 })), []);
  assert.equal(GNUTLS_PROTOCOLS[5], 0x0304);
});

test('session secrets: TLS 1.3 gives the five secrets, cut to the PRF hash length', () => {
  const s = (b: number, n: number): Buffer => pad64(Buffer.alloc(n, b));
  for (const [mac, n] of [[6, 32], [7, 48]] as const) {
    const out = sessionSecretsEntries(secretsEvent({
      version: 5, macId: mac, clientHsSecret: s(1, n), serverHsSecret: s(2, n), clientApSecret: s(3, n), serverApSecret: s(4, n), exporterSecret: s(5, n),
    }));
    assert.deepEqual(out.map((e) => e.label), ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET']);
    for (const e of out) assert.equal(e.secret.length, n, `${e.label}: ${n} bytes for mac ${mac}`);
  }
  const early = sessionSecretsEntries(secretsEvent({ version: 5, clientEarlySecret: s(9, 32), clientHsSecret: s(1, 32), serverHsSecret: s(2, 32) }));
  assert.equal(early[0]?.label, 'CLIENT_EARLY_TRAFFIC_SECRET', '0-RTT secret first when present');
  assert.deepEqual(sessionSecretsEntries(secretsEvent({ version: 5, clientRandom: Buffer.alloc(32) })), [], 'zero client random');
  // sanity of the helper this file relies on elsewhere
  assert.ok(deriveHandshakeTrafficSecrets(0x1301, Buffer.alloc(32, 1), Buffer.alloc(32, 2)));
});
