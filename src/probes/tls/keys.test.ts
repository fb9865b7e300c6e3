import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventKind, MasterSecretEventLayout, MsFlags } from '../../gen/events.js';
import type { CaptureRecord, KeyRecord } from '../../model/records.js';
import { libOffsetsCStruct } from '../../tls/lib-offsets.js';
import { parseKeylog } from '../../tls/keylog.js';
import { KeySink, entriesOfSample } from './keys.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const F = Object.fromEntries(MasterSecretEventLayout.fields.map((f) => [f.name, f.offset]));

// RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256)
const RFC = {
  clientRandom: h('cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7'),
  handshake: h('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac'),
  helloHash: h('860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8'),
  cHs: h('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21'),
  sHs: h('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38'),
  cAp: h('9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5'),
  sAp: h('a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643'),
  exporter: h('fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50'),
};

interface SampleFields {
  version: number;
  cipherId?: number;
  hashLen?: number;
  flags?: number;
  clientRandom: Buffer;
  [field: string]: Buffer | number | undefined;
}

/** A master_secret_event as the kernel sends it (fields by name from the generated layout). */
function sample(f: SampleFields): Buffer {
  const b = Buffer.alloc(MasterSecretEventLayout.SIZE);
  b.writeUInt32LE(EventKind.EVENT_MASTER_SECRET, 0);
  b.writeBigUInt64LE(1_000_000n, 8); // ts
  b.writeUInt32LE(4242, 16); // pid
  b.write('curl', F.hdr! + 40, 'latin1');
  b.writeUInt32LE(f.version, F.version!);
  b.writeUInt32LE(f.cipherId ?? 0, F.cipher_id!);
  b.writeUInt32LE(f.hashLen ?? 0, F.hash_len!);
  b.writeUInt32LE(f.flags ?? 0, F.ms_flags!);
  f.clientRandom.copy(b, F.client_random!);
  for (const [k, v] of Object.entries(f)) {
    if (Buffer.isBuffer(v) && k !== 'clientRandom') v.copy(b, F[k]!);
  }
  return b;
}

test('bpf/lib/openssl_keys.bpf.h carries struct lib_offsets exactly as offsets/lib_offsets.h.txt', () => {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'offsets', 'lib_offsets.h.txt'))) d = dirname(d);
  const hdr = readFileSync(join(d, 'bpf', 'lib', 'openssl_keys.bpf.h'), 'utf8');
  const txt = readFileSync(join(d, 'offsets', 'lib_offsets.h.txt'), 'utf8');
  assert.equal(txt, libOffsetsCStruct(), 'lib_offsets.h.txt is generated from lib-offsets.ts');
  assert.ok(hdr.includes(txt), 'the header pastes the generated declaration verbatim');
});

test('OpenSSL TLS 1.2: one CLIENT_RANDOM line with the 48-byte master key', () => {
  const cr = Buffer.alloc(32, 0x11);
  const mk = Buffer.alloc(48, 0x22);
  const r = entriesOfSample(sample({ version: 0x0303, clientRandom: cr, master_key: mk }))!;
  assert.equal(r.entries.length, 1);
  assert.equal(r.entries[0]!.label, 'CLIENT_RANDOM');
  assert.deepEqual(r.entries[0]!.clientRandom, cr);
  assert.deepEqual(r.entries[0]!.secret, mk);
  assert.equal(r.event.hdr.pid, 4242);
  assert.equal(r.event.hdr.comm, 'curl');
});

test('OpenSSL TLS 1.3: handshake traffic secrets derived with HKDF (RFC 8448), app and exporter secrets cut to the hash', () => {
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(64 - b.length)]); // OpenSSL's u8[64]
  const r = entriesOfSample(
    sample({
      version: 0x0304,
      cipherId: 0x03001301,
      clientRandom: RFC.clientRandom,
      early_secret: pad(Buffer.alloc(32, 0x55)), // never written: not a traffic secret
      handshake_secret: pad(RFC.handshake),
      handshake_traffic_hash: pad(RFC.helloHash),
      client_app_traffic_secret: pad(RFC.cAp),
      server_app_traffic_secret: pad(RFC.sAp),
      exporter_master_secret: pad(RFC.exporter),
    }),
  )!;
  const got = Object.fromEntries(r.entries.map((e) => [e.label, e.secret.toString('hex')]));
  assert.deepEqual(got, {
    CLIENT_HANDSHAKE_TRAFFIC_SECRET: RFC.cHs.toString('hex'),
    SERVER_HANDSHAKE_TRAFFIC_SECRET: RFC.sHs.toString('hex'),
    CLIENT_TRAFFIC_SECRET_0: RFC.cAp.toString('hex'),
    SERVER_TRAFFIC_SECRET_0: RFC.sAp.toString('hex'),
    EXPORTER_SECRET: RFC.exporter.toString('hex'),
  });
  assert.deepEqual(r.entries.map((e) => e.label).slice(0, 2), ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET'], 'handshake secrets first');
});

