/** HTTP/2 frame constants and names (RFC 9113 §6, §7, §11), and connection-level frame messages. */
import type { Http2ControlMessage } from '../types.js';

// const enums: tsc writes the numbers into the code that uses them. An imported object (or any imported
// binding) is read through its module cell on every use, with a check that it is initialised: a load, a
// compare and a map check per frame on the parsers' hot paths (seen in TurboFan's code for them).
export const enum FRAME {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const enum FLAG {
  END_STREAM = 0x1,
  ACK = 0x1,
  END_HEADERS = 0x4,
  PADDED = 0x8,
  PRIORITY = 0x20,
}

const FRAME_NAMES: Record<number, string> = {
  0x0: 'DATA', 0x1: 'HEADERS', 0x2: 'PRIORITY', 0x3: 'RST_STREAM', 0x4: 'SETTINGS', 0x5: 'PUSH_PROMISE',
  0x6: 'PING', 0x7: 'GOAWAY', 0x8: 'WINDOW_UPDATE', 0x9: 'CONTINUATION', 0xa: 'ALTSVC', 0xc: 'ORIGIN',
  0x10: 'PRIORITY_UPDATE',
};

export function frameName(type: number): string {
  return FRAME_NAMES[type] ?? `UNKNOWN_0x${type.toString(16)}`;
}

const ERROR_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

const SETTINGS_NAMES: Record<number, string> = {
  1: 'HEADER_TABLE_SIZE', 2: 'ENABLE_PUSH', 3: 'MAX_CONCURRENT_STREAMS', 4: 'INITIAL_WINDOW_SIZE',
  5: 'MAX_FRAME_SIZE', 6: 'MAX_HEADER_LIST_SIZE', 8: 'ENABLE_CONNECT_PROTOCOL', 9: 'NO_RFC7540_PRIORITIES',
};

export function settingName(id: number): string {
  return SETTINGS_NAMES[id] ?? `0x${id.toString(16)}`;
}

/** SETTINGS payload → [name, value] pairs. */
export function parseSettings(p: Buffer): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i + 6 <= p.length; i += 6) out.push([settingName(p.readUInt16BE(i)), p.readUInt32BE(i + 2)]);
  return out;
}

/**
 * The message for a connection-level frame (RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY),
 * undefined when `mode` does not show it, or an error string for a malformed frame.
 */
export function controlMessage(
  type: number,
  flags: number,
  streamId: number,
  p: Buffer,
  mode: 'none' | 'important' | 'all',
): Http2ControlMessage | undefined | string {
  const len = p.length;
  let extra: Partial<Http2ControlMessage> = {};
  let important = false;
  switch (type) {
    case FRAME.RST_STREAM: {
      if (len !== 4 || streamId === 0) return 'bad RST_STREAM';
      const code = p.readUInt32BE(0);
      extra = { errorCode: code, errorName: errorName(code) };
      break;
    }
    case FRAME.SETTINGS: {
      const ack = (flags & FLAG.ACK) !== 0;
      important = !ack;
      extra = ack ? { ack } : { settings: parseSettings(p) };
      break;
    }
    case FRAME.GOAWAY: {
      if (len < 8) return 'short GOAWAY';
      const code = p.readUInt32BE(4);
      important = true;
      extra = { lastStreamId: p.readUInt32BE(0) & 0x7fffffff, errorCode: code, errorName: errorName(code), data: Buffer.from(p.subarray(8)) };
      break;
    }
    case FRAME.PING:
      extra = { ack: (flags & FLAG.ACK) !== 0, data: Buffer.from(p) };
      break;
    case FRAME.WINDOW_UPDATE:
      if (len === 4) extra = { windowIncrement: p.readUInt32BE(0) & 0x7fffffff };
      break;
    default:
      break;
  }
  if (mode === 'none' || (mode === 'important' && !important)) return undefined;
  return { protocol: 'http2', kind: 'control', frameType: frameName(type), type, flags, streamId, length: len, ...extra };
}
