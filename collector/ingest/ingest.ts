import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { heartbeat, SIDECAR_HEADER, type IngestAck } from '../../api/audit/v1/ingest.ts';
import type { TokenAuthenticator, UserInfo } from '../auth/authenticator.ts';
import { checkBinding } from '../auth/identity.ts';
import { CollectorError, writeJson } from '../errors.ts';
import { bearerToken, mediaType, readBody } from '../http/body.ts';
import { withBodyReserved, type ByteBudget } from '../http/byte-budget.ts';
import type { CollectorMetrics } from '../metrics.ts';
import { storeCall } from '../store-call.ts';
import type { AuditStore } from '../store/store.ts';
import { parseBatch } from './parse-batch.ts';
import { MAX_AHEAD_MS } from './time-bounds.ts';
import type { SidecarOwners } from './sidecar-owners.ts';

export interface IngestContext {
  readonly store: AuditStore;
  /** Sidecar tokens: audience = the collector's. */
  readonly authenticator: TokenAuthenticator;
  readonly owners: SidecarOwners;
  readonly metrics: CollectorMetrics;
  readonly maxBatchBytes: number;
  /** Bytes of bodies in flight, shared with queries: the memory ceiling. */
  readonly budget: ByteBudget;
  /** How far back an event's time may be: the retention period. */
  readonly retentionMs: number;
  readonly clock: () => number;
  /** Called after a batch stored new events (wakes the exporters). */
  readonly onStored: () => void;
}

const MAX_HEARTBEAT_BYTES = 4 * 1024 * 1024;

/**
 * POST /v1/events, in this order: authenticate (before reading a byte of the body), media type, bounded
 * body, strict parse (every line), binding of every event's server to the token, sidecar id ownership,
 * store; the ack goes out only after the store committed. Any failure stores nothing.
 */
export async function handleIngest(
  context: IngestContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const user = await authenticate(context, request);
  if (mediaType(request) !== 'application/x-ndjson') {
    throw new CollectorError(
      'unsupported_media_type',
      'a batch is application/x-ndjson: one AuditEvent per line',
    );
  }
  refuseEncoded(request);
  // Reserved before a byte is read: the memory ceiling (http/byte-budget.ts).
  await withBodyReserved(context.budget, request, context.maxBatchBytes, () =>
    ingestBody(context, request, response, user),
  );
}

async function ingestBody(
  context: IngestContext,
  request: IncomingMessage,
  response: ServerResponse,
  user: UserInfo,
): Promise<void> {
  const body = await readBody(request, context.maxBatchBytes);
  const events = parseBatch(body, header(request, SIDECAR_HEADER), {
    now: context.clock(),
    maxAheadMs: MAX_AHEAD_MS,
    maxBehindMs: context.retentionMs,
  });
  for (const [index, event] of events.entries()) checkBinding(user, event.server, `line ${index + 1}`);
  const first = events[0]!;
  // One sidecar per batch (parseBatch), so its first event's server speaks for the ownership check.
  await context.owners.check(first.sidecar, first.server);
  const result = await storeCall(context.metrics, 'insert', () => context.store.insert(events));
  context.owners.remember(first.sidecar, first.server);
  context.metrics.ingestEvents.inc({ result: 'accepted' }, result.accepted);
  context.metrics.ingestEvents.inc({ result: 'duplicate' }, result.duplicates);
  if (result.accepted > 0) context.onStored();
  const ack: IngestAck = {
    accepted: result.accepted,
    duplicates: result.duplicates,
    throughSeq: events.at(-1)!.seq,
  };
  writeJson(response, 200, ack);
}

/** POST /v1/heartbeat: the same authentication and binding; the store records progress and lost ranges. */
export async function handleHeartbeat(
  context: IngestContext,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const user = await authenticate(context, request);
  if (mediaType(request) !== 'application/json') {
    throw new CollectorError('unsupported_media_type', 'a heartbeat is application/json');
  }
  refuseEncoded(request);
  const body = await withBodyReserved(context.budget, request, MAX_HEARTBEAT_BYTES, () =>
    readBody(request, MAX_HEARTBEAT_BYTES),
  );
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new CollectorError('invalid_heartbeat', `not JSON (${(error as Error).message})`);
  }
  const parsed = heartbeat.safeParse(value);
  if (!parsed.success) throw new CollectorError('invalid_heartbeat', z.prettifyError(parsed.error));
  const beat = parsed.data;
  const named = header(request, SIDECAR_HEADER);
  if (named !== undefined && named !== beat.sidecar) {
    throw new CollectorError('sidecar_mismatch', `heartbeat of sidecar ${beat.sidecar} sent as ${named}`);
  }
  checkBinding(user, beat.server, 'heartbeat');
  await context.owners.check(beat.sidecar, beat.server);
  await storeCall(context.metrics, 'heartbeat', () => context.store.heartbeat(beat));
  context.owners.remember(beat.sidecar, beat.server);
  response.writeHead(204, { 'cache-control': 'no-store' }).end();
}

async function authenticate(context: IngestContext, request: IncomingMessage): Promise<UserInfo> {
  const token = bearerToken(request);
  if (token === undefined)
    throw new CollectorError(
      'missing_token',
      'a bearer token (the sidecar service-account token) is required',
    );
  return (await context.authenticator.authenticate(token)).user;
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function refuseEncoded(request: IncomingMessage): void {
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new CollectorError('unsupported_media_type', `Content-Encoding ${encoding} is not supported`);
  }
}
