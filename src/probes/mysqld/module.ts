/** The `mysqld` module: bpf/db/mysqld.bpf.c planned by targets.ts, events turned into QueryRecords by queries.ts. */
import type { Config } from '../../config/schema.js';
import { AuditModule } from '../bash/audit-module.js';
import { MysqlQueries } from './queries.js';
import { planMysqld } from './targets.js';

export class MysqldModule extends AuditModule {
  constructor(config: Config) {
    super('mysqld', config, (c) => planMysqld(c), (ctx) => new MysqlQueries(ctx.wallClock, ctx.emit));
  }
}
