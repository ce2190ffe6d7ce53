import { inspect } from 'node:util';
import { bearerToken } from '../auth/bearer.ts';

// The tokens, keyed by their handles. Module-private: nothing outside this file can read one back
// except through openSubjectToken, which only the token exchanger calls.
const sealed = new WeakMap<SubjectToken, string>();

/**
 * The inbound access token, sealed, for TokenExchange mode: RFC 8693 needs it as the subject_token, and
 * that is the only place it may ever go. The handle holds nothing of the token (it lives in a WeakMap
 * of this module), so logging, serialising or inspecting an exchange record cannot reveal it, and it is
 * gone with the request.
 */
export class SubjectToken {
  /** When the inbound token expires (epoch ms): nothing exchanged for it is used longer. */
  readonly expiresAt: number;

  private constructor(expiresAt: number) {
    this.expiresAt = expiresAt;
  }

  /** Seals the bearer token of an Authorization header the authenticate stage has already verified. */
  static seal(authorization: string | undefined, expiresAt: number): SubjectToken | undefined {
    const bearer = bearerToken(authorization);
    if (!bearer.ok) return undefined;
    const handle = new SubjectToken(expiresAt);
    sealed.set(handle, bearer.token);
    return handle;
  }

  toJSON(): string {
    return '[subject token]';
  }

  [inspect.custom](): string {
    return '[subject token]';
  }
}

/** The token itself: for the token exchange request body, and nothing else. */
export function openSubjectToken(handle: SubjectToken): string | undefined {
  return sealed.get(handle);
}
