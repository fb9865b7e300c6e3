import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CaptureError } from '../../errors.js';
import { withElf } from '../../elf/elf-file.js';
import { planBash, shellPath } from './targets.js';
import { findFunc, findVar, funcAt, parseOffset } from './symbols.js';
import { planZsh } from '../zsh/targets.js';

test('parseOffset: decimal and 0x-hex; anything else is a flag error', () => {
  assert.equal(parseOffset('0x710410', '--offset'), 0x710410);
  assert.equal(parseOffset('1234', '--offset'), 1234);
  assert.equal(parseOffset(' 0X1f ', '--offset'), 31);
  for (const bad of ['', '-1', '0x', 'abc', '1e3', '0x1g']) {
    assert.throws(() => parseOffset(bad, '--offset'), (e: unknown) => e instanceof CaptureError && e.code === 'ECAP_CONFIG_FLAG' && /--offset/.test(e.message));
  }
});

test('shellPath: flag, then $SHELL when it names the shell, then the default', () => {
  assert.equal(shellPath('/opt/bash', 0, 'bash', '/bin/bash', { SHELL: '/bin/zsh' }), '/opt/bash');
  assert.equal(shellPath('', 0, 'bash', '/bin/bash', { SHELL: '/usr/local/bin/bash' }), '/usr/local/bin/bash');
  assert.equal(shellPath('', 0, 'bash', '/bin/bash', { SHELL: '/bin/zsh' }), '/bin/bash');
  assert.equal(shellPath('', 0, 'zsh', '/bin/zsh', {}), '/bin/zsh');
  assert.throws(() => shellPath('', process.pid, 'bash', '/bin/bash', {}), /--pid \d+ runs .*node.*, not bash/);
  assert.throws(() => shellPath('', 0x3fffff, 'bash', '/bin/bash', {}), /no such process/);
  assert.equal(shellPath('/bin/bash', process.pid, 'bash', '/bin/bash', {}), '/bin/bash', 'the flag wins');
});

test('planBash on this machine\'s bash: readline built in (its teardown hooked), execute_command, read_command, reader_loop, $?', { skip: !existsSync('/bin/bash') }, () => {
  const p = planBash({ bash: '/bin/bash' });
  assert.equal(p.object, 'shell/bash');
  const progs = p.uprobes.map((u) => u.program);
  assert.deepEqual(progs, ['uretprobe_readline', 'uprobe_execute_command', 'uretprobe_execute_command', 'uprobe_read_command']);
  withElf('/bin/bash', (elf) => {
    const rl = findFunc(elf, 'readline_internal_teardown')!;
    assert.equal(p.uprobes[0]!.offset, rl.offset);
    assert.equal(p.uprobes[0]!.retprobe, true);
    const ex = findFunc(elf, 'execute_command')!;
    assert.equal(p.uprobes[1]!.cookie, ex.vaddr, 'entry probes carry the link-time address (load bias in BPF)');
    assert.equal(p.rodata.status_vaddr!.readBigUInt64LE(), BigInt(findVar(elf, 'last_command_exit_value')!));
    assert.equal(p.rodata.reader_loop_size!.readBigUInt64LE(), BigInt(findFunc(elf, 'reader_loop')!.size));
    assert.equal(funcAt(elf, ex.vaddr + 1)!.name, 'execute_command');
  });
  assert.deepEqual(p.warnings, []);
  assert.deepEqual(p.tracepoints.map((t) => t[2]), ['sched_process_exit', 'sched_process_exec']);
});

test('planBash / planZsh errors name the file, the symbol and the flag to use', () => {
  assert.throws(() => planBash({ bash: '/nonexistent/bash' }), /--bash \/nonexistent\/bash: no such file/);
  assert.throws(() => planBash({ bash: '/bin/true' }), (e: unknown) => e instanceof CaptureError && e.code === 'ECAP_ATTACH_NO_SYMBOL' && /readline/.test(e.message) && /--readlineso/.test(e.hint ?? ''));
  assert.throws(() => planBash({ bash: '/bin/bash', readlineso: '/bin/true' }), /symbol readline not found in \/bin\/true/);
  assert.throws(() => planBash({ bash: '/tmp' }), /not a regular file/);
  assert.throws(() => planZsh({ zsh: '/bin/true' }), /symbol zleentry not found in \/bin\/true/);
});

test('planZsh on this machine\'s zsh', { skip: !existsSync('/bin/zsh') }, () => {
  const p = planZsh({ zsh: '/bin/zsh' });
  assert.deepEqual(p.uprobes.map((u) => u.program), ['uprobe_zleentry', 'uretprobe_zleentry', 'uprobe_execode', 'uretprobe_execode', 'uprobe_parse_event', 'uretprobe_zlegetline']);
  assert.match(p.uprobes.at(-1)!.path, /\/zsh\/5\.\d+\/zsh\/zle\.so$/, 'zlegetline is in the zle module');
  assert.ok(p.rodata.status_vaddr!.readBigUInt64LE() > 0n, 'lastval found');
  assert.deepEqual(p.warnings, []);
});
