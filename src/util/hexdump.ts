/**
 * Hex dump in the classic 16-bytes-per-row layout:
 *   00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hexdump(buf: Buffer, limit = buf.length): string {
  const n = Math.min(limit, buf.length);
  const rows: string[] = [];
  for (let off = 0; off < n; off += 16) {
    let hex = '';
    let asc = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      if (off + i < n) {
        const c = buf[off + i]!;
        hex += `${HEX[c]} `;
        asc += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
      } else {
        hex += '   ';
      }
    }
    rows.push(`${off.toString(16).padStart(8, '0')}  ${hex} |${asc}|`);
  }
  return rows.join('\n');
}
