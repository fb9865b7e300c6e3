/**
 * What `ecapture bash` hooks: the bash binary (--bash, else $SHELL when it is a bash, else /bin/bash) and the
 * file that defines readline (--readlineso, else bash itself when readline is built in as on Debian, else
 * the libreadline.so bash needs).
 *
 * Like eCapture, readline_internal_teardown is hooked when exported (it returns the line, after Enter),
 * else readline; plus, for the exit status, execute_command as called by reader_loop and read_command (see
 * bpf/shell/bash.bpf.c). Only the line function is required; without execute_command/read_command lines are
 * still captured, without an exit status.
 */
import { basename, dirname } from 'node:path';
import { CaptureError } from '../../errors.js';
import type { Config } from '../../config/schema.js';
import { resolveNeeded } from '../../discovery/libs.js';
import { exePath } from '../../discovery/proc.js';
import { rodata } from '../../bpf/object.js';
import type { ElfFile } from '../../elf/elf-file.js';
import type { AuditPlan, PlannedUprobe } from './audit-module.js';
import { findFunc, findVar, noSymbol, openTarget, type FuncPoint } from './symbols.js';

export const SHELL_TRACEPOINTS: [string, string, string][] = [
  ['tp_shell_exit', 'sched', 'sched_process_exit'],
  ['tp_shell_exec', 'sched', 'sched_process_exec'],
];

/** The shell binary to hook: the flag, else the --pid's executable, else $SHELL when it names this shell, else the default. */
export function shellPath(flag: string, pid: number, name: 'bash' | 'zsh', fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (pid > 0) {
    const exe = exePath(pid);
    if (!exe) throw new CaptureError('ECAP_NO_PROCESS', `--pid ${pid}: no such process`, { hint: 'check the pid with `ps`' });
    if (!basename(exe).includes(name)) {
      throw new CaptureError('ECAP_NO_TARGET', `--pid ${pid} runs ${exe}, not ${name}`, { hint: `give the pid of an interactive ${name}, or name its binary with --${name}` });
    }
    return exe;
  }
  const sh = env.SHELL ?? '';
  if (sh.includes(name)) return sh;
  return fallback;
}

/**
 * Where the line is returned: readline_internal_teardown when exported (eCapture's choice too), else readline.
 * The teardown runs after Enter, so a bash already waiting at its prompt when the capture starts still has
 * its first line captured; a uretprobe on readline would miss it (the call in progress is not hooked).
 */
function readlineIn(elf: ElfFile): FuncPoint | undefined {
  return findFunc(elf, 'readline_internal_teardown') ?? findFunc(elf, 'readline');
}

export function planBash(config: Config): AuditPlan {
  const pid = Number(config.pid ?? 0);
  const bash = shellPath(String(config.bash ?? ''), pid, 'bash', '/bin/bash');
  const rlFlag = String(config.readlineso ?? '');
  const warnings: string[] = [];
  const elf = openTarget(bash, '--bash');
  let rlElf: ElfFile | undefined;
  try {
    let rlPath = bash;
    let rl: FuncPoint | undefined;
    if (rlFlag) {
      rlElf = openTarget(rlFlag, '--readlineso');
      rl = readlineIn(rlElf);
      rlPath = rlFlag;
      if (!rl) throw noSymbol('readline', rlFlag, 'point --readlineso at the libreadline.so your bash uses (see `ldd $(command -v bash)`)');
    } else {
      rl = readlineIn(elf);
      if (!rl) {
        const { needed, runpath } = elf.dynamic();
        const lib = needed.find((n) => n.startsWith('libreadline'));
        const p = lib ? resolveNeeded(lib, runpath, dirname(bash)) : undefined;
        if (p) {
          rlElf = openTarget(p, 'libreadline');
          rl = readlineIn(rlElf);
          rlPath = p;
        }
        if (!rl) {
          throw noSymbol('readline', `${bash}${p ? ` or ${p}` : ''}`, 'this bash has no readline to hook; pass --readlineso PATH (the libreadline.so it uses) or --bash PATH');
        }
      }
    }
    const exec = findFunc(elf, 'execute_command');
    const read = findFunc(elf, 'read_command');
    const loop = findFunc(elf, 'reader_loop');
    const status = findVar(elf, 'last_command_exit_value');
    const uprobes: PlannedUprobe[] = [
      { program: 'uretprobe_readline', path: rlPath, offset: rl.offset, retprobe: true, symbol: rl.name },
    ];
    if (exec) {
      uprobes.push({ program: 'uprobe_execute_command', path: bash, offset: exec.offset, cookie: exec.vaddr, symbol: 'execute_command' });
      uprobes.push({ program: 'uretprobe_execute_command', path: bash, offset: exec.offset, retprobe: true, symbol: 'execute_command' });
    } else {
      warnings.push(`symbol execute_command not found in ${bash}: exit statuses come from $? when the next prompt is read`);
    }
    if (read) {
      uprobes.push({ program: 'uprobe_read_command', path: bash, offset: read.offset, cookie: read.vaddr, symbol: 'read_command' });
    } else {
      warnings.push(`symbol read_command not found in ${bash}: commands that do not run (syntax errors) join the next one`);
    }
    if (!status) warnings.push(`symbol last_command_exit_value not found in ${bash}: commands that do not run have no exit status`);
    if (exec && !loop) warnings.push(`symbol reader_loop not found in ${bash}: the outermost execute_command counts as the command`);
    if (!exec && !(read && status)) warnings.push('no exit statuses: neither execute_command nor read_command + last_command_exit_value are exported');
    return {
      object: 'shell/bash',
      rodata: {
        status_vaddr: rodata.u64(status ?? 0),
        reader_loop_vaddr: rodata.u64(loop?.vaddr ?? 0),
        reader_loop_size: rodata.u64(loop?.size ?? 0),
      },
      uprobes,
      tracepoints: SHELL_TRACEPOINTS,
      files: rlPath === bash ? [bash] : [bash, rlPath],
      info: { bash, readline: `${rl.name} in ${rlPath}`, exit_status: exec ? 'execute_command' : read && status ? 'last_command_exit_value' : 'none' },
      warnings,
    };
  } finally {
    elf.close();
    rlElf?.close();
  }
}
