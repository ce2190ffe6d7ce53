import { AuditStoreError } from './errors.ts';

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 instant as the stores keep and compare it: UTC, exactly six fraction digits
 * ("2026-01-02T03:04:05.123456Z"). Fixed width makes text order time order (SQLite compares text), and
 * microseconds are what PostgreSQL's timestamptz holds, so both stores see the same instant. Digits beyond
 * the sixth are truncated; the event body keeps the time as the sidecar wrote it.
 */
export function storeTime(rfc3339: string): string {
  const match = RFC3339.exec(rfc3339);
  if (match === null) throw invalidTime(rfc3339);
  const [, wall = '', fraction = '', zone = '', sign, hours = '0', minutes = '0'] = match;
  const second = `${wall}${zone}`;
  if (second !== lastSecond.key)
    lastSecond = { key: second, utc: utcSecond(rfc3339, wall, zone, sign, hours, minutes) };
  return `${lastSecond.utc}.${fraction.slice(0, 6).padEnd(6, '0')}Z`;
}

/**
 * The last second converted, and its UTC form: the events of a batch mostly share their second, and
 * Date.parse with two toISOString calls was most of storeTime's cost (itself ~9 % of parsing a batch). Only
 * valid seconds are kept (an invalid one throws before it is stored).
 */
let lastSecond = { key: '', utc: '' };

/** `wall` (to the second) in `zone` as UTC "YYYY-MM-DDTHH:MM:SS"; throws when it is not a real instant. */
function utcSecond(
  rfc3339: string,
  wall: string,
  zone: string,
  sign: string | undefined,
  hours: string,
  minutes: string,
): string {
  const offsetMs =
    sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes)) * 60_000;
  const utcMs = Date.parse(`${wall}${zone}`);
  if (Number.isNaN(utcMs)) throw invalidTime(rfc3339);
  const utc = new Date(utcMs).toISOString();
  // Date.parse accepts 2026-02-30 (rolls over to March): the wall time must read back unchanged.
  const readBack = offsetMs === 0 ? utc : new Date(utcMs + offsetMs).toISOString();
  if (readBack.slice(0, 19) !== wall) throw invalidTime(rfc3339);
  // Outside years 0000-9999 the ISO form grows a sign and two digits, and text order breaks.
  if (utc.length !== 24) throw invalidTime(rfc3339);
  return utc.slice(0, 19);
}

function invalidTime(value: string): AuditStoreError {
  return new AuditStoreError('invalid_event', `time ${JSON.stringify(value.slice(0, 64))} is not RFC 3339`);
}

/**
 * A storeTime instant as microseconds since the epoch: how SQLite keeps event times, since an 8-byte
 * integer in five indexes is smaller and compares faster than 27 bytes of text. A bigint past year 2255,
 * where microseconds outgrow a double's exact integers.
 */
export function epochMicros(time: string): number | bigint {
  const second = time.slice(0, 19);
  if (second !== lastEpoch.second) lastEpoch = { second, ms: Date.parse(`${second}Z`) };
  const ms = lastEpoch.ms;
  const micros = Number(time.slice(20, 26));
  const value = ms * 1000 + micros;
  return Number.isSafeInteger(value) ? value : BigInt(ms) * 1000n + BigInt(micros);
}

/** The last second epochMicros parsed (consecutive events mostly share it). */
let lastEpoch = { second: '', ms: 0 };
