import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipv4ToString, ipv6ToString } from './ip.js';

const v6 = (s: string): Buffer => {
  // expand a full 8-word address written with all words
  return Buffer.from(s.split(':').map((w) => w.padStart(4, '0')).join(''), 'hex');
};

test('ipv4', () => {
  assert.equal(ipv4ToString(Buffer.from([127, 0, 0, 1])), '127.0.0.1');
});

test('ipv6 per RFC 5952', () => {
  assert.equal(ipv6ToString(v6('0:0:0:0:0:0:0:1')), '::1');
  assert.equal(ipv6ToString(v6('0:0:0:0:0:0:0:0')), '::');
  assert.equal(ipv6ToString(v6('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
  assert.equal(ipv6ToString(v6('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
  assert.equal(ipv6ToString(v6('fe80:0:0:0:a:b:c:d')), 'fe80::a:b:c:d');
  assert.equal(ipv6ToString(v6('0:0:0:0:0:ffff:7f00:1')), '::ffff:127.0.0.1');
});
