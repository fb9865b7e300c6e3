import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { collect, render } from './gen-events.js';
import { projectRoot } from '../src/util/paths.js';
import { decodeTlsDataEvent, TlsDataEventLayout, EventHdrLayout } from '../src/gen/events.js';

const built = existsSync(join(projectRoot, 'build', 'bpf', 'tls', 'openssl.bpf.o'));
const bpftool = spawnSync('sh', ['-c', 'command -v bpftool']).status === 0;

test('src/gen/events.ts is what the compiled objects\' BTF says (regenerate with npm run gen)', { skip: (!built || !bpftool) && 'BPF objects not built' }, () => {
  const { structs, enums, objs } = collect();
  const fresh = render(structs, enums, objs);
  const committed = readFileSync(join(projectRoot, 'src', 'gen', 'events.ts'), 'utf8');
  assert.equal(committed, fresh, 'src/gen/events.ts is stale: run `make bpf && node dist/scripts/gen-events.js`');
});

test('decoders trust only the sample length', () => {
  assert.equal(decodeTlsDataEvent(Buffer.alloc(TlsDataEventLayout.PAYLOAD_OFFSET - 1)), undefined, 'short sample rejected');
  const s = Buffer.alloc(TlsDataEventLayout.PAYLOAD_OFFSET + 3);
  s.write('abc', TlsDataEventLayout.PAYLOAD_OFFSET);
  const e = decodeTlsDataEvent(s)!;
  assert.equal(e.payload.toString(), 'abc', 'payload clamped to the sample');
  assert.equal(EventHdrLayout.SIZE % 8, 0, 'header is 8-byte aligned');
});
