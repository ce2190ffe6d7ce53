/**
 * Who a sidecar is, as the collector checks it. The operator runs each McpServer's pods as the
 * ServiceAccount `<server>-mcp` in the server's namespace; a projected token for that account, with the
 * collector's audience, may carry events of that server only.
 */
export const COLLECTOR_AUDIENCE = 'portcullis-collector';

export function sidecarServiceAccountName(serverName: string): string {
  return `${serverName}-mcp`;
}
