/**
 * Undo Go's strconv.Quote for a double-quoted string at the start of `s` (as used for build settings
 * like `-ldflags="-s -w"`). Escapes: \a \b \f \n \r \t \v \\ \" \' \xHH \ooo \uHHHH \UHHHHHHHH.
 * Returns the value and the index just past the closing quote, or undefined if `s` is not such a string.
 */
const SIMPLE: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

export function goUnquote(s: string): { value: string; end: number } | undefined {
  if (s[0] !== '"') return undefined;
  const bytes: number[] = [];
  const pushCodePoint = (cp: number): void => {
    bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
  };
  let i = 1;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (c !== '\\') {
      pushCodePoint(s.codePointAt(i)!);
      i += s.codePointAt(i)! > 0xffff ? 2 : 1;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) return undefined;
    if (e in SIMPLE) {
      bytes.push(SIMPLE[e]!);
      i += 2;
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) return undefined;
      const v = parseInt(hex, 16);
      if (e === 'x') bytes.push(v);
      else if (v > 0x10ffff) return undefined;
      else pushCodePoint(v);
      i += 2 + n;
    } else if (e >= '0' && e <= '7') {
      const oct = s.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return undefined;
      bytes.push(parseInt(oct, 8));
      i += 4;
    } else {
      return undefined;
    }
  }
  return undefined;
}
