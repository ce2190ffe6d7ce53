import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkClientMethod, isKnownClientMethod } from './methods.ts';

describe('checkClientMethod', () => {
  it.each([
    'initialize',
    'ping',
    'tools/list',
    'tools/call',
    'resources/read',
    'prompts/get',
    'tasks/result',
  ])('accepts the request %s with an id', (method) =>
    expect(checkClientMethod(method, 'request')).toEqual({ ok: true }),
  );

  it.each(['tools/call', 'resources/read', 'prompts/get', 'completion/complete', 'initialize', 'ping'])(
    'refuses the request-only %s without an id',
    (method) => {
      const check = checkClientMethod(method, 'notification');
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.reason).toContain('is a request');
    },
  );

  it.each(['notifications/initialized', 'notifications/cancelled', 'notifications/progress'])(
    'accepts the notification %s and refuses it with an id',
    (method) => {
      expect(checkClientMethod(method, 'notification').ok).toBe(true);
      expect(checkClientMethod(method, 'request').ok).toBe(false);
    },
  );

  it.each(['sampling/createMessage', 'roots/list', 'elicitation/create', 'notifications/message'])(
    'refuses the server-to-client method %s',
    (method) => expect(checkClientMethod(method, 'request').ok).toBe(false),
  );

  it.each([
    'Tools/Call',
    'TOOLS/CALL',
    'tools/Call',
    'Initialize',
    'tools/ｃａｌｌ', // fullwidth: NFKC folds it to tools/call
    'tools/call ',
    ' tools/call',
    'tools/call\u0000',
    'tools/exec',
    'notifications/tools/call',
    'resources/write',
  ])('refuses %j, which a lenient server could read as one of its methods', (method) => {
    expect(checkClientMethod(method, 'request').ok).toBe(false);
    expect(checkClientMethod(method, 'notification').ok).toBe(false);
  });

  it.each(['acme.example/reindex', 'x-vendor/ping2', 'rpc2'])('forwards the extension method %s', (method) =>
    expect(checkClientMethod(method, 'request')).toEqual({ ok: true }),
  );

  it('refuses extension methods when the server forwards none (spec.protocol.extensionMethods: Refuse)', () => {
    expect(checkClientMethod('acme.example/reindex', 'request', 'Refuse').ok).toBe(false);
    expect(checkClientMethod('acme.example/changed', 'notification', 'Refuse').ok).toBe(false);
    expect(checkClientMethod('tools/call', 'request', 'Refuse')).toEqual({ ok: true });
    expect(checkClientMethod('notifications/initialized', 'notification', 'Refuse')).toEqual({ ok: true });
  });

  it('never accepts a method that folds to a known one unless it is that method', () => {
    const known = ['tools/call', 'tools/list', 'resources/read', 'prompts/get', 'initialize'];
    fc.assert(
      fc.property(
        fc.constantFrom(...known),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        (method, upper) => {
          const variant = [...method].map((c, i) => (upper[i % 16] ? c.toUpperCase() : c)).join('');
          const check = checkClientMethod(variant, 'request');
          expect(check.ok).toBe(variant === method);
        },
      ),
    );
  });

  it('knows the client methods and nothing else', () => {
    expect(isKnownClientMethod('tools/call')).toBe(true);
    expect(isKnownClientMethod('sampling/createMessage')).toBe(false);
    expect(isKnownClientMethod('constructor')).toBe(false);
  });
});
