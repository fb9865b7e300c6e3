/** The `bash` module: bpf/shell/bash.bpf.c planned by targets.ts, events turned into ShellRecords by shell.ts. */
import type { Config } from '../../config/schema.js';
import { AuditModule } from './audit-module.js';
import { ShellCommands } from './shell.js';
import { planBash } from './targets.js';

export function errnumberOf(config: Config): number | undefined {
  const v = config.errnumber;
  return v === undefined || v === '' ? undefined : Number(v);
}

export class BashModule extends AuditModule {
  constructor(config: Config) {
    super('bash', config, (c) => planBash(c), (ctx, c) => {
      const e = errnumberOf(c);
      return new ShellCommands(e === undefined ? { shell: 'bash' } : { shell: 'bash', errnumber: e }, ctx.wallClock, ctx.emit);
    });
  }
}
