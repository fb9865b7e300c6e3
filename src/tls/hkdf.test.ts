import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deriveHandshakeTrafficSecrets,
  deriveSecret,
  hkdf,
  hkdfExpand,
  hkdfExpandLabel,
  hkdfExtract,
  tls13HashForCipher,
  transcriptHash,
} from './hkdf.js';

const h = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256).
const V = {
  ecdhe: h('8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d'),
  early: h('33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a'),
  derivedForHs: h('6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba'),
  handshake: h('1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac'),
  helloHash: h('860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8'),
  cHs: h('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21'),
  sHs: h('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38'),
  sHsKey: h('3fce516009c21727d0f2e4e86ee403bc'),
  sHsIv: h('5d313eb2671276ee13000b30'),
  derivedForMaster: h('43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4'),
  master: h('18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919'),
  serverFinishedHash: h('9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13'),
  cAp: h('9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5'),
  sAp: h('a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643'),
  exporter: h('fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50'),
};

test('RFC 8448: early secret, derived, handshake secret (HKDF-Extract + Derive-Secret)', () => {
  const early = hkdfExtract('sha256', Buffer.alloc(0), Buffer.alloc(32));
  assert.deepEqual(early, V.early);
  const derived = deriveSecret('sha256', early, 'derived', transcriptHash('sha256'));
  assert.deepEqual(derived, V.derivedForHs);
  assert.deepEqual(hkdfExtract('sha256', derived, V.ecdhe), V.handshake);
});

test('RFC 8448: handshake traffic secrets from handshake secret + transcript hash', () => {
  assert.deepEqual(deriveSecret('sha256', V.handshake, 'c hs traffic', V.helloHash), V.cHs);
  assert.deepEqual(deriveSecret('sha256', V.handshake, 's hs traffic', V.helloHash), V.sHs);
  assert.deepEqual(hkdfExpandLabel('sha256', V.sHs, 'key', Buffer.alloc(0), 16), V.sHsKey);
  assert.deepEqual(hkdfExpandLabel('sha256', V.sHs, 'iv', Buffer.alloc(0), 12), V.sHsIv);
});

test('RFC 8448: master secret and application traffic / exporter secrets', () => {
  const derived = deriveSecret('sha256', V.handshake, 'derived', transcriptHash('sha256'));
  assert.deepEqual(derived, V.derivedForMaster);
  const master = hkdfExtract('sha256', derived, Buffer.alloc(32));
  assert.deepEqual(master, V.master);
  assert.deepEqual(deriveSecret('sha256', master, 'c ap traffic', V.serverFinishedHash), V.cAp);
  assert.deepEqual(deriveSecret('sha256', master, 's ap traffic', V.serverFinishedHash), V.sAp);
  assert.deepEqual(deriveSecret('sha256', master, 'exp master', V.serverFinishedHash), V.exporter);
});

test('deriveHandshakeTrafficSecrets: SHA-256 suites (0x1301, 0x1303), inputs padded to 64 bytes as in kernel events', () => {
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc(64 - b.length, 0xee)]);
  for (const id of [0x1301, 0x03001303]) {
    const r = deriveHandshakeTrafficSecrets(id, pad(V.handshake), pad(V.helloHash));
    assert.ok(r);
    assert.equal(r.hash, 'sha256');
    assert.deepEqual(r.client, V.cHs);
    assert.deepEqual(r.server, V.sHs);
  }
});

test('deriveHandshakeTrafficSecrets: SHA-384 suite (0x1302) matches OpenSSL TLS13-KDF', () => {
  // Reference computed with `openssl kdf -keylen 48 -kdfopt digest:SHA2-384 -kdfopt mode:EXPAND_ONLY
  //   -kdfopt hexkey:<hs> -kdfopt "prefix:tls13 " -kdfopt "label:c hs traffic" -kdfopt hexdata:<th> TLS13-KDF`.
  const hs = Buffer.from(Array.from({ length: 48 }, (_, i) => 0x40 + i));
  const th = transcriptHash('sha384', Buffer.from('abc'));
  assert.deepEqual(th, h('cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7'));
  const r = deriveHandshakeTrafficSecrets(0x1302, Buffer.concat([hs, Buffer.alloc(16)]), Buffer.concat([th, Buffer.alloc(16)]));
  assert.ok(r);
  assert.equal(r.hash, 'sha384');
  assert.equal(r.client.length, 48);
  assert.deepEqual(r.client, h('2680451c81dabed950a27c1613d130d5da1b299cd815ccaeacc5fe8e398358257ae06364510decd51bff0fbb06ccec57'));
  assert.deepEqual(r.server, h('58ca7239bfbb10b46346bdc3e53db83593a662e46b2c21de5c65b3a80c0bbcd7dd15b5b99c8348f3e29e4754782d483c'));
});

test('deriveHandshakeTrafficSecrets: unknown suite or short input → undefined', () => {
  assert.equal(deriveHandshakeTrafficSecrets(0xc02f, Buffer.alloc(64), Buffer.alloc(64)), undefined);
  assert.equal(deriveHandshakeTrafficSecrets(0x1301, Buffer.alloc(16), Buffer.alloc(64)), undefined);
  assert.equal(tls13HashForCipher(0x1302), 'sha384');
  assert.equal(tls13HashForCipher(0x1304), 'sha256');
});

test('hkdfExpand agrees with node hkdfSync; RFC 5869 test case 1', () => {
  const ikm = Buffer.alloc(22, 0x0b);
  const salt = h('000102030405060708090a0b0c');
  const info = h('f0f1f2f3f4f5f6f7f8f9');
  const prk = hkdfExtract('sha256', salt, ikm);
  assert.deepEqual(prk, h('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5'));
  const okm = hkdfExpand('sha256', prk, info, 42);
  assert.deepEqual(okm, h('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'));
  assert.deepEqual(hkdf('sha256', ikm, salt, info, 42), okm);
  const prk384 = hkdfExtract('sha384', salt, ikm);
  assert.deepEqual(hkdfExpand('sha384', prk384, info, 100), hkdf('sha384', ikm, salt, info, 100));
  assert.throws(() => hkdfExpand('sha256', prk, info, 255 * 32 + 1), RangeError);
});
