import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
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
    createInterface({ input: conn, crlfDelay: Infinity }).on('line', (line) => {
      if (line.trim() === '') return;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        log.warn({ line: line.slice(0, 200) }, 'stdio server wrote a line that is not JSON; ignored');
        return;
      }
      if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
        for (const listener of messageListeners) listener(message as Record<string, unknown>);
      }
    });
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
