/**
 * The request body's media type, read strictly. The sidecar decodes bodies as UTF-8 and forwards UTF-8 it
 * wrote itself, so a body that declares another charset would be read one way by the gate and another way by
 * any server that honours the declaration (UTF-7 turns `"tools/+AGMAYQBsAGw-"` into `tools/call`). Only
 * `application/json`, optionally with `charset=utf-8` (any case, quoted or not), is accepted; any other
 * parameter is refused too, since nothing guarantees a server ignores it.
 */
import { quoteForMessage } from './quote.ts';

export type MediaTypeCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const ACCEPTED: MediaTypeCheck = Object.freeze({ ok: true });

export function checkJsonMediaType(header: string | undefined): MediaTypeCheck {
  if (header === undefined) return refused('POST bodies must be application/json');
  const [type = '', ...parameters] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json')
    return refused('POST bodies must be application/json');
  for (const parameter of parameters) {
    const equals = parameter.indexOf('=');
    const name = (equals < 0 ? parameter : parameter.slice(0, equals)).trim().toLowerCase();
    if (name === '' && equals < 0) continue; // a trailing ";" adds nothing
    if (name !== 'charset')
      return refused(`the media type parameter ${quoteForMessage(name, 32)} is not accepted`);
    const value = unquote(parameter.slice(equals + 1).trim()).toLowerCase();
    if (value !== 'utf-8')
      return refused(`only UTF-8 bodies are accepted, not charset ${quoteForMessage(value, 32)}`);
  }
  return ACCEPTED;
}

/**
 * Content-Encoding: only identity. The sidecar does not inflate bodies, and forwarding compressed bytes
 * would forward something it never read.
 */
export function checkContentEncoding(header: string | undefined): MediaTypeCheck {
  if (header === undefined) return ACCEPTED;
  const value = header.trim().toLowerCase();
  if (value === '' || value === 'identity') return ACCEPTED;
  return refused(`Content-Encoding ${quoteForMessage(value, 32)} is not accepted; send the body unencoded`);
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

function refused(reason: string): MediaTypeCheck {
  return { ok: false, reason };
}
