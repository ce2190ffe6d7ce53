import { CollectorError } from './errors.ts';
import type { CollectorMetrics } from './metrics.ts';
import { AuditStoreError } from './store/errors.ts';

/**
 * What a failed store call means to the client. Anything the store did not classify is treated as
 * unavailable: the shipper retries a 503, and retrying is the safe side for evidence.
 */
export function storeFailure(error: unknown): CollectorError {
  if (error instanceof CollectorError) return error;
  if (error instanceof AuditStoreError) {
    switch (error.code) {
      case 'invalid_event':
        return new CollectorError('malformed_batch', error.message, { cause: error });
      case 'foreign_sidecar':
        return new CollectorError('identity_mismatch', error.message, { cause: error });
      case 'invalid_cursor':
        return new CollectorError('invalid_query', error.message, { cause: error });
      case 'unknown_exporter':
        return new CollectorError('internal_error', error.message, { cause: error });
      case 'unavailable':
        break;
    }
  }
  return new CollectorError('store_unavailable', 'the audit store is unavailable; retry', { cause: error });
}

/** A store call, timed (portcullis_collector_store_duration_seconds) and with its failure classified. */
export async function storeCall<T>(
  metrics: CollectorMetrics,
  operation: string,
  call: () => Promise<T>,
): Promise<T> {
  const end = metrics.storeDuration.startTimer({ operation });
  let result = 'ok';
  try {
    return await call();
  } catch (error) {
    result = 'error';
    throw storeFailure(error);
  } finally {
    end({ result });
  }
}
