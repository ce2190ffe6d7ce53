import { describe, expect, it } from 'vitest';
import { discoveryUrls } from './discovery.ts';

describe('discoveryUrls', () => {
  it.each([
    [
      'https://id.example.com',
      [
        'https://id.example.com/.well-known/openid-configuration',
        'https://id.example.com/.well-known/oauth-authorization-server',
      ],
    ],
    [
      'https://id.example.com/realms/acme',
      [
        'https://id.example.com/realms/acme/.well-known/openid-configuration',
        'https://id.example.com/.well-known/oauth-authorization-server/realms/acme',
      ],
    ],
    [
      'https://id.example.com/tenant/',
      [
        'https://id.example.com/tenant/.well-known/openid-configuration',
        'https://id.example.com/.well-known/oauth-authorization-server/tenant',
      ],
    ],
  ])('%s', (issuer, urls) => {
    expect(discoveryUrls(issuer)).toEqual(urls);
  });
});
