import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DataRecord, GapRecord } from '../model/records.js';
import { tagOf } from './records.js';

describe('tagOf', () => {
  const base: DataRecord = {
    type: 'data', ts: 5n, module: 'tls', who: { pid: 1, tid: 2, uid: 3, comm: 'c' }, dir: 'read', fd: 4, connId: 'ab', seq: 9, payload: Buffer.from('x'),
  };
  it('is the record without its payload: same keys (optional ones only when present) and values', () => {
    const tuple = { family: 4 as const, local: { addr: '1.2.3.4', port: 1 }, remote: { addr: '5.6.7.8', port: 2 } };
    for (const r of [base, { ...base, tuple }, { ...base, lib: 'openssl 3.0.2' }, { ...base, tuple, lib: 'boringssl' }, { ...base, tuple: undefined }, { ...base, lib: undefined }]) {
      const { payload: _p, ...expected } = r;
      const t = tagOf(r);
      assert.deepStrictEqual(t, expected);
      assert.deepEqual(Object.keys(t).sort(), Object.keys(expected).sort());
      assert.equal(t.who, r.who, 'the Who object is shared, not copied');
    }
  });
  it('returns gap records as they are', () => {
    const g: GapRecord = { type: 'gap', ts: 1n, module: 'tls', who: base.who, dir: 'write', fd: 4, connId: 'ab', seq: 0, lostBytes: 3 };
    assert.equal(tagOf(g), g);
  });
});
