import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEventKey } from '../../api/audit/v1/event.ts';
import { eventually } from '../harness/eventually.ts';
import {
  adminKubeConfig,
  createNamespace,
  postBatch,
  sidecarEvents,
  sidecarToken,
  startCollector,
  storedEvents,
  type CollectorUnderTest,
} from '../harness/collector.ts';

/**
 * Event identity (issue 16): an event is (sidecar, seq), in the store and in every export
 * (auditEventKey, docs/DESIGN.md "Event identity"); the event id is not compared. Before, an id repeated
 * within one batch was refused with 409, a batch no retry could ever store, while the same id in a later
 * batch was accepted and exported twice under the id the docs called the idempotency key.
 */
let collector: CollectorUnderTest;
let namespace: string;
let token: string;

beforeAll(async () => {
  const admin = adminKubeConfig();
  namespace = await createNamespace(admin, 'collector-identity');
  token = await sidecarToken(admin, namespace, 'docs');
  collector = await startCollector({ mode: 'child', flags: { 'query-auth': 'none', export: 'stdout' } });
});

afterAll(async () => {
  await collector?.stop();
});

describe('one event per (sidecar, seq), whatever its id', () => {
  it('stores and exports an id repeated under new seqs once per (sidecar, seq), each under its own key', async () => {
    const server = { namespace, name: 'docs' };
    const [one, two, three] = sidecarEvents('ident-a', 1, 3, server);
    const id = one!.id;
    const first = await postBatch(collector.url, token, [one!, { ...two!, id }]);
    expect(first).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, throughSeq: 2 } });
    const later = await postBatch(collector.url, token, [{ ...three!, id }]);
    expect(later).toEqual({ status: 200, body: { accepted: 1, duplicates: 0, throughSeq: 3 } });
    // A retry of seq 2 under yet another id is the stored event again.
    const retried = await postBatch(collector.url, token, [two!]);
    expect(retried).toEqual({ status: 200, body: { accepted: 0, duplicates: 1, throughSeq: 2 } });

    const stored = (await storedEvents(collector.url, namespace)).filter((e) => e.sidecar === 'ident-a');
    expect(stored.map((e) => [e.seq, e.id])).toEqual([
      [1, id],
      [2, id],
      [3, id],
    ]);
    const exported = await eventually(
      async () => collector.exported().filter((e) => e.sidecar === 'ident-a'),
      (events) => events.length >= 3,
    );
    expect(exported.map(auditEventKey).sort()).toEqual(['ident-a/1', 'ident-a/2', 'ident-a/3']);
  });
});
