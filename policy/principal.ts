/**
 * Who is calling, from verified token claims only. Three identities stay separate: the end user, the
 * agent (the OAuth client or RFC 8693 actor) and, later, the identity used toward the upstream.
 */
export interface Principal {
  readonly user: string;
  readonly agent: string;
  readonly tenant?: string;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  /** The verified claims, for CEL conditions and `claims.<name>` bindings. */
  readonly claims: Readonly<Record<string, unknown>>;
}
