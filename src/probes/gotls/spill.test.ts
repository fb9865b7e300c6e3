import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goFixture, goSkipReason } from '../../../test/fixtures/go/build.js';
import { withElf } from '../../elf/elf-file.js';
import { findGoFunction, functionCode, GOTLS_READ_SYMBOL } from '../../elf/go/index.js';
import { readSpillProblem } from './spill.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
// go1.19.8 crypto/tls.(*Conn).Read, first 56 bytes (go tool objdump)
const GO119 = hex(`493b6610 0f86c2030000 4883ec68 48896c2460 488d6c2460 49c7c500000000 4c896c2458
  48898c2480000000 48895c2478 4889442470 c644241f00`);

test('Read spill check: go1.19.8 prologue passes', () => {
  assert.equal(readSpillProblem(GO119), undefined);
});

test('Read spill check: a 32-bit frame and displacement are understood', () => {
  // SUBQ $0x100, SP; MOVQ AX, 0x108(SP); MOVQ BX, 0x110(SP)
  assert.equal(readSpillProblem(hex('4881ec00010000 488984240801000048899c2410010000')), undefined);
});

test('Read spill check: missing spills and missing frames are reported', () => {
  assert.match(readSpillProblem(hex('4883ec68 4889442470'))!, /does not spill BX \(the buffer\) to 0x78\(SP\)/);
  assert.match(readSpillProblem(hex('4883ec68 48895c2478'))!, /does not spill AX \(the \*Conn\) to 0x70\(SP\)/);
  // stored, but to the wrong slot
  assert.match(readSpillProblem(hex('4883ec68 4889442478 48895c2470'))!, /AX .* and BX/);
  assert.match(readSpillProblem(hex('90 90 c3'))!, /no SUBQ/);
});

test('Read spill check: the built fixtures (normal, stripped, PIE) pass', { skip: goSkipReason() }, async () => {
  for (const v of ['normal', 'stripped', 'pie'] as const) {
    const bin = await goFixture('tlsclient', v);
    const code = withElf(bin, (elf) => functionCode(elf, findGoFunction(elf, GOTLS_READ_SYMBOL)!));
    assert.equal(readSpillProblem(code), undefined, v);
  }
});
