import type { JWK } from 'jose';
import type { SigningKey } from './signing-key.ts';

/** The longest lifetime a minted token can have (the API caps upstreamAuth.minted.ttlSeconds at 60). */
export const MAX_MINTED_TTL_SECONDS = 60;

/**
 * How long a replaced key stays published: one maximum token lifetime, plus the clock skew verifiers
 * commonly allow on exp (30 s), so every token signed just before a rotation still verifies.
 */
export const DEFAULT_RETAIN_MS = (MAX_MINTED_TTL_SECONDS + 30) * 1000;

/**
 * The current signing key and the public halves of keys it replaced, for as long as tokens they signed
 * can still be presented. Only the current key signs.
 */
export class KeyRing {
  readonly #retainMs: number;
  #current: SigningKey | undefined;
  #retired: { readonly jwk: JWK; readonly until: number }[] = [];
  #jwksText: string | undefined;

  constructor(options: { readonly retainMs?: number } = {}) {
    this.#retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
  }

  get current(): SigningKey | undefined {
    return this.#current;
  }

  /** Makes key the signing key. The one it replaces stays in the JWKS until now + retainMs. */
  install(key: SigningKey, now: number): void {
    if (this.#current?.kid === key.kid) return;
    this.#retired = this.#retired.filter((r) => r.jwk.kid !== key.kid);
    if (this.#current !== undefined)
      this.#retired.push({ jwk: this.#current.publicJwk, until: now + this.#retainMs });
    this.#current = key;
    this.#jwksText = undefined;
  }

  /** The JWKS document (JSON text): the current key first, then retired keys still within retention. */
  jwks(now: number): string {
    const kept = this.#retired.filter((r) => r.until > now);
    if (kept.length !== this.#retired.length) {
      this.#retired = kept;
      this.#jwksText = undefined;
    }
    this.#jwksText ??= JSON.stringify({
      keys: [...(this.#current ? [this.#current.publicJwk] : []), ...this.#retired.map((r) => r.jwk)],
    });
    return this.#jwksText;
  }
}
