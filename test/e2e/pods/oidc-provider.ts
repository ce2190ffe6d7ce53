// Runs in a pod of the e2e cluster (test/e2e/identity.ts): a real OpenID provider (oidc-provider) over
// https with a private CA, issuing RFC 9068 JWT access tokens by the client credentials grant with
// RFC 8707 resource indicators. Each client stands for one caller; its claims come from CLIENTS.
//
//   env ISSUER     https URL the provider is reached at (its Service's DNS name)
//   env RESOURCES  comma-separated resource indicators (the servers' publicUrl)
//   env SCOPES     comma-separated scopes
//   env CLIENTS    JSON: { clientId: { secret, claims } }
//   env TLS_DIR    tls.crt, tls.key and signing-key.json (the ES256 JWK tokens are signed with)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { oidcProviderConfiguration } from '../../fixtures/auth/oidc-provider-configuration.ts';

interface Client {
  readonly secret: string;
  readonly claims: Record<string, unknown>;
}
type ProviderConstructor = new (
  issuer: string,
  configuration: object,
) => { callback(): (req: unknown, res: unknown) => void };

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
};
const issuer = env('ISSUER');
const resources = env('RESOURCES').split(',');
const scopes = env('SCOPES').split(',');
const clients = JSON.parse(env('CLIENTS')) as Record<string, Client>;
const tlsDir = env('TLS_DIR');

const moduleName: string = 'oidc-provider';
const { Provider } = (await import(moduleName)) as { Provider: ProviderConstructor };
const signingKey = JSON.parse(readFileSync(`${tlsDir}/signing-key.json`, 'utf8')) as Record<string, unknown>;

const provider = new Provider(
  issuer,
  oidcProviderConfiguration({
    resources,
    scopes,
    clients: Object.entries(clients).map(([id, client]) => ({ id, secret: client.secret })),
    signingKeys: [signingKey],
    accessTokenTtlSeconds: 600,
    claimsFor: (clientId) => (clientId === undefined ? {} : (clients[clientId]?.claims ?? {})),
  }),
);

const server = createServer({
  cert: readFileSync(`${tlsDir}/tls.crt`),
  key: readFileSync(`${tlsDir}/tls.key`),
});
server.on('request', provider.callback());
server.listen(8443, '0.0.0.0', () => console.log(`oidc-provider: ${issuer} listening on :8443`));
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
