/**
 * What `ecapture zsh` hooks in the zsh binary (--zsh, else $SHELL when it is a zsh, else /bin/zsh):
 * zleentry (required: the line editor's entry point, exported by zsh for its zle module), and for the exit
 * status execode + parse_event + the lastval variable (see bpf/shell/zsh.bpf.c).
 */
import type { Config } from '../../config/schema.js';
import { rodata } from '../../bpf/object.js';
import type { AuditPlan, PlannedUprobe } from '../bash/audit-module.js';
import { findFunc, findVar, noSymbol, openTarget } from '../bash/symbols.js';
import { SHELL_TRACEPOINTS, shellPath } from '../bash/targets.js';

export function planZsh(config: Config): AuditPlan {
  const pid = Number(config.pid ?? 0);
  const zsh = shellPath(String(config.zsh ?? ''), pid, 'zsh', '/bin/zsh');
  const elf = openTarget(zsh, '--zsh');
  try {
    const zle = findFunc(elf, 'zleentry');
    if (!zle) throw noSymbol('zleentry', zsh, 'point --zsh at a zsh binary (zsh exports zleentry for its zle module)');
    const execode = findFunc(elf, 'execode');
    const parse = findFunc(elf, 'parse_event');
    const lastval = findVar(elf, 'lastval');
    const warnings: string[] = [];
    const uprobes: PlannedUprobe[] = [
      { program: 'uprobe_zleentry', path: zsh, offset: zle.offset, cookie: zle.vaddr, symbol: 'zleentry' },
      { program: 'uretprobe_zleentry', path: zsh, offset: zle.offset, retprobe: true, symbol: 'zleentry' },
    ];
    if (execode) {
      uprobes.push({ program: 'uprobe_execode', path: zsh, offset: execode.offset, cookie: execode.vaddr, symbol: 'execode' });
      uprobes.push({ program: 'uretprobe_execode', path: zsh, offset: execode.offset, retprobe: true, symbol: 'execode' });
    } else {
      warnings.push(`symbol execode not found in ${zsh}: a command ends when the next one is parsed`);
    }
    if (parse) {
      uprobes.push({ program: 'uprobe_parse_event', path: zsh, offset: parse.offset, cookie: parse.vaddr, symbol: 'parse_event' });
    } else {
      warnings.push(`symbol parse_event not found in ${zsh}: commands that do not run (parse errors) join the next one`);
    }
    if (!lastval) warnings.push(`symbol lastval not found in ${zsh}: no exit statuses`);
    return {
      object: 'shell/zsh',
      rodata: { status_vaddr: rodata.u64(lastval ?? 0) },
      uprobes,
      tracepoints: SHELL_TRACEPOINTS,
      files: [zsh],
      info: { zsh, exit_status: lastval && execode ? 'lastval' : 'none' },
      warnings,
    };
  } finally {
    elf.close();
  }
}
