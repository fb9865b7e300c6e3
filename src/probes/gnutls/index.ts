/** Registry entry of the `gnutls` module (alias `gnu`). The implementation is loaded lazily. */
import type { ModuleDescriptor } from '../../registry.js';
import { tlsCaptureOptions } from '../tls/index.js';

export const gnutlsDescriptor: ModuleDescriptor = {
  name: 'gnutls',
  aliases: ['gnu'],
  routes: ['gnutls', 'gnu'],
  displayName: 'GnuTLS',
  summary: 'capture TLS plaintext, keys or packets of GnuTLS users (wget, gnutls-cli, many GNOME/Debian tools)',
  description:
    'Hooks gnutls_record_send/gnutls_record_recv of every libgnutls on the system and in running processes, and of\n' +
    'programs started later, and prints what they send and receive in plaintext. In keylog mode it writes every TLS\n' +
    'secret GnuTLS derives (TLS 1.2 CLIENT_RANDOM, TLS 1.3 handshake/traffic/exporter secrets) as an NSS key log; in\n' +
    'pcap mode it also records the packets of one interface in a pcapng file with those secrets embedded.',
  examples: [
    'ecapture gnutls',
    'ecapture gnutls -p 1234 --hex',
    'ecapture gnutls --gnutls /usr/lib/x86_64-linux-gnu/libgnutls.so.30',
    'ecapture gnutls -m keylog -k gnutls_keys.log',
    'ecapture gnutls -m pcap -i lo -w gnutls.pcapng tcp port 443',
  ],
  options: [
    { key: 'gnutls', long: 'gnutls', type: 'string', default: '', arg: 'path',
      description: 'hook this libgnutls.so (or binary exporting gnutls_record_send) only; default: every libgnutls found', jsonAliases: ['gnutlspath', 'gnutls_path'] },
    { key: 'sslVersion', long: 'ssl_version', type: 'string', default: '', arg: 'version',
      description: 'GnuTLS version (e.g. 3.7.9) or layout (e.g. 3_7_7) for the struct offsets of the handshake key method (keylog mode)', jsonAliases: ['sslversion'] },
    { key: 'gnutlsKeys', long: 'gnutls-keys', type: 'enum', choices: ['auto', 'hook', 'handshake'], default: 'auto', arg: 'method', hidden: true,
      description: 'how keylog mode gets secrets: hook (GnuTLS\'s key log function), handshake (session struct offsets at gnutls_handshake return), auto (hook, else handshake)' },
    ...tlsCaptureOptions({ keylog: 'ecapture_gnutls_key.log', pcap: 'save.pcapng' }),
    { key: 'snaplen', long: 'snaplen', type: 'int', default: 0, min: 0, max: 65792, arg: 'bytes',
      description: 'pcap mode: bytes of each packet to keep (0 = whole packets, up to 65792)' },
  ],
  positional: { name: 'pcap-filter', key: 'pcapFilter', description: 'pcap-filter(7) expression for pcap mode, e.g. "tcp port 443"' },
  async load() {
    const { GnutlsModule } = await import('./module.js');
    return (config) => new GnutlsModule(config);
  },
};
