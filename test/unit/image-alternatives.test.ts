import { describe, expect, it } from 'vitest';
import { chooseAlternatives } from '../../scripts/image/alternatives.ts';

/** `make image` reads update-alternatives out of postinst scripts instead of running them. */
const POSTINST = `#!/bin/sh
set -e
if [ "$1" = "configure" ]; then
\tupdate-alternatives \\
\t  --install /usr/sbin/iptables iptables /usr/sbin/iptables-legacy 10 \\
\t  --slave /usr/sbin/iptables-restore iptables-restore /usr/sbin/iptables-legacy-restore \\
\t  --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-legacy-save
        update-alternatives \\
          --install /usr/sbin/iptables iptables /usr/sbin/iptables-nft 20 \\
          --slave /usr/sbin/iptables-restore iptables-restore /usr/sbin/iptables-nft-restore \\
          --slave /usr/sbin/iptables-save iptables-save /usr/sbin/iptables-nft-save
fi
`;

describe('chooseAlternatives', () => {
  it('takes the highest priority of each group, master and slaves, as apt does in automatic mode', () => {
    expect(chooseAlternatives([POSTINST])).toEqual([
      { link: '/usr/sbin/iptables', name: 'iptables', path: '/usr/sbin/iptables-nft' },
      {
        link: '/usr/sbin/iptables-restore',
        name: 'iptables-restore',
        path: '/usr/sbin/iptables-nft-restore',
      },
      { link: '/usr/sbin/iptables-save', name: 'iptables-save', path: '/usr/sbin/iptables-nft-save' },
    ]);
  });

  it('keeps the first of equal priorities, across scripts, and ignores scripts without alternatives', () => {
    const a = 'update-alternatives --install /usr/bin/x x /usr/bin/x-a 5';
    const b = 'update-alternatives --install /usr/bin/x x /usr/bin/x-b 5';
    expect(chooseAlternatives([a, b, 'exit 0'])).toEqual([
      { link: '/usr/bin/x', name: 'x', path: '/usr/bin/x-a' },
    ]);
    expect(chooseAlternatives(['update-alternatives --remove x /usr/bin/x-a'])).toEqual([]);
  });
});
