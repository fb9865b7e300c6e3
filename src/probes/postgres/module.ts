/** The `postgres` module: bpf/db/postgres.bpf.c planned by targets.ts, events turned into QueryRecords by queries.ts. */
import type { Config } from '../../config/schema.js';
import { AuditModule } from '../bash/audit-module.js';
import { PostgresQueries } from './queries.js';
import { planPostgres } from './targets.js';

export class PostgresModule extends AuditModule {
  constructor(config: Config) {
    super('postgres', config, (c) => planPostgres(c), (ctx) => new PostgresQueries(ctx.wallClock, ctx.emit));
  }
}
