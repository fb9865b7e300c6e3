/** Registers every module. The CLI, the HTTP API and the event stream all read the registry. */
import { registerModule, allModules } from './registry.js';
import { tlsDescriptor } from './probes/tls/index.js';
// module imports: one line per module, keep this order
import { gnutlsDescriptor } from './probes/gnutls/index.js';
import { nssDescriptor } from './probes/nss/index.js';
import { gotlsDescriptor } from './probes/gotls/index.js';
import { bashDescriptor } from './probes/bash/index.js';
import { zshDescriptor } from './probes/zsh/index.js';
import { mysqldDescriptor } from './probes/mysqld/index.js';
import { postgresDescriptor } from './probes/postgres/index.js';


let done = false;
export function registerAll(): void {
  if (done) return;
  done = true;
  registerModule(tlsDescriptor);
  // module registrations: one line per module, keep this order
  registerModule(gnutlsDescriptor);
  registerModule(nssDescriptor);
  registerModule(gotlsDescriptor);
  registerModule(bashDescriptor);
  registerModule(zshDescriptor);
  registerModule(mysqldDescriptor);
  registerModule(postgresDescriptor);

}

export { allModules };
