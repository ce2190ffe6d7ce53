/**
 * UTF-7 (RFC 2152), the encoder only: what an attacker writes to make a server that honours
 * `charset=utf-7` read a method or tool name the gate never saw. Characters outside the direct set are
 * written as `+` + modified base64 of their UTF-16BE code units + `-`.
 */
const DIRECT = /^[A-Za-z0-9'(),./:? \t\r\n!"#$%&*;<=>@[\]^_`{|}-]$/;

export function encodeUtf7(text: string, forceEncode: (char: string) => boolean = () => false): string {
  let out = '';
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const bytes = Buffer.alloc(pending.length * 2);
    pending.forEach((unit, i) => bytes.writeUInt16BE(unit, i * 2));
    out += `+${bytes.toString('base64').replace(/=+$/, '')}-`;
    pending = [];
  };
  for (const char of text) {
    if (char === '+' && !forceEncode(char)) {
      flush();
      out += '+-';
    } else if (DIRECT.test(char) && !forceEncode(char)) {
      flush();
      out += char;
    } else {
      for (let i = 0; i < char.length; i++) pending.push(char.charCodeAt(i));
    }
  }
  flush();
  return out;
}
