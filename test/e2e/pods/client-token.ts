// The access token a client pod asks of the in-cluster OpenID provider (client credentials, for one
// resource and scope), shared by the SDK client and the load generator.

export interface TokenRequest {
  readonly idp: string;
  readonly clientId: string;
  readonly secret: string;
  readonly resource: string;
  readonly scope: string;
}

export async function clientToken(request: TokenRequest): Promise<string> {
  const response = await fetch(`${request.idp}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: request.clientId,
      client_secret: request.secret,
      resource: request.resource,
      scope: request.scope,
    }),
  });
  const body = (await response.json()) as { access_token?: string; error?: string };
  if (body.access_token === undefined) throw new Error(`token: ${response.status} ${body.error}`);
  return body.access_token;
}
