import { quantityToBytes } from '../../policy/quantity.ts';
import type { SidecarContext } from '../context.ts';
import type { Exchange } from '../exchange.ts';
import { readBounded, TOO_LARGE } from '../read-bounded.ts';
import { reject } from '../reject.ts';
import type { StageResult } from './stage.ts';

const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/** Reads a POST body up to the size cap; larger bodies are refused without being buffered. */
export async function readBody(exchange: Exchange, context: SidecarContext): Promise<StageResult> {
  if (exchange.method !== 'POST') return undefined;
  const limit =
    quantityToBytes(context.policy.current?.bundle.spec.limits.maxRequestSize) ?? DEFAULT_MAX_REQUEST_BYTES;
  const declared = Number(exchange.headers['content-length'] ?? NaN);
  const tooLarge = () => reject('body_too_large', `request body exceeds ${limit} bytes`);
  if (declared > limit) return tooLarge();
  const body = await readBounded(exchange.request, limit);
  if (body === TOO_LARGE) return tooLarge();
  exchange.body = body;
  return undefined;
}
