import { describe, expect, it } from 'vitest';
import {
  protectedResourceMetadata,
  resourceMetadataPaths,
  resourceMetadataUrl,
} from './resource-metadata.ts';
import { authSettings } from '../../test/fixtures/auth/settings.ts';

const issuer = 'https://id.example.com/realms/acme';

describe('protectedResourceMetadata', () => {
  it('describes the resource from configuration (RFC 9728)', () => {
    expect(protectedResourceMetadata(authSettings({ issuer }))).toEqual({
      resource: 'https://billing.mcp.example.com/mcp',
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
    });
  });

  it('names the configured audience as the resource, and lists required plus policy scopes once each', () => {
    const settings = authSettings({
      issuer,
      audience: 'https://billing.example.com',
      requiredScopes: ['mcp:call'],
    });
    expect(protectedResourceMetadata(settings, ['invoices:read', 'mcp:call'])).toEqual({
      resource: 'https://billing.example.com',
      authorization_servers: [issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:call', 'invoices:read'],
    });
  });
});

describe('resource metadata locations', () => {
  it.each([
    [
      'https://billing.mcp.example.com/mcp',
      ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'],
    ],
    [
      'https://billing.mcp.example.com/v1/mcp/',
      ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/v1/mcp/'],
    ],
    ['https://billing.mcp.example.com/', ['/.well-known/oauth-protected-resource']],
    ['https://billing.mcp.example.com', ['/.well-known/oauth-protected-resource']],
    [
      'https://billing.mcp.example.com/mcp?tenant=a',
      ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp'],
    ],
  ])('%s is served at %j', (publicUrl, paths) => {
    expect(resourceMetadataPaths(publicUrl)).toEqual(paths);
  });

  it('advertises the path-suffixed document as an absolute URL', () => {
    expect(resourceMetadataUrl('https://billing.mcp.example.com:8443/mcp')).toBe(
      'https://billing.mcp.example.com:8443/.well-known/oauth-protected-resource/mcp',
    );
    expect(resourceMetadataUrl('https://billing.mcp.example.com')).toBe(
      'https://billing.mcp.example.com/.well-known/oauth-protected-resource',
    );
  });
});
