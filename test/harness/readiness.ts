import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Probe {
  readonly url: string;
  /** PEM CA to verify an https server with. */
  readonly ca?: string;
  readonly bearerToken?: string;
}

export class ReadinessTimeoutError extends Error {
  constructor(what: string, timeoutMs: number, lastResult: string) {
    super(`${what} was not ready after ${timeoutMs} ms (last probe: ${lastResult})`);
    this.name = 'ReadinessTimeoutError';
  }
}

/**
 * Polls `probe.url` until it answers 200. Rejects with ReadinessTimeoutError after `timeoutMs`, or
 * as soon as `failure` rejects (e.g. the server process exited), whichever comes first.
 */
export async function waitForOk(
  what: string,
  probe: Probe,
  timeoutMs: number,
  failure: Promise<never>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastResult = 'none yet';
  let failed = false;
  failure.catch(() => (failed = true));
  const poll = async (): Promise<void> => {
    while (!failed) {
      try {
        const { status, body } = await get(probe);
        if (status === 200) return;
        lastResult = `HTTP ${status}: ${summarize(body)}`;
      } catch (error) {
        lastResult = (error as Error).message;
      }
      if (Date.now() >= deadline) throw new ReadinessTimeoutError(what, timeoutMs, lastResult);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  await Promise.race([poll(), failure]);
}

/** kube-apiserver's /readyz lists every check; the failing ones ("[-]...") are what matter. */
function summarize(body: string): string {
  const lines = body.trim().split('\n');
  const failing = lines.filter((line) => line.startsWith('[-]'));
  return (failing.length > 0 ? failing : lines.slice(-5)).join(' | ');
}

function get(probe: Probe): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(probe.url);
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      ca: probe.ca,
      headers: probe.bearerToken === undefined ? {} : { authorization: `Bearer ${probe.bearerToken}` },
      timeout: 2_000,
    });
    request.on('timeout', () => request.destroy(new Error('no answer within 2 s')));
    request.on('error', reject);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.end();
  });
}
