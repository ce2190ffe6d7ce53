import { describe, expect, it } from 'vitest';
import { principal } from '../test/fixtures/principals.ts';
import { SessionStore } from './session-store.ts';

/** Sessions belong to the (user, agent) that opened them, and are bounded in number and idle time. */
const alice = principal();
const aliceOtherAgent = principal({ agent: 'finance-copilot' });
const mallory = principal({ user: 'mallory', tenant: 'globex' });

function store(options: { maxSessions?: number; idleMs?: number } = {}) {
  const time = { now: 1_000_000 };
  return { time, sessions: new SessionStore({ ...options, clock: () => time.now }) };
}

describe('SessionStore ownership', () => {
  it('gives a session to its owner only; anyone else gets what an unknown id gets', () => {
    const { sessions } = store();
    sessions.bind('s-1', alice, { protocolVersion: '2025-06-18', clientInfo: { name: 'c', version: '1' } });
    expect(sessions.lookup('s-1', alice)).toMatchObject({
      id: 's-1',
      user: 'alice',
      agent: 'support-copilot',
      protocolVersion: '2025-06-18',
      clientInfo: { name: 'c', version: '1' },
    });
    expect(sessions.lookup('s-1', mallory)).toBeUndefined();
    expect(sessions.lookup('s-2', mallory)).toBeUndefined();
  });

  it('binds to the agent as well as the user', () => {
    const { sessions } = store();
    sessions.bind('s-1', alice);
    expect(sessions.lookup('s-1', aliceOtherAgent)).toBeUndefined();
    // A failed lookup by someone else does not take the session from its owner.
    expect(sessions.lookup('s-1', alice)?.user).toBe('alice');
  });

  it('forgets a session that was ended', () => {
    const { sessions } = store();
    sessions.bind('s-1', alice);
    sessions.forget('s-1');
    expect(sessions.lookup('s-1', alice)).toBeUndefined();
    expect(sessions.size).toBe(0);
  });
});

describe('SessionStore bounds', () => {
  it('expires a session idle for longer than idleMs, and only then', () => {
    const { time, sessions } = store({ idleMs: 1000 });
    sessions.bind('s-1', alice);
    time.now += 1000;
    expect(sessions.lookup('s-1', alice)).toBeDefined();
    time.now += 1001;
    expect(sessions.lookup('s-1', alice)).toBeUndefined();
    expect(sessions.size).toBe(0);
  });

  it('keeps a session alive while its owner uses it, but not while someone else probes it', () => {
    const { time, sessions } = store({ idleMs: 1000 });
    sessions.bind('s-1', alice);
    sessions.bind('s-2', alice);
    for (let i = 0; i < 5; i++) {
      time.now += 900;
      expect(sessions.lookup('s-1', alice)).toBeDefined();
      sessions.lookup('s-2', mallory);
    }
    expect(sessions.lookup('s-1', alice)).toBeDefined();
    expect(sessions.lookup('s-2', alice)).toBeUndefined();
  });

  it('forgets the least recently used session beyond maxSessions', () => {
    const { time, sessions } = store({ maxSessions: 3 });
    for (const id of ['a', 'b', 'c']) {
      sessions.bind(id, alice);
      time.now += 1;
    }
    expect(sessions.lookup('a', alice)).toBeDefined(); // a is now the most recently used
    sessions.bind('d', alice);
    expect(sessions.size).toBe(3);
    expect(sessions.lookup('b', alice)).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(sessions.lookup(id, alice)).toBeDefined();
  });

  it('stays within maxSessions however many sessions are opened', () => {
    const { sessions } = store({ maxSessions: 100 });
    for (let i = 0; i < 1000; i++) sessions.bind(`s-${i}`, i % 2 ? alice : mallory);
    expect(sessions.size).toBe(100);
    expect(sessions.lookup('s-999', alice)).toBeDefined();
    expect(sessions.lookup('s-899', alice)).toBeUndefined();
  });
});
