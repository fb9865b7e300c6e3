/** findLibraryTargets: the three ways to find targets and their messages, with a fake finder. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../config/schema.js';
import { CaptureError } from '../../errors.js';
import { findLibraryTargets, scanRunningProcesses, type LibraryTargetSpec } from './initial-targets.js';

interface T {
  key: string;
  from: string;
}

function spec(found: { file?: T; process?: T[]; system?: T[] }): LibraryTargetSpec<T> {
  return {
    option: 'libfoo',
    what: 'Foo',
    files: 'libfoo.so*',
    notATarget: 'not an ELF file that exports foo_write and foo_read',
    hints: { file: (p) => `hint for ${p}`, pid: 'pid hint', none: 'none hint' },
    finder: {
      inspect: () => found.file,
      ofProcess: () => found.process ?? [],
      system: () => found.system ?? [],
    },
  };
}

function thrown(f: () => unknown): CaptureError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof CaptureError);
    return e;
  }
  assert.fail('no error');
}

test('a named file: the target, or the option, the path and what it lacks', () => {
  const file = { key: '1:2', from: 'file' };
  assert.deepEqual(findLibraryTargets({ libfoo: '/x/libfoo.so' } as Config, spec({ file })), [file]);
  const e = thrown(() => findLibraryTargets({ libfoo: '/x/other.so' } as Config, spec({})));
  assert.equal(e.code, 'ECAP_NO_TARGET');
  assert.equal(e.message, '--libfoo /x/other.so: not an ELF file that exports foo_write and foo_read');
  assert.equal(e.hint, 'hint for /x/other.so');
});

test('--pid: the process must exist and map the library', () => {
  const gone = thrown(() => findLibraryTargets({ pid: 2 ** 22 + 1 } as Config, spec({})));
  assert.equal(gone.code, 'ECAP_NO_PROCESS');
  assert.equal(gone.message, `--pid ${2 ** 22 + 1}: no such process`);
  const none = thrown(() => findLibraryTargets({ pid: process.pid } as Config, spec({})));
  assert.equal(none.code, 'ECAP_NO_TARGET');
  assert.match(none.message, new RegExp(`^--pid ${process.pid} \\(.*\\) maps no Foo library$`));
  assert.equal(none.hint, 'pid hint');
  const mapped = [{ key: '3:4', from: 'process' }];
  assert.deepEqual(findLibraryTargets({ pid: process.pid } as Config, spec({ process: mapped })), mapped);
});

test('neither: the system files first, then each running process adds what is new', () => {
  const sys = { key: '5:6', from: 'system' };
  const out = findLibraryTargets({} as Config, spec({ system: [sys], process: [{ key: '5:6', from: 'process' }, { key: '7:8', from: 'process' }] }));
  assert.deepEqual(out, [sys, { key: '7:8', from: 'process' }]);
  const e = thrown(() => findLibraryTargets({} as Config, spec({})));
  assert.match(e.message, /^no Foo library found: looked for libfoo\.so\* in .+ and in the maps of \d+ running processes$/);
  assert.equal(e.hint, 'none hint');
});

test('scanRunningProcesses skips this process', () => {
  const seen: number[] = [];
  const { scanned } = scanRunningProcesses((pid) => {
    seen.push(pid);
    return [];
  });
  assert.equal(scanned, seen.length);
  assert.ok(!seen.includes(process.pid));
});
