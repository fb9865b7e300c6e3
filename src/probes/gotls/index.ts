/** Registry entry of the `gotls` module (alias `tlsgo`). The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { tlsCaptureOptions } from '../tls/index.js';

export const gotlsDescriptor: ModuleDescriptor = {
  name: 'gotls',
  aliases: ['tlsgo'],
  routes: ['gotls', 'tlsgo'],
  displayName: 'GoTLS',
  summary: 'capture TLS plaintext or keys of Go programs (Go\'s own crypto/tls; stripped and PIE builds too)',
  description:
    'Go programs carry their own TLS stack, so libssl hooks see nothing of them. gotls hooks crypto/tls inside the\n' +
    'Go executable: writes at (*Conn).writeRecordLocked, reads at every RET of (*Conn).Read (never uretprobes: Go\n' +
    'moves goroutine stacks), keys at (*Config).writeKeyLog. Functions are found in the symbol table or, for\n' +
    'stripped builds, in the pclntab; the calling convention (register ABI since Go 1.17 on amd64, 1.18 on arm64)\n' +
    'comes from the Go version in the binary. Without --elfpath or --pid it hooks every Go program using crypto/tls\n' +
    'that is running, and those started later.',
  examples: [
    'ecapture gotls --elfpath /usr/local/bin/myserver',
    'ecapture gotls -p 1234 --hex',
    'ecapture gotls',
    'ecapture gotls -e ./client -m keylog -k go_keys.log',
    'ecapture gotls -e ./client -m pcap -i lo -w go.pcapng tcp port 443',
  ],
  options: [
    { key: 'elfpath', long: 'elfpath', short: 'e', type: 'string', default: '', arg: 'path',
      description: 'hook this Go executable only; default: the executable of --pid, else every Go program using crypto/tls (running and started later)',
      jsonAliases: ['elf_path'] },
    ...tlsCaptureOptions({ keylog: 'ecapture_gotls_key.log', pcap: 'ecapture_gotls.pcapng' }),
    { key: 'snaplen', long: 'snaplen', type: 'int', default: 0, min: 0, max: 65792, arg: 'bytes',
      description: 'pcap mode: bytes of each packet to keep (0 = whole packets, up to 65792)' },
  ],
  positional: { name: 'pcap-filter', key: 'pcapFilter', description: 'pcap-filter(7) expression for pcap mode, e.g. "tcp port 443"' },
  async load() {
    const { GoTlsModule } = await import('./module.js');
    return (config) => new GoTlsModule(config);
  },
};
