import { randomBytes } from 'node:crypto';

/** A user kube-apiserver authenticates by bearer token (--token-auth-file). */
export interface TokenUser {
  readonly name: string;
  readonly token: string;
  /** Besides system:authenticated, which the apiserver adds to every authenticated user. */
  readonly groups: readonly string[];
}

/** Holds system:masters, which RBAC never checks: the cluster's root. */
export const ADMIN_USER = 'admin';
/** Holds no group of its own, so RBAC grants it only what the default roles give any user. */
export const UNPRIVILEGED_USER = 'alice';

export function createTokenUsers(): { admin: TokenUser; unprivileged: TokenUser } {
  return {
    admin: { name: ADMIN_USER, token: newToken(), groups: ['system:masters'] },
    unprivileged: { name: UNPRIVILEGED_USER, token: newToken(), groups: [] },
  };
}

/** The CSV kube-apiserver reads: token,user,uid[,"group1,group2"]. */
export function renderTokenAuthFile(users: readonly TokenUser[]): string {
  return users
    .map((user) => {
      const groups = user.groups.length === 0 ? '' : `,"${user.groups.join(',')}"`;
      return `${user.token},${user.name},${user.name}${groups}\n`;
    })
    .join('');
}

function newToken(): string {
  return randomBytes(24).toString('hex');
}
