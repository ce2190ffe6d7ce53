import { createConnection, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { readJsonLines } from './json-lines.ts';
import type { StdioProcess } from './stdio-process.ts';

/**
 * The stdio of a server in another container of the pod, reached through portcullis-stdio-bridge's Unix
 * socket. Same contract as a spawned process: newline-delimited JSON-RPC; a lost connection counts as an
 * exit (in-flight calls fail) and is re-established with backoff (the bridge may still be starting, or
 * its container restarting).
 */
export function connectStdioSocket(path: string, log: Logger): StdioProcess {
  const messageListeners: ((m: Record<string, unknown>) => void)[] = [];
  const exitListeners: (() => void)[] = [];
  let socket: Socket | undefined;
  let connected = false;
  let closing = false;
  let failures = 0;

  function connect(): void {
    const conn = createConnection(path);
    socket = conn;
    conn.on('connect', () => {
      connected = true;
      failures = 0;
      log.info({ socket: path }, 'connected to the stdio bridge');
    });
    readJsonLines(conn, log, messageListeners);
    conn.on('error', (error) => log.warn({ err: error, socket: path }, 'stdio bridge connection error'));
    conn.on('close', () => {
      const wasConnected = connected;
      connected = false;
      if (wasConnected) for (const listener of exitListeners) listener();
      if (closing) return;
      failures += 1;
      setTimeout(connect, Math.min(5000, 50 * 2 ** Math.min(failures, 7))).unref();
    });
  }
  connect();

  return {
    send(message) {
      if (!connected || !socket?.writable) return false;
      socket.write(`${JSON.stringify(message)}\n`);
      return true;
    },
    onMessage: (listener) => void messageListeners.push(listener),
    onExit: (listener) => void exitListeners.push(listener),
    close() {
      closing = true;
      socket?.end();
      return Promise.resolve();
    },
  };
}
