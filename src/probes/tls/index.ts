/** Registry entry of the `tls` module (alias `openssl`). The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { modelAliases, modelChoices, type OptionSpec } from '../../config/options.js';

export const tlsCaptureOptions = (defaults: { keylog: string; pcap: string }): OptionSpec[] => [
  { key: 'model', long: 'model', short: 'm', type: 'enum', choices: modelChoices, aliases: modelAliases, default: 'text', arg: 'mode',
    description: 'capture mode: text (plaintext), keylog|key (NSS key log), pcap|pcapng (packets + keys)', jsonAliases: ['capturemode', 'capture_mode'] },
  { key: 'keylogfile', long: 'keylogfile', short: 'k', type: 'string', default: defaults.keylog, arg: 'file',
    description: 'key log file (keylog mode; also written in pcap mode)', jsonAliases: ['keylog_file'] },
  { key: 'pcapfile', long: 'pcapfile', short: 'w', type: 'string', default: defaults.pcap, arg: 'file',
    description: 'pcapng output file (pcap mode)', jsonAliases: ['pcap_file'] },
  { key: 'ifname', long: 'ifname', short: 'i', type: 'string', default: '', arg: 'iface',
    description: 'interface to capture packets on (pcap mode; default: the first up non-loopback interface with an address)' },
  { key: 'cgroupPath', long: 'cgroup_path', type: 'string', default: '', arg: 'dir', live: true,
    description: 'capture only processes in this cgroup v2 directory', jsonAliases: ['cgroup_path'] },
  { key: 'pcapFilter', long: 'pcap-filter', type: 'string', default: '', arg: 'expr', hidden: true,
    description: 'pcap-filter(7) expression (also given as positional arguments)', jsonAliases: ['pcapfilter', 'pcap_filter'] },
  { key: 'perfReorder', long: 'perf-reorder', type: 'bool', default: false,
    description: 'accepted for eCapture compatibility; events already arrive in order from the single ring buffer', jsonAliases: ['perf_reorder'] },
  { key: 'perfReorderLagMs', long: 'perf-reorder-lag-ms', type: 'int', default: 10, min: 0, max: 10000, arg: 'ms',
    description: 'accepted for eCapture compatibility (see --perf-reorder)', jsonAliases: ['perf_reorder_lag_ms'] },
];

export const tlsDescriptor: ModuleDescriptor = {
  name: 'tls',
  aliases: ['openssl'],
  routes: ['tls', 'openssl', 'boringssl'],
  displayName: 'OpenSSL',
  summary: 'capture TLS plaintext, keys or packets of OpenSSL/BoringSSL users (also OpenSSL linked statically, e.g. node)',
  description:
    'Hooks SSL_write/SSL_read (and the _ex forms) of every libssl on the system and in running processes, and of\n' +
    'programs started later, and prints what they send and receive in plaintext, with process, thread, user, fd\n' +
    'and connection. No CA certificate and no change to the programs. With -m keylog it writes the connections\' TLS\n' +
    'secrets as an NSS key log instead; with -m pcap it captures the packets of an interface into a pcapng file that\n' +
    'carries those secrets, so Wireshark opens it decrypted (docs/keylog-pcap.md).',
  examples: [
    'ecapture tls',
    'ecapture tls -p 1234 --hex',
    'ecapture tls --libssl /usr/lib/x86_64-linux-gnu/libssl.so.3',
    'ecapture tls --libssl /usr/bin/node',
    'ecapture tls -m keylog -k keys.log',
    'ecapture tls -m pcap -i lo -w out.pcapng tcp port 443',
  ],
  options: [
    { key: 'libssl', long: 'libssl', type: 'string', default: '', arg: 'path',
      description: 'hook this libssl.so (or binary with OpenSSL linked in) only; default: every libssl found', jsonAliases: ['opensslpath'] },
    { key: 'sslVersion', long: 'ssl_version', type: 'string', default: '', arg: 'version',
      description: 'force the library layout, e.g. "openssl 3.0.12", "boringssl na", boringssl_a_13 (keylog/pcap modes)', jsonAliases: ['sslversion'] },
    ...tlsCaptureOptions({ keylog: 'ecapture_openssl_key.log', pcap: 'save.pcapng' }),
    { key: 'snaplen', long: 'snaplen', type: 'int', default: 0, min: 0, max: 65792, arg: 'bytes',
      description: 'pcap mode: bytes of each packet to keep (0 = whole packets, up to 65792)' },
  ],
  positional: { name: 'pcap-filter', key: 'pcapFilter', description: 'pcap-filter(7) expression for pcap mode, e.g. "tcp port 443"' },
  async load() {
    const { TlsModule } = await import('./module.js');
    return (config) => new TlsModule(config);
  },
};
