import type { LoadedPolicy } from '../../policy/load.ts';
import { quantityToBytes } from '../../policy/quantity.ts';
import { reject, type Rejection } from '../reject.ts';

/**
 * The response-size cap (spec.limits.maxResponseSize): relay.ts counts a JSON answer while reading it
 * and an event stream as it passes, and stops at the cap; this is the limit and the refusal it gives.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

export function maxResponseBytes(policy: LoadedPolicy | undefined): number {
  return quantityToBytes(policy?.bundle.spec.limits.maxResponseSize) ?? DEFAULT_MAX_RESPONSE_BYTES;
}

export function responseTooLarge(policy: LoadedPolicy | undefined, streaming: boolean): Rejection {
  const limit = maxResponseBytes(policy);
  const setting = policy?.bundle.spec.limits.maxResponseSize;
  return reject(
    'response_too_large',
    `the MCP server's answer exceeded the response size limit of ${limit} bytes ` +
      `(limits.maxResponseSize ${setting ?? 'default 10Mi'}); ` +
      (streaming ? 'the stream was cut there' : 'it was not passed on'),
    policy ? { policyHash: policy.hash } : {},
  );
}
