import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { executableMappings, exePath, hostPath, parseMaps, processExists, status } from './proc.js';

test('parseMaps reads every field, paths with spaces and anonymous mappings', () => {
  const text = [
    '55d0c0000000-55d0c0021000 r--p 00000000 fe:01 1835015                    /usr/bin/curl',
    '7f1c2a000000-7f1c2a0a1000 r-xp 0002c000 fe:01 1312 /usr/lib/x86_64-linux-gnu/libssl.so.3',
    '7f1c2b000000-7f1c2b001000 rw-p 00000000 00:00 0 ',
    '7ffd0000-7ffd1000 r-xp 00000000 00:00 0                          [vdso]',
    '7f00-7f10 r-xp 00000000 fe:01 99 /tmp/dir with space/lib.so (deleted)',
    'garbage line',
  ].join('\n');
  const m = parseMaps(text);
  assert.equal(m.length, 5);
  assert.equal(m[1]!.perms, 'r-xp');
  assert.equal(m[1]!.offset, 0x2c000n);
  assert.equal(m[1]!.inode, 1312);
  assert.equal(m[1]!.path, '/usr/lib/x86_64-linux-gnu/libssl.so.3');
  assert.equal(m[2]!.path, '');
  assert.equal(m[4]!.path, '/tmp/dir with space/lib.so (deleted)');
});

test('executableMappings of this process include the node binary', () => {
  const exe = exePath(process.pid)!;
  const maps = executableMappings(process.pid);
  assert.ok(maps.some((m) => m.path === exe), `${exe} in ${maps.map((m) => m.path).join(', ')}`);
  const node = maps.find((m) => m.path === exe)!;
  assert.equal(hostPath(process.pid, node.path, node.inode), exe);
  assert.equal(node.inode, statSync(exe).ino);
});

test('a vanished process reads as empty, never throws', () => {
  assert.equal(processExists(4_000_000), false);
  assert.deepEqual(executableMappings(4_000_000), []);
  assert.equal(exePath(4_000_000), undefined);
  assert.equal(status(4_000_000), undefined);
  assert.equal(status(process.pid)!.uid, process.getuid!());
});
