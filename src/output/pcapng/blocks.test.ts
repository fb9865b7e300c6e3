import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { enhancedPacketBlock, enhancedPacketBlockGeneric, enhancedPacketBlockParts, type EnhancedPacket } from './blocks.js';
import { readPcapng } from './reader.js';

test('the one-allocation and the zero-copy EPB encoders give exactly the bytes of the generic block() path', () => {
  fc.assert(
    fc.property(
      fc.record({
        interfaceId: fc.nat(3),
        tsNs: fc.bigUintN(64),
        data: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
        extra: fc.nat(100),
        comment: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        direction: fc.option(fc.constantFrom('inbound' as const, 'outbound' as const), { nil: undefined }),
      }),
      (r) => {
        const p: EnhancedPacket = { interfaceId: r.interfaceId, tsNs: r.tsNs, data: r.data, origLen: r.data.length + r.extra };
        if (r.comment !== undefined) p.comment = r.comment;
        if (r.direction !== undefined) p.direction = r.direction;
        const ref = enhancedPacketBlockGeneric(p);
        assert.deepEqual(enhancedPacketBlock(p), ref);
        assert.deepEqual(Buffer.concat(enhancedPacketBlockParts(p)), ref);
      },
    ),
    { numRuns: 2000 },
  );
  const b = enhancedPacketBlock({ interfaceId: 1, tsNs: 5n, data: Buffer.from('abc'), comment: 'pid=1 comm=ünï', direction: 'inbound' });
  assert.equal(b.length % 4, 0);
  const shb = Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex');
  const blocks = readPcapng(Buffer.concat([shb, b]));
  const epb = blocks[1]!;
  assert.equal(epb.type, 'epb');
  if (epb.type === 'epb') {
    assert.equal(epb.comment, 'pid=1 comm=ünï');
    assert.equal(epb.flags, 1);
    assert.deepEqual(epb.data, Buffer.from('abc'));
  }
});
