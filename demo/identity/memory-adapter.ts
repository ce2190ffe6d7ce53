/**
 * oidc-provider's storage for codes, sessions, grants and interactions, in memory: a demo identity
 * provider forgets everything when it stops. Stated explicitly so the provider does not print its
 * "development-only adapter" warning into the walkthrough's output.
 */
export class MemoryAdapter {
  static readonly #store = new Map<string, Record<string, unknown>>();
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  #key(id: string): string {
    return `${this.#name}:${id}`;
  }

  async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
    MemoryAdapter.#store.set(this.#key(id), payload);
  }

  async find(id: string): Promise<Record<string, unknown> | undefined> {
    return MemoryAdapter.#store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
    return [...MemoryAdapter.#store.values()].find((payload) => payload['uid'] === uid);
  }

  async findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
    return [...MemoryAdapter.#store.values()].find((payload) => payload['userCode'] === userCode);
  }

  async consume(id: string): Promise<void> {
    const payload = MemoryAdapter.#store.get(this.#key(id));
    if (payload) payload['consumed'] = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    MemoryAdapter.#store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const [key, payload] of MemoryAdapter.#store)
      if (payload['grantId'] === grantId) MemoryAdapter.#store.delete(key);
  }
}
