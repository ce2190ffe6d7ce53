import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { freeLoopbackPorts } from './free-port.ts';
import { reapAbandonedControlPlanes, writeState } from './leftovers.ts';
import { describeLog } from './log-tail.ts';
import { signalProcess } from './processes.ts';
import { startSupervised, type SupervisedProcess } from './supervised-process.ts';

const run = promisify(execFile);
const ensureScript = fileURLToPath(new URL('../../scripts/ensure-postgres.sh', import.meta.url));
/** Prefix of the temporary directories, so a later run can reap those of a run that was killed. */
const TEMP_DIR_PREFIX = 'portcullis-pg-';

/** A private PostgreSQL server on 127.0.0.1, fsync on, that dies with this process. */
export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication: loopback, throwaway). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logPath: string;
  /** The postmaster's PID now (a restart changes it); its backends are its children. */
  readonly pid: number;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /**
   * Stops the server and starts it again on the same data and port. `crash` is SIGKILL to the postmaster:
   * the restart replays the WAL, so whatever a client saw committed must still be there. `fast` is a
   * clean shutdown (SIGINT).
   */
  restart(mode: 'fast' | 'crash'): Promise<void>;
  /** Fast shutdown, then removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL from scripts/ensure-postgres.sh's installation in a fresh temporary directory. As root
 * (CI, containers) initdb and postgres run as the `postgres` OS user, since postgres refuses root. The
 * server runs under test/harness/watchdog.sh like the control plane, so it is killed when this process
 * dies however it dies; its backends exit by themselves when the postmaster is gone.
 */
export async function startPostgres(options: { readyTimeoutMs?: number } = {}): Promise<PostgresServer> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const bindir = (await run(ensureScript, [], { encoding: 'utf8', timeout: 600_000 })).stdout.trim();
  await reapAbandonedControlPlanes(tmpdir(), TEMP_DIR_PREFIX);
  const user = await serverUser();
  const dir = mkdtempSync(join(tmpdir(), TEMP_DIR_PREFIX));
  writeState(dir, { ownerPid: process.pid, processes: [] });
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const dataDir = join(dir, 'data');
  const logPath = join(dir, 'postgres.log');
  const asServerUser = (command: string, args: string[]): [string, string[]] =>
    user === undefined
      ? [command, args]
      : [
          'setpriv',
          [
            '--reuid',
            String(user.uid),
            '--regid',
            String(user.gid),
            '--clear-groups',
            '--',
            command,
            ...args,
          ],
        ];

  try {
    // --no-sync only skips flushing initdb's own files (a test machine does not lose power mid-test);
    // the server itself runs with fsync on.
    const [initdb, initArgs] = asServerUser(join(bindir, 'initdb'), [
      '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync',
    ]); // prettier-ignore
    await run(initdb, initArgs, { timeout: 120_000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(error as Error).message}`, { cause: error });
  }

  const { postgres: port } = await freeLoopbackPorts(['postgres']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const [command, args] = asServerUser(join(bindir, 'postgres'), [
    '-D', dataDir,
    '-p', String(port),
    '-k', dir,
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=on',
    '-c', 'synchronous_commit=on',
    '-c', 'full_page_writes=on',
    '-c', 'max_connections=200',
  ]); // prettier-ignore

  let server: SupervisedProcess | undefined;
  const launch = async (): Promise<void> => {
    // After a crash, old backends may hold the shared memory a moment longer: the new postmaster then
    // refuses to start, and another try a little later succeeds.
    for (let attempt = 1; ; attempt++) {
      const started = await startSupervised({
        name: 'postgres',
        command,
        args,
        logPath,
        stopGraceSeconds: 10,
      });
      server = started;
      writeState(dir, {
        ownerPid: process.pid,
        processes: [{ name: 'postgres', pid: started.pid, watchdogPid: started.watchdogPid }],
      });
      const ready = await waitReady(url, started, readyTimeoutMs);
      if (ready === 'ready') return;
      if (attempt >= 5) throw new Error(`postgres did not start\n${describeLog('postgres', logPath)}`);
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  };
  const halt = async (signal: 'SIGINT' | 'SIGKILL'): Promise<void> => {
    if (server === undefined) return;
    // SIGINT is PostgreSQL's fast shutdown; the watchdog's SIGTERM would be smart shutdown, which waits
    // for every client to disconnect.
    signalProcess(server.pid, signal);
    await server.stop();
    server = undefined;
  };

  try {
    await launch();
  } catch (error) {
    await halt('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    dataDir,
    logPath,
    get pid() {
      if (server === undefined) throw new Error('postgres is not running');
      return server.pid;
    },
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    async restart(mode) {
      await halt(mode === 'crash' ? 'SIGKILL' : 'SIGINT');
      await launch();
    },
    stop() {
      stopping ??= (async () => {
        await halt('SIGINT');
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** The `postgres` OS user when we are root (postgres will not run as root); undefined otherwise. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch (error) {
    throw new Error('running as root, but there is no `postgres` user to run the server as', {
      cause: error,
    });
  }
}

/** 'ready' once a query succeeds; 'exited' if the server died first. */
async function waitReady(
  url: string,
  server: SupervisedProcess,
  timeoutMs: number,
): Promise<'ready' | 'exited'> {
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) return 'exited';
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return 'ready';
    } catch {
      // not yet: the socket is not open, or the database is still starting up or recovering
    } finally {
      await client.end().catch(() => {});
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `postgres was not ready within ${timeoutMs} ms\n${describeLog('postgres', server.logPath)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
