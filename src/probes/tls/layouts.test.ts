import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { decodeLibOffsets } from '../../tls/lib-offsets.js';
import { layoutForFile, layoutMapEntry } from './layouts.js';

const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
const BSSL = '/usr/lib/x86_64-linux-gnu/android/libssl.so.0';
const NODE = '/usr/bin/node';

test('system libssl 3.0.22: not in the table, so the 3.0.0 layout with a warning naming both', { skip: !existsSync(LIBSSL) && 'no libssl.so.3' }, () => {
  const l = layoutForFile(LIBSSL, undefined);
  assert.equal(l.kind, 'openssl');
  assert.equal(l.layout, 'openssl_3_0_0');
  assert.match(l.version ?? '', /^openssl 3\.0\.\d+$/);
  if (l.version === 'openssl 3.0.22') {
    assert.equal(l.exact, false);
    assert.match(l.warning!, /OpenSSL 3\.0\.22 .*3\.0\.0 layout/);
  }
  // its accessors (SSL_get_rbio, …) agree with the layout: text mode reads the fd from SSL->rbio/wbio
  assert.equal(l.accessorsAgree, true);
  const { key, value } = layoutMapEntry(3, l);
  assert.equal(key.readUInt32LE(0), 3);
  assert.deepEqual(decodeLibOffsets(value), l.offsets);
});

test('--ssl_version forces a layout (and is cached separately)', { skip: !existsSync(LIBSSL) && 'no libssl.so.3' }, () => {
  const l = layoutForFile(LIBSSL, 'openssl 3.0.12');
  assert.equal(l.layout, 'openssl_3_0_12');
  assert.equal(layoutForFile(LIBSSL, undefined).layout, 'openssl_3_0_0');
  assert.throws(() => layoutForFile(LIBSSL, 'openssl banana'), /--ssl_version "openssl banana" is not understood/);
});

test('node (static OpenSSL 3.0.x) and Debian BoringSSL (a13 by accessor match)', () => {
  if (existsSync(NODE)) {
    const n = layoutForFile(NODE, undefined);
    assert.equal(n.layout, 'openssl_3_0_0');
    assert.match(n.version ?? '', /^openssl 3\.0\./);
  }
  if (existsSync(BSSL)) {
    const b = layoutForFile(BSSL, undefined);
    assert.equal(b.kind, 'boringssl');
    assert.equal(b.layout, 'boringssl_a_13');
    assert.ok(b.offsets.flags.boringssl);
    assert.equal(b.offsets.s3_hs, 0x110);
    assert.equal(b.accessorsAgree, true);
  }
});

test('a layout that does not match the file is not trusted for the fd (accessorsAgree false)', { skip: !existsSync(LIBSSL) && 'no libssl.so.3' }, () => {
  // OpenSSL 3.2 moved rbio/wbio behind SSL_CONNECTION (0x48/0x50 instead of 0x10/0x18): SSL_get_rbio disagrees
  const l = layoutForFile(LIBSSL, 'openssl 3.2.0');
  assert.equal(l.layout, 'openssl_3_2_0');
  assert.equal(l.accessorsAgree, false);
});
