/**
 * What `ecapture zsh` hooks in the zsh binary (--zsh, else $SHELL when it is a zsh, else /bin/zsh):
 * zleentry (required: the line editor's entry point, exported by zsh for its zle module), and for the exit
 * status execode + parse_event + the lastval variable (see bpf/shell/zsh.bpf.c). Optional: zlegetline in
 * the zle module (zle.so next to zsh's other modules, or in zsh itself when built statically), for the
 * first line of a zsh already waiting at its prompt when the capture starts.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { libraryDirs } from '../../discovery/libs.js';
import type { ElfFile } from '../../elf/elf-file.js';
import { rodata } from '../../bpf/object.js';
import type { AuditPlan, PlannedUprobe } from '../bash/audit-module.js';
import { findFunc, findVar, noSymbol, openTarget } from '../bash/symbols.js';
import { SHELL_TRACEPOINTS, shellPath } from '../bash/targets.js';

/** zsh's version as its binary states it ("5.9"), for the module directory. */
function zshVersion(elf: ElfFile): string | undefined {
  const m = elf.searchRodata(/zsh\/(\d+\.\d+(?:\.\d+)?)\/zsh/) ?? elf.searchRodata(/\/zsh\/(\d+\.\d+(?:\.\d+)?)\b/);
  return m?.[1];
}

/** zle.so of this zsh: <libdir>/zsh/<version>/zsh/zle.so (the only version there when the binary does not say). */
export function findZleModule(version: string | undefined, dirs: string[] = libraryDirs()): string | undefined {
  for (const d of dirs) {
    const base = join(d, 'zsh');
    let versions: string[];
    try {
      versions = readdirSync(base);
    } catch {
      continue;
    }
    const pick = version ? versions.filter((v) => v === version) : versions.length === 1 ? versions : [];
    for (const v of pick) {
      const p = join(base, v, 'zsh', 'zle.so');
      try {
        if (statSync(p).isFile()) return p;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}

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
    // zlegetline: in zsh itself (static zle) or in its zle module
    let getline = findFunc(elf, 'zlegetline');
    let zlePath = zsh;
    if (!getline) {
      const mod = findZleModule(zshVersion(elf));
      if (mod) {
        const z = openTarget(mod, 'zle.so');
        try {
          getline = findFunc(z, 'zlegetline');
          zlePath = mod;
        } finally {
          z.close();
        }
      }
    }
    if (getline) uprobes.push({ program: 'uretprobe_zlegetline', path: zlePath, offset: getline.offset, retprobe: true, symbol: 'zlegetline' });
    else warnings.push(`zlegetline (zle module) not found: the first line of a zsh already at its prompt is missed`);
    return {
      object: 'shell/zsh',
      rodata: { status_vaddr: rodata.u64(lastval ?? 0) },
      uprobes,
      tracepoints: SHELL_TRACEPOINTS,
      files: zlePath === zsh ? [zsh] : [zsh, zlePath],
      info: { zsh, exit_status: lastval && execode ? 'lastval' : 'none' },
      warnings,
    };
  } finally {
    elf.close();
  }
}
