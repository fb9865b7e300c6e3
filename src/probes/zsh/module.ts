/** The `zsh` module: bpf/shell/zsh.bpf.c planned by targets.ts, events turned into ShellRecords (../bash/shell.ts). */
import type { Config } from '../../config/schema.js';
import { AuditModule } from '../bash/audit-module.js';
import { errnumberOf } from '../bash/module.js';
import { ShellCommands } from '../bash/shell.js';
import { planZsh } from './targets.js';

export class ZshModule extends AuditModule {
  constructor(config: Config) {
    super('zsh', config, (c) => planZsh(c), (ctx, c) => {
      const e = errnumberOf(c);
      return new ShellCommands(e === undefined ? { shell: 'zsh' } : { shell: 'zsh', errnumber: e }, ctx.wallClock, ctx.emit);
    });
  }
}
