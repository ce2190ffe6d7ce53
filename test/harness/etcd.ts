import { join } from 'node:path';

export interface EtcdPorts {
  readonly client: number;
  readonly peer: number;
}

export function etcdClientUrl(ports: EtcdPorts): string {
  return `http://127.0.0.1:${ports.client}`;
}

/** Flags for a single-member etcd on loopback, storing into `<dataDir>/etcd`. */
export function etcdArgs(dataDir: string, ports: EtcdPorts): string[] {
  const clientUrl = etcdClientUrl(ports);
  const peerUrl = `http://127.0.0.1:${ports.peer}`;
  return [
    '--name=portcullis',
    `--data-dir=${join(dataDir, 'etcd')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    // A one-member cluster still binds a peer port; pin it to loopback and a free port so parallel
    // control planes do not collide on the default 2380.
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=portcullis=${peerUrl}`,
    // The data dies with the test run, so durability buys nothing and fsync costs every write.
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}
