/**
 * Go struct offsets and argument positions the gotls BPF programs need, as data (64-bit targets).
 *
 * Path from a `*tls.Conn` to the socket:
 *   tls.Conn.conn (net.Conn interface {itab, data}) at +0; its data word at +8 is a `*net.TCPConn`;
 *   net.TCPConn embeds net.conn {fd *netFD} at +0, so the first word of the TCPConn is the `*netFD`;
 *   netFD.pfd (poll.FD) at +0; poll.FD.Sysfd (after fdMutex, 16 bytes) at +16;
 *   netFD.laddr / netFD.raddr (net.Addr interfaces) at +96 / +112, data words at +104 / +120,
 *   each a `*net.TCPAddr` {IP []byte at +0 (ptr +0, len +8), Port int at +24, Zone string at +32}.
 *
 * Verified for go1.19.8 amd64 by building test/fixtures/go/goinfo (prints the reflect offsets) in
 * offsets.test.ts. For the other releases the values follow from the struct definitions in Go's sources:
 * poll.FD is {fdmu fdMutex (16 bytes), Sysfd int, …} throughout, and its size stays 56 bytes (newer
 * releases move the unix `iovecs` pointer into an embedded SysFile placed before `pd`, same size); netFD is
 * {pfd, family, sotype, isConnected, net, laddr, raddr}; net.TCPAddr is {IP, Port, Zone}. Only go1.19.8 is
 * build-verified on this machine (the only toolchain here).
 */
export interface GoTlsStructOffsets {
  /** tls.Conn.conn (net.Conn interface) */
  tlsConnConn: number;
  /** data word inside an interface value */
  ifaceData: number;
  /** *netFD inside net.TCPConn (net.conn.fd) */
  tcpConnFd: number;
  /** poll.FD.Sysfd inside netFD */
  netFdSysfd: number;
  netFdLaddr: number;
  netFdRaddr: number;
  tcpAddrIp: number;
  tcpAddrPort: number;
  /** slice header: data pointer at +0, len at +8, cap at +16 */
  sliceLen: number;
}

export const GO_TLS_STRUCT_OFFSETS: GoTlsStructOffsets = Object.freeze({
  tlsConnConn: 0,
  ifaceData: 8,
  tcpConnFd: 0,
  netFdSysfd: 16,
  netFdLaddr: 96,
  netFdRaddr: 112,
  tcpAddrIp: 0,
  tcpAddrPort: 24,
  sliceLen: 8,
});

/** Go minor versions (of Go 1) the offsets apply to, and the ones verified by building on this machine. */
export const GO_TLS_STRUCT_OFFSETS_RANGE = { fromMinor: 17, toMinor: 23, buildVerified: ['go1.19.8/amd64'] } as const;

/**
 * Argument words (1-based; a string is 2 words, a slice 3) of the probed functions, identical for both
 * ABIs: under the register ABI word N is argument register N (abi.ts), under the stack ABI it is at
 * SP + 8·N at entry.
 */
export const GO_TLS_ARGS = Object.freeze({
  /** func (c *Conn) writeRecordLocked(typ recordType, data []byte) (int, error) — uprobe at entry */
  writeRecordLocked: { conn: 1, recordType: 2, dataPtr: 3, dataLen: 4 },
  /**
   * func (c *Conn) Read(b []byte) (int, error) — uprobes at every RET. conn and the buffer pointer are
   * read from their spill slots (stack words 1 and 2); n is result word 1: register AX/X0 (register ABI)
   * or stack word 5 (stack ABI: 4 argument words, then the results).
   */
  read: { conn: 1, bufPtr: 2, bufLen: 3, resultN: 1, stackResultN: 5 },
  /** func (c *Config) writeKeyLog(label string, clientRandom, secret []byte) error — uprobe at entry */
  writeKeyLog: { config: 1, labelPtr: 2, labelLen: 3, clientRandomPtr: 4, clientRandomLen: 5, secretPtr: 7, secretLen: 8 },
});

/** TLS record type of application data, the only one the write probe reports. */
export const RECORD_TYPE_APPLICATION_DATA = 23;
