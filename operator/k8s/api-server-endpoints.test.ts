import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../kube/client.ts';
import { operatorSettingsSchema } from '../settings.ts';
import {
  discoverApiServerEndpoints,
  endpointsFromSlices,
  withApiServerEndpoints,
} from './api-server-endpoints.ts';

describe('endpointsFromSlices', () => {
  it('gives the /32 of every IPv4 endpoint address, sorted and without duplicates, and the https port', () => {
    expect(
      endpointsFromSlices({
        items: [
          {
            addressType: 'IPv4',
            endpoints: [
              { addresses: ['10.200.0.3'] },
              { addresses: ['10.200.0.1', '10.200.0.2'] },
              { addresses: ['10.200.0.1'] },
            ],
            ports: [{ name: 'https', port: 6443 }],
          },
        ],
      }),
    ).toEqual({ cidrs: ['10.200.0.1/32', '10.200.0.2/32', '10.200.0.3/32'], port: 6443 });
  });

  it('gives the /128 of IPv6 endpoints, and both families from a dual-stack Service', () => {
    expect(
      endpointsFromSlices({
        items: [
          {
            addressType: 'IPv6',
            endpoints: [{ addresses: ['fd00::1'] }, { addresses: ['fd00::2'] }],
            ports: [{ name: 'https', port: 6443 }],
          },
          {
            addressType: 'IPv4',
            endpoints: [{ addresses: ['192.0.2.10'] }],
            ports: [{ name: 'https', port: 6443 }],
          },
        ],
      }),
    ).toEqual({ cidrs: ['192.0.2.10/32', 'fd00::1/128', 'fd00::2/128'], port: 6443 });
  });

  it('takes the port named https over the first one, and the first one when none is named https', () => {
    const slice = (ports: { name?: string; port?: number }[]) => ({
      items: [{ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.5'] }], ports }],
    });
    expect(
      endpointsFromSlices(
        slice([
          { name: 'metrics', port: 9000 },
          { name: 'https', port: 8443 },
        ]),
      )?.port,
    ).toBe(8443);
    expect(
      endpointsFromSlices(
        slice([
          { name: 'api', port: 7443 },
          { name: 'other', port: 9000 },
        ]),
      )?.port,
    ).toBe(7443);
    expect(endpointsFromSlices(slice([{ port: 6443 }]))?.port).toBe(6443);
  });

  it('takes the port from a later slice when the first has none', () => {
    expect(
      endpointsFromSlices({
        items: [
          { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.5'] }] },
          {
            addressType: 'IPv4',
            endpoints: [{ addresses: ['10.0.0.6'] }],
            ports: [{ name: 'https', port: 6443 }],
          },
        ],
      }),
    ).toEqual({ cidrs: ['10.0.0.5/32', '10.0.0.6/32'], port: 6443 });
  });

  it('gives nothing without slices, without addresses or without a port', () => {
    expect(endpointsFromSlices({})).toBeUndefined();
    expect(endpointsFromSlices({ items: [] })).toBeUndefined();
    expect(
      endpointsFromSlices({
        items: [{ addressType: 'IPv4', endpoints: [], ports: [{ name: 'https', port: 6443 }] }],
      }),
    ).toBeUndefined();
    expect(
      endpointsFromSlices({
        items: [{ addressType: 'IPv4', endpoints: [{}], ports: [{ name: 'https', port: 6443 }] }],
      }),
    ).toBeUndefined();
    expect(
      endpointsFromSlices({ items: [{ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.5'] }] }] }),
    ).toBeUndefined();
  });
});

describe('discoverApiServerEndpoints', () => {
  it("lists the kubernetes Service's EndpointSlices in default (the one Role the chart grants)", async () => {
    const calls: [string, string][] = [];
    const client = {
      request: (method: string, path: string) => {
        calls.push([method, path]);
        return Promise.resolve({
          items: [
            {
              addressType: 'IPv4',
              endpoints: [{ addresses: ['10.200.0.1'] }],
              ports: [{ name: 'https', port: 6443 }],
            },
          ],
        });
      },
    } as unknown as KubeClient;
    expect(await discoverApiServerEndpoints(client)).toEqual({ cidrs: ['10.200.0.1/32'], port: 6443 });
    expect(calls).toHaveLength(1);
    const [method, path] = calls[0]!;
    expect(method).toBe('GET');
    const url = new URL(path, 'https://api.invalid');
    expect(url.pathname).toBe('/apis/discovery.k8s.io/v1/namespaces/default/endpointslices');
    expect(url.searchParams.get('labelSelector')).toBe('kubernetes.io/service-name=kubernetes');
  });
});

describe('withApiServerEndpoints', () => {
  const discovered = { cidrs: ['10.200.0.1/32', 'fd00::1/128'], port: 6443 };

  it('keeps explicit apiServerCidrs and their port, whatever was discovered', () => {
    const explicit = operatorSettingsSchema.parse({ apiServerCidrs: ['10.96.0.1/32'], apiServerPort: 443 });
    expect(withApiServerEndpoints(explicit, discovered)).toEqual(explicit);
    expect(withApiServerEndpoints(explicit, undefined)).toEqual(explicit);
  });

  it('fills empty apiServerCidrs and the port from the discovered endpoints, leaving the rest', () => {
    const empty = operatorSettingsSchema.parse({ sidecarPort: 8444 });
    const settings = withApiServerEndpoints(empty, discovered);
    expect(settings.apiServerCidrs).toEqual(['10.200.0.1/32', 'fd00::1/128']);
    expect(settings.apiServerPort).toBe(6443);
    expect({ ...settings, apiServerCidrs: [], apiServerPort: 443 }).toEqual(empty);
    // A copy: the settings do not share the discovered array.
    expect(settings.apiServerCidrs).not.toBe(discovered.cidrs);
  });

  it('leaves empty apiServerCidrs empty when nothing was discovered', () => {
    const empty = operatorSettingsSchema.parse({});
    expect(withApiServerEndpoints(empty, undefined)).toEqual(empty);
    expect(withApiServerEndpoints(empty, undefined).apiServerCidrs).toEqual([]);
  });
});
