import type { KubeConfig } from '@kubernetes/client-node';
import { request, type RequestOptions } from 'node:https';

/**
 * A minimal REST call with the kubeconfig's credentials, for what the typed clients make awkward
 * (server-side apply to the status subresource). Errors carry the API server's status and message.
 */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function kubeRequest(
  kube: KubeConfig,
  method: 'GET' | 'PATCH' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<unknown> {
  const server = new URL(kube.getCurrentCluster()?.server ?? 'https://kubernetes.default.svc');
  const options: RequestOptions = {
    method,
    hostname: server.hostname,
    port: server.port || 443,
    path,
    headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': contentType } : {}) },
  };
  await kube.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const parsed: unknown = text ? JSON.parse(text) : undefined;
        if ((res.statusCode ?? 500) >= 300) {
          reject(
            new ApiError(
              res.statusCode ?? 500,
              (parsed as { message?: string } | undefined)?.message ?? text,
            ),
          );
        } else resolve(parsed);
      });
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(payload);
  });
}
