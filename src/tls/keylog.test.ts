import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError } from '../errors.js';
import { KeylogWriter, formatKeylogLine, masterSecretEntries, parseKeylog, tls13HashLen, type MasterSecretInput } from './keylog.js';

const h = (s: string): Buffer => Buffer.from(s, 'hex');
const pad64 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(64 - b.length)]);
const CR = Buffer.alloc(32, 0xab);
const HS = h('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac');
const TH = h('860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8');

function tls13(over: Partial<MasterSecretInput> = {}): MasterSecretInput {
  return {
    version: 0x0304,
    clientRandom: CR,
    masterKey: Buffer.alloc(48),
    cipherId: 0x03001301,
    earlySecret: pad64(Buffer.alloc(32, 0x01)),
    handshakeSecret: pad64(HS),
    handshakeTrafficHash: pad64(TH),
    clientAppTrafficSecret: pad64(Buffer.alloc(32, 0x11)),
    serverAppTrafficSecret: pad64(Buffer.alloc(32, 0x22)),
    exporterMasterSecret: pad64(Buffer.alloc(32, 0x33)),
    ...over,
  };
}

test('TLS 1.2: one CLIENT_RANDOM line with the 48-byte master key; all-zero key or random → nothing', () => {
  const mk = Buffer.alloc(48, 0x5a);
  const e = masterSecretEntries({ version: 0x0303, clientRandom: CR, masterKey: mk, cipherId: 0xc02f });
  assert.equal(e.length, 1);
  assert.equal(formatKeylogLine(e[0]!), `CLIENT_RANDOM ${'ab'.repeat(32)} ${'5a'.repeat(48)}\n`);
  assert.deepEqual(masterSecretEntries({ version: 0x0303, clientRandom: CR, masterKey: Buffer.alloc(48), cipherId: 0 }), []);
  assert.deepEqual(masterSecretEntries({ version: 0x0303, clientRandom: Buffer.alloc(32), masterKey: mk, cipherId: 0 }), []);
  assert.deepEqual(masterSecretEntries({ version: 0x7f00, clientRandom: CR, masterKey: mk, cipherId: 0 }), []);
});

test('TLS 1.3 (OpenSSL): handshake secrets derived with HKDF, secrets truncated to 32 bytes, early secret not written', () => {
  const e = masterSecretEntries(tls13());
  assert.deepEqual(
    e.map((x) => x.label),
    ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0', 'EXPORTER_SECRET'],
  );
  assert.equal(e[0]!.secret.toString('hex'), 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21');
  assert.equal(e[1]!.secret.toString('hex'), 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38');
  for (const x of e) assert.equal(x.secret.length, 32);
  assert.equal(e[2]!.secret.toString('hex'), '11'.repeat(32));
});

test('TLS 1.3: zero secrets skipped; no derivation without the transcript hash', () => {
  const e = masterSecretEntries(tls13({ handshakeTrafficHash: Buffer.alloc(64), exporterMasterSecret: Buffer.alloc(64) }));
  assert.deepEqual(e.map((x) => x.label), ['CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0']);
});

test('TLS 1.3 SHA-384 suite: 48-byte secrets; BoringSSL-style given handshake secrets win over derivation', () => {
  const e = masterSecretEntries(
    tls13({
      cipherId: 0x1302,
      handshakeSecret: undefined,
      handshakeTrafficHash: undefined,
      clientHandshakeSecret: pad64(Buffer.alloc(48, 0x44)),
      serverHandshakeSecret: pad64(Buffer.alloc(48, 0x55)),
      clientAppTrafficSecret: pad64(Buffer.alloc(48, 0x11)),
      earlyTrafficSecret: pad64(Buffer.alloc(48, 0x66)),
    }),
  );
  assert.equal(e[0]!.label, 'CLIENT_EARLY_TRAFFIC_SECRET');
  assert.equal(e.find((x) => x.label === 'CLIENT_HANDSHAKE_TRAFFIC_SECRET')!.secret.toString('hex'), '44'.repeat(48));
  assert.equal(e.find((x) => x.label === 'SERVER_HANDSHAKE_TRAFFIC_SECRET')!.secret.toString('hex'), '55'.repeat(48));
  for (const x of e) assert.equal(x.secret.length, 48);
});

test('hash length: library value, then cipher, then trailing-zero guess', () => {
  assert.equal(tls13HashLen(tls13({ hashLen: 48 })), 48);
  assert.equal(tls13HashLen(tls13({ cipherId: 0x1303 })), 32);
  assert.equal(tls13HashLen(tls13({ cipherId: 0, clientAppTrafficSecret: pad64(Buffer.alloc(48, 7)) })), 48);
  assert.equal(tls13HashLen(tls13({ cipherId: 0 })), 32);
});

test('KeylogWriter: appends lines at once, dedups per label+client_random, counts, 0600', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keylog-'));
  try {
    const path = join(dir, 'keys.log');
    const seen: string[] = [];
    const w = new KeylogWriter({ path, onLine: (l) => seen.push(l) });
    const lines = w.addMasterSecret(tls13());
    assert.equal(lines.length, 5);
    // written immediately: readable before close
    assert.equal(readFileSync(path, 'utf8'), lines.join(''));
    assert.deepEqual(w.addMasterSecret(tls13()), []);
    assert.equal(w.duplicates, 5);
    assert.equal(w.linesWritten, 5);
    assert.deepEqual(seen, lines);
    assert.ok(w.has('EXPORTER_SECRET', CR));
    w.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    // appends, never truncates
    const w2 = new KeylogWriter({ path });
    w2.add({ label: 'CLIENT_RANDOM', clientRandom: Buffer.alloc(32, 1), secret: Buffer.alloc(48, 2) });
    w2.close();
    const back = parseKeylog(readFileSync(path, 'utf8'));
    assert.equal(back.length, 6);
    assert.equal(back[5]!.label, 'CLIENT_RANDOM');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('KeylogWriter: refuses a symlink planted at the path; tightens a group-readable file of ours', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keylog-'));
  try {
    const target = join(dir, 'target');
    writeFileSync(target, 'precious\n');
    const link = join(dir, 'keys.log');
    symlinkSync(target, link);
    assert.throws(
      () => new KeylogWriter({ path: link }),
      (e: unknown) => e instanceof CaptureError && e.code === 'ECAP_OUTPUT' && /symbolic link/.test(e.message),
    );
    assert.equal(readFileSync(target, 'utf8'), 'precious\n');
    assert.ok(lstatSync(link).isSymbolicLink());
    const loose = join(dir, 'loose.log');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    new KeylogWriter({ path: loose }).close();
    assert.equal(statSync(loose).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('KeylogWriter as a pure formatter (no file): returns new lines only; bounded dedup memory', () => {
  const w = new KeylogWriter({ dedupLimit: 2 });
  const e = (n: number) => ({ label: 'CLIENT_RANDOM', clientRandom: Buffer.alloc(32, n), secret: Buffer.alloc(48, n) });
  assert.ok(w.add(e(1)));
  assert.equal(w.add(e(1)), undefined);
  w.add(e(2));
  w.add(e(3)); // forgets 1
  assert.ok(w.add(e(1)));
  assert.equal(w.linesWritten, 4);
});
