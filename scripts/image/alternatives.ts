/**
 * What a package's postinst does with `update-alternatives --install`, read from the script instead of run:
 * for each alternative (iptables, ip6tables, ...) the candidate of highest priority wins, as in apt's
 * automatic mode, and its master and slave links point through /etc/alternatives/NAME to its paths.
 * On bookworm that makes /usr/sbin/iptables-restore -> /etc/alternatives/iptables-restore ->
 * /usr/sbin/iptables-nft-restore (priority 20 over legacy's 10).
 */
export interface AlternativeLink {
  /** The public path, e.g. /usr/sbin/iptables-restore. */
  link: string;
  /** Its name under /etc/alternatives. */
  name: string;
  /** The chosen implementation, e.g. /usr/sbin/iptables-nft-restore. */
  path: string;
}

interface Candidate {
  priority: number;
  links: AlternativeLink[];
}

/** Pure: the links the postinst scripts' alternatives would create, the winner of each group. */
export function chooseAlternatives(postinsts: readonly string[]): AlternativeLink[] {
  const best = new Map<string, Candidate>();
  for (const script of postinsts) {
    const words = script.replace(/\\\n/g, ' ').split(/\s+/);
    for (let i = 0; i < words.length; i++) {
      if (words[i] !== '--install') continue;
      const [link, name, path, priority] = words.slice(i + 1, i + 5);
      if (!link || !name || !path || !priority || !/^\d+$/.test(priority)) continue;
      const links = [{ link, name, path }];
      let j = i + 5;
      while (words[j] === '--slave') {
        const [slaveLink, slaveName, slavePath] = words.slice(j + 1, j + 4);
        if (!slaveLink || !slaveName || !slavePath) break;
        links.push({ link: slaveLink, name: slaveName, path: slavePath });
        j += 4;
      }
      const current = best.get(name);
      if (!current || Number(priority) > current.priority)
        best.set(name, { priority: Number(priority), links });
    }
  }
  return [...best.values()].flatMap((c) => c.links).sort((a, b) => a.link.localeCompare(b.link));
}
