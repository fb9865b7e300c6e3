import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LIB_OFFSET_FIELDS, LIB_OFFSET_NONE, LIB_OFFSETS_SIZE, decodeLibOffsets, encodeLibOffsets, libOffsetsCStruct,
} from './lib-offsets.js';
import { layoutOffsets, loadOffsetsTable } from './offsets-table.js';

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'offsets', 'openssl.json'))) d = dirname(d);
  return d;
}

test('encodeLibOffsets: abi, flags, then one LE u32 per field in order; NONE for absent', () => {
  const o = layoutOffsets('openssl_3_0_12');
  const b = encodeLibOffsets(o);
  assert.equal(b.length, LIB_OFFSETS_SIZE);
  assert.equal(b.length, 8 + 4 * LIB_OFFSET_FIELDS.length);
  assert.equal(b.readUInt32LE(0), 1);
  assert.equal(b.readUInt32LE(4), 0x4); // TLS13 only: client_random embedded in ssl
  const at = (f: string) => b.readUInt32LE(8 + 4 * LIB_OFFSET_FIELDS.indexOf(f as never));
  assert.equal(at('ssl_version'), 0);
  assert.equal(at('ssl_session'), 0x938);
  assert.equal(at('client_random'), 0x160);
  assert.equal(at('exporter_master_secret'), 0x7c4);
  assert.equal(at('bio_method'), 0x8);
  assert.equal(at('ssl_type'), LIB_OFFSET_NONE);
  assert.equal(at('s3_hs'), LIB_OFFSET_NONE);
  assert.deepEqual(decodeLibOffsets(b), o);
  assert.throws(() => encodeLibOffsets({ ...o, ssl_session: -1 }), RangeError);
});

test('layouts carry the figures of ecapture.md §3.2 / §3.4', () => {
  const l = (n: string) => layoutOffsets(n);
  assert.equal(l('openssl_1_0_2a').client_random, 0xc4);
  assert.equal(l('openssl_1_0_2a').flags.clientRandomViaS3, true);
  assert.equal(l('openssl_1_0_2a').flags.tls13, false);
  assert.equal(l('openssl_1_0_2a').handshake_secret, undefined);
  assert.equal(l('openssl_1_1_1j').session_cipher, 0x1f0);
  assert.equal(l('openssl_1_1_1a').early_secret, 0x134);
  assert.equal(l('openssl_3_2_0').session_cipher, 0x300);
  assert.equal(l('openssl_3_2_4').ssl_version, 0x48);
  assert.equal(l('openssl_3_2_4').flags.sslConnection, true);
  assert.equal(l('openssl_3_5_0').client_random, 0x188);
  assert.equal(l('openssl_3_5_0').quic_conn_tls, 0x78);
  assert.equal(l('openssl_3_5_0').ssl_session, 0x900);
  const a13 = l('boringssl_a_13');
  assert.equal(a13.s3_hs, 0x110);
  assert.equal(a13.hs_new_session, 0x5d8);
  assert.equal(a13.hs_hash_len, 0x20); // roundup(0x1e + 2, 8)
  assert.equal(a13.hs_secret, 0x28);
  assert.equal(a13.hs_client_handshake_secret, 0x28 + 2 * 48);
  const a16 = l('boringssl_a_16');
  assert.equal(a16.ssl_version, undefined);
  assert.equal(a16.session_ssl_version, 0x4);
  assert.equal(a16.session_master_key_length, undefined); // fixed 48
  assert.equal(a16.flags.hsInplaceSecrets, true);
  assert.equal(a16.hs_secret, 0x20);
  assert.equal(a16.hs_server_traffic_secret_0, 0x20 + 5 * 49);
  assert.equal(l('boringssl_a_15').s3_client_traffic_secret_0_len, 0x1b1);
  assert.equal(l('boringssl_na').s3_client_traffic_secret_0, undefined);
  for (const n of Object.keys(loadOffsetsTable().layouts)) assert.equal(encodeLibOffsets(l(n)).length, LIB_OFFSETS_SIZE);
});

test('offsets/lib_offsets.h.txt is the generated C struct', () => {
  const text = readFileSync(join(repoRoot(), 'offsets', 'lib_offsets.h.txt'), 'utf8');
  assert.equal(text, libOffsetsCStruct());
  const members = [...text.matchAll(/^\s+__u32 (\w+);/gm)].map((m) => m[1]);
  assert.deepEqual(members, ['abi', 'flags', ...LIB_OFFSET_FIELDS]);
});

const MIRROR = '/work/.mirror/gojue+ecapture/repo';
test('offsets/openssl.json is what the generator makes from eCapture', { skip: !existsSync(MIRROR) }, () => {
  const root = repoRoot();
  const script = join(root, 'dist', 'scripts', 'gen-openssl-offsets.js');
  const rev = /@ (\w+)/.exec(loadOffsetsTable().source)![1]!;
  const out = execFileSync(process.execPath, [script, '--git', MIRROR, '--rev', rev], { encoding: 'utf8' });
  assert.equal(out, readFileSync(join(root, 'offsets', 'openssl.json'), 'utf8'));
});
