/** Registry entry of the `postgres` module. The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';

export const postgresDescriptor: ModuleDescriptor = {
  name: 'postgres',
  aliases: ['postgresql', 'pg'],
  routes: ['postgres', 'postgress'],
  displayName: 'postgres',
  summary: 'audit the SQL that reaches PostgreSQL servers: simple and extended protocol, outcome, session',
  description:
    'Hooks exported functions of the postgres server (pg_parse_query for the text of Query and Parse messages, pgstat_report_activity for executions of prepared statements (Bind), pq_endmessage for errors, ReadyForQuery for success) and prints every statement a client sends: the full text whatever its length, the protocol message it came in (simple, parse, execute), its outcome (SUCCESS or the error with its SQLSTATE), the database and user@client of the session, pid and time. Works on builds without exec_simple_query in their symbols (Debian).',
  examples: ['ecapture postgres', 'ecapture postgres --postgres /usr/lib/postgresql/15/bin/postgres', 'ecapture postgres --funcname exec_simple_query'],
  options: [
    { key: 'postgres', long: 'postgres', short: 'm', type: 'string', default: '', arg: 'path', jsonAliases: ['PostgresPath', 'postgrespath'],
      description: 'postgres binary to hook (default: the newest /usr/lib/postgresql/<N>/bin/postgres, /usr/pgsql-<N>/bin/postgres, /usr/local/pgsql/bin/postgres or /usr/bin/postgres)' },
    { key: 'funcname', long: 'funcname', short: 'f', type: 'string', default: '', arg: 'symbol', jsonAliases: ['FuncName'],
      description: 'function whose first argument is the query text (default: pg_parse_query, else exec_simple_query)' },
  ],
  async load() {
    const { PostgresModule } = await import('./module.js');
    return (config) => new PostgresModule(config);
  },
};
