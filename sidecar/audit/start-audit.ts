import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Heartbeat } from '../../api/audit/v1/ingest.ts';
import type { SidecarConfig } from '../config.ts';
import { createCollectorTrust, type CollectorTrust } from './collector-trust.ts';
import { AuditShipper } from './shipper.ts';
import { createAuditShippingMetrics, type AuditShippingMetrics } from './shipper-metrics.ts';
import { logAuditSink, type AuditSink } from './sink.ts';
import { walAuditSink } from './wal-sink.ts';
import { WriteAheadLog } from './wal/write-ahead-log.ts';

export interface AuditPipeline {
  readonly sink: AuditSink;
  readonly wal?: WriteAheadLog;
  readonly shipper?: AuditShipper;
  /** Starts shipping (once the sidecar knows which server it serves). */
  start(): void;
  /** Ships what it can within `drainMs`, then closes the WAL (everything written is on disk). */
  close(drainMs: number): Promise<void>;
}

export interface AuditEnvironment {
  readonly log: Logger;
  readonly clock: () => number;
  readonly registry: Registry;
  readonly server: () => { namespace: string; name: string } | undefined;
  readonly serving: () => Pick<Heartbeat, 'policyHash' | 'tools'>;
  /** Tests: heartbeat and batch settings. */
  readonly shipping?: {
    readonly heartbeatIntervalMs?: number;
    readonly maxBatchEvents?: number;
    readonly lingerMs?: number;
  };
}

/**
 * With --audit-wal: events go to the write-ahead log and a shipper drains it to the collector.
 * Without: events are JSON lines in the log, for development, where nothing promises delivery.
 */
export async function startAudit(config: SidecarConfig, env: AuditEnvironment): Promise<AuditPipeline> {
  if (config.auditWal === undefined || config.collectorUrl === undefined) {
    return { sink: logAuditSink(env.log), start: () => undefined, close: () => Promise.resolve() };
  }
  const metrics = createAuditShippingMetrics(env.registry);
  // Before the WAL opens: a CA file that does not load at start is a configuration error.
  const trust = config.collectorCaFile
    ? await startCollectorTrust(config.collectorCaFile, metrics, env.log)
    : undefined;
  const wal = await WriteAheadLog.open({
    dir: config.auditWal,
    maxBytes: config.auditWalMaxBytes,
    syncIntervalMs: config.auditSyncMs,
    log: env.log,
  });
  if (wal.lost.length > 0)
    env.log.error(
      { lost: wal.lost },
      'the audit WAL had corrupted records; the lost ranges are reported to the collector',
    );
  const shipper = new AuditShipper({
    wal,
    collectorUrl: config.collectorUrl,
    tokenFile: config.collectorTokenFile,
    server: env.server,
    ...(config.podName ? { pod: config.podName } : {}),
    serving: env.serving,
    metrics,
    log: env.log,
    clock: env.clock,
    lingerMs: config.auditLingerMs,
    ...(trust ? { dispatcher: trust.dispatcher } : {}),
    ...env.shipping,
  });
  return {
    sink: walAuditSink(wal, metrics, env.log),
    wal,
    shipper,
    start: () => shipper.start(),
    async close(drainMs) {
      await shipper.stop(drainMs);
      await wal.close();
      await trust?.close();
    },
  };
}

/** The collector's CA, re-read when the mounted file changes; each outcome logged and counted. */
function startCollectorTrust(
  caFile: string,
  metrics: AuditShippingMetrics,
  log: Logger,
): Promise<CollectorTrust> {
  for (const result of ['loaded', 'invalid']) metrics.collectorCaReloads.inc({ result }, 0);
  return createCollectorTrust({
    caFile,
    onLoaded: (certificates) => {
      metrics.collectorCaReloads.inc({ result: 'loaded' });
      log.info(
        { file: caFile, certificates },
        'collector CA loaded; new connections to the collector use it',
      );
    },
    onInvalid: (message) => {
      metrics.collectorCaReloads.inc({ result: 'invalid' });
      log.error({ error: message }, 'collector CA not reloaded; the previous one stays in force');
    },
    onWatchError: (message) => log.warn({ error: message }, 'collector CA file: directory watch failed'),
  });
}
