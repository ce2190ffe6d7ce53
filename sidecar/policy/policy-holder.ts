import type { LoadedPolicy } from '../../policy/load.ts';
import { reject, type Rejection } from '../reject.ts';

/**
 * The sidecar's view of its policy: the last good bundle, when it was last confirmed by its source, and
 * the last error. Sources write; the pipeline reads through gate(), which applies failurePolicy.
 */
export interface PolicyStatus {
  readonly hash?: string;
  readonly loadedAt?: number;
  readonly confirmedAt?: number;
  readonly lastError?: string;
}

export type PolicyListener = (policy: LoadedPolicy, previous: LoadedPolicy | undefined) => void;

export class PolicyHolder {
  #current: LoadedPolicy | undefined;
  #loadedAt: number | undefined;
  #confirmedAt: number | undefined;
  #lastError: string | undefined;
  readonly #listeners: PolicyListener[] = [];
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  get current(): LoadedPolicy | undefined {
    return this.#current;
  }

  /** A new good policy; also counts as confirmation. */
  install(policy: LoadedPolicy): void {
    const previous = this.#current;
    const now = this.#clock();
    this.#current = policy;
    this.#confirmedAt = now;
    this.#lastError = undefined;
    if (previous?.hash !== policy.hash) {
      this.#loadedAt = now;
      for (const listener of this.#listeners) listener(policy, previous);
    }
  }

  /** The source re-read its input and found the same policy (so an earlier bad update is over). */
  confirm(): void {
    this.#confirmedAt = this.#clock();
    this.#lastError = undefined;
  }

  /** A bad update: the last good policy stays in force. */
  fail(error: string): void {
    this.#lastError = error;
  }

  onChange(listener: PolicyListener): void {
    this.#listeners.push(listener);
  }

  status(): PolicyStatus {
    return {
      ...(this.#current ? { hash: this.#current.hash } : {}),
      ...(this.#loadedAt !== undefined ? { loadedAt: this.#loadedAt } : {}),
      ...(this.#confirmedAt !== undefined ? { confirmedAt: this.#confirmedAt } : {}),
      ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
    };
  }

  /**
   * The policy to decide with, or why there is none. No policy ever: refuse. Stale beyond the bound:
   * refuse under failurePolicy Closed, keep the last good one under Open.
   */
  gate(): LoadedPolicy | Rejection {
    const policy = this.#current;
    if (policy === undefined) {
      return reject(
        'policy_unavailable',
        `no valid policy loaded${this.#lastError ? `: ${this.#lastError}` : ''}; every call is refused`,
        { retryAfter: 5 },
      );
    }
    const { failurePolicy, maxStalenessSeconds } = policy.bundle.spec.resilience;
    const age = this.#clock() - (this.#confirmedAt ?? 0);
    if (failurePolicy === 'Closed' && age > maxStalenessSeconds * 1000) {
      return reject(
        'policy_unavailable',
        `policy ${policy.hash} unconfirmed for ${Math.round(age / 1000)} s (bound ${maxStalenessSeconds} s) and failurePolicy is Closed`,
        { policyHash: policy.hash, retryAfter: 5 },
      );
    }
    return policy;
  }
}
