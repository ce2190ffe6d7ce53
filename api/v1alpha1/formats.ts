/**
 * TypeScript twins of the Kubernetes CEL library functions our validation rules use (isURL, url(),
 * isCIDR, isQuantity), so a file-mode sidecar rejects exactly what the API server rejects. The
 * integration suite feeds the same invalid objects to both.
 */

/** `isURL(s) && url(s).getScheme() == 'https' && url(s).getHostname() != ''` */
export function isHttpsUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return url.protocol === 'https:' && url.hostname !== '';
}

/** Kubernetes resource.Quantity syntax: a signed decimal number with an optional suffix. */
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

export function isQuantity(value: string | number): boolean {
  return QUANTITY.test(String(value));
}

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const octets = parts.map((p) => (/^(0|[1-9]\d{0,2})$/.test(p) ? Number(p) : NaN));
  return octets.every((o) => o <= 255) ? octets : undefined;
}

function isIPv6(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.includes(':::')) return false;
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = halves.flatMap((h) => (h === '' ? [] : h.split(':')));
  const last = groups.at(-1);
  const embeddedV4 = last !== undefined && last.includes('.');
  if (embeddedV4 && parseIPv4(last) === undefined) return false;
  const hexGroups = embeddedV4 ? groups.slice(0, -1) : groups;
  if (!hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const width = hexGroups.length + (embeddedV4 ? 2 : 0);
  return halves.length === 2 ? width < 8 : width === 8;
}

/** `isCIDR(s)`: an IPv4 or IPv6 prefix in canonical-enough form (Go's net/netip.ParsePrefix). */
export function isCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  if (!/^(0|[1-9]\d{0,2})$/.test(bits)) return false;
  const prefix = Number(bits);
  if (parseIPv4(address)) return prefix <= 32;
  return isIPv6(address) && prefix <= 128;
}