test('BoringSSL TLS 1.3: traffic secrets taken as they are, hash_len (48) decides their length', () => {
  const s = (v: number): Buffer => Buffer.concat([Buffer.alloc(48, v), Buffer.alloc(16, 0xee)]); // bytes past 48 are not secret
  const r = entriesOfSample(
    sample({
      version: 0x0304,
      hashLen: 48,
      flags: MsFlags.MS_BORINGSSL | MsFlags.MS_HS_SNAPSHOT,
      clientRandom: Buffer.alloc(32, 0x01),
      client_handshake_secret: s(0x31),
      server_handshake_secret: s(0x32),
      client_app_traffic_secret: s(0x33),
      server_app_traffic_secret: s(0x34),
      exporter_master_secret: s(0x35),
    }),
  )!;
  assert.deepEqual(
    r.entries.map((e) => [e.label, e.secret.length, e.secret[0]]),
    [
      ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 48, 0x31],
      ['SERVER_HANDSHAKE_TRAFFIC_SECRET', 48, 0x32],
      ['CLIENT_TRAFFIC_SECRET_0', 48, 0x33],
      ['SERVER_TRAFFIC_SECRET_0', 48, 0x34],
      ['EXPORTER_SECRET', 48, 0x35],
    ],
  );
});

test('samples that are not usable master secrets give nothing (and never throw)', () => {
  assert.equal(entriesOfSample(Buffer.alloc(3)), undefined);
  assert.equal(entriesOfSample(Buffer.alloc(MasterSecretEventLayout.SIZE)), undefined, 'kind 0');
  const short = sample({ version: 0x0303, clientRandom: Buffer.alloc(32, 1), master_key: Buffer.alloc(48, 2) }).subarray(0, 100);
  assert.equal(entriesOfSample(short), undefined);
  assert.deepEqual(entriesOfSample(sample({ version: 0x0303, clientRandom: Buffer.alloc(32, 1) }))!.entries, [], 'zero master key');
  assert.deepEqual(entriesOfSample(sample({ version: 0x0303, clientRandom: Buffer.alloc(32), master_key: Buffer.alloc(48, 2) }))!.entries, [], 'zero random');
  assert.deepEqual(entriesOfSample(sample({ version: 0xfefd, clientRandom: Buffer.alloc(32, 1), master_key: Buffer.alloc(48, 2) }))!.entries, [], 'DTLS');
});

test('KeySink: key log file 0600, DSB lines before the KeyRecords, duplicates dropped once for all outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ecap-keys-'));
  try {
    const path = join(dir, 'keys.log');
    const dsb: string[][] = [];
    const recs: CaptureRecord[] = [];
    const order: string[] = [];
    const sink = new KeySink({
      path,
      wallClock: (m) => BigInt(m) + 1_700_000_000_000_000_000n,
      emit: (r) => {
        recs.push(r);
        order.push('record');
      },
      onLines: (l) => {
        dsb.push(l);
        order.push('dsb');
      },
    });
    const s12 = sample({ version: 0x0303, clientRandom: Buffer.alloc(32, 7), master_key: Buffer.alloc(48, 8) });
    sink.handle(s12);
    sink.handle(s12); // the client and the server of one connection both report it
    sink.close();
    assert.equal((statSync(path).mode & 0o777).toString(8), '600');
    const lines = readFileSync(path, 'latin1');
    assert.equal(parseKeylog(lines).length, 1);
    assert.match(lines, /^CLIENT_RANDOM 0707[0-9a-f]+ 0808[0-9a-f]+\n$/);
    assert.equal(dsb.length, 1);
    assert.deepEqual(order, ['dsb', 'record']);
    const k = recs[0] as KeyRecord;
    assert.equal(k.type, 'key');
    assert.equal(k.label, 'CLIENT_RANDOM');
    assert.equal(k.who.pid, 4242);
    assert.equal(k.ts, 1_700_000_000_001_000_000n);
    assert.deepEqual(sink.counters, { events: 2, lines: 1, duplicates: 1, empty: 0, short: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
