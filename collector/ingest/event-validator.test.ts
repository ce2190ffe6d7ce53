import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditEvent } from '../../api/audit/v1/event.ts';
import { auditEventJsonSchema } from '../../api/audit/v1/json-schema.ts';
import { compileEventValidator } from './event-validator.ts';

/**
 * The compiled validator must accept and refuse exactly what the zod schema does: the collector would
 * otherwise store what the contract forbids, or refuse (and make a shipper retry for ever) what a sidecar
 * validly wrote. Differential, property-based: events generated from the event's JSON Schema (valid ones),
 * then mutated at one place (a field removed, a wrong type, a length or number at and beyond its bound, a
 * pattern's near miss, an unknown field), each compared through a JSON round trip, as the collector sees it.
 */
const validate = compileEventValidator();
const zodAccepts = (value: unknown) => auditEvent.safeParse(value).success;
const compiledAccepts = (value: unknown) => validate(value) === undefined;

interface Node {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Node>;
  required?: string[];
}

const root = auditEventJsonSchema() as Node;

/** Code-point units that exercise length counting: ASCII, BMP, astral (a surrogate pair), lone surrogates. */
const unit = fc.constantFrom('a', 'Z', '-', 'é', '中', '😀', '\uD800', '\uDC00', '\0');
const text = (min: number, max: number) =>
  fc.array(unit, { minLength: min, maxLength: max }).map((units) => units.join(''));

/** A valid value for a schema node. */
function valid(node: Node): fc.Arbitrary<unknown> {
  if (node.const !== undefined) return fc.constant(node.const);
  if (node.enum !== undefined) return fc.constantFrom(...node.enum);
  switch (node.type) {
    case 'object': {
      const shape = Object.fromEntries(
        Object.entries(node.properties ?? {}).map(([key, child]) => [key, valid(child)]),
      );
      return fc.record(shape, { requiredKeys: node.required ?? [] });
    }
    case 'string':
      if (node.pattern !== undefined) return fc.stringMatching(new RegExp(node.pattern));
      return fc.oneof(
        fc.string({ minLength: node.minLength ?? 0, maxLength: Math.min(node.maxLength ?? 40, 40) }),
        text(node.minLength ?? 0, node.maxLength ?? 64).filter(
          (s) => [...s].length <= (node.maxLength ?? Infinity) && [...s].length >= (node.minLength ?? 0),
        ),
      );
    case 'integer':
      return fc.oneof(
        fc.integer({
          min: Math.max(node.minimum ?? -(2 ** 31), -(2 ** 31)),
          max: Math.min(node.maximum ?? 2 ** 31 - 1, 2 ** 31 - 1),
        }),
        fc.constantFrom(node.minimum ?? 0, node.maximum ?? Number.MAX_SAFE_INTEGER),
      );
    case 'number':
      return fc.double({ min: node.minimum ?? -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true });
    default:
      return fc.jsonValue(); // {} (arguments): anything
  }
}

/** Every (path, node) of the schema, the event itself as []. */
function nodes(node: Node, path: string[] = []): { path: string[]; node: Node }[] {
  return [
    { path, node },
    ...Object.entries(node.properties ?? {}).flatMap(([key, child]) => nodes(child, [...path, key])),
  ];
}
const allNodes = nodes(root);

/** Values likely to sit on the other side of some bound of `node` (built once per node: regex parsing is slow). */
const nastyOf = new Map<Node, fc.Arbitrary<unknown>>();
function nasty(node: Node): fc.Arbitrary<unknown> {
  let arbitrary = nastyOf.get(node);
  if (arbitrary === undefined) nastyOf.set(node, (arbitrary = buildNasty(node)));
  return arbitrary;
}

function buildNasty(node: Node): fc.Arbitrary<unknown> {
  const generic = fc.constantFrom<unknown>(null, true, false, 0, -0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e308);
  const wrongType = fc.oneof(
    generic,
    fc.string({ maxLength: 8 }),
    fc.constantFrom<unknown>([], {}, ['x'], { a: 1 }, '', '1', 'true'),
  );
  const options: fc.Arbitrary<unknown>[] = [wrongType];
  if (node.maxLength !== undefined) options.push(text(Math.max(0, node.maxLength - 2), node.maxLength + 2));
  if (node.minLength !== undefined) options.push(text(0, node.minLength + 1));
  if (node.pattern !== undefined)
    options.push(
      fc
        .tuple(fc.stringMatching(new RegExp(node.pattern)), fc.nat(), unit)
        .map(([s, at, c]) => s.slice(0, at % (s.length + 1)) + c + s.slice((at % (s.length + 1)) + 1)),
      fc.stringMatching(new RegExp(node.pattern)).map((s) => ` ${s}`),
      fc.stringMatching(new RegExp(node.pattern)).map((s) => s.toUpperCase()),
    );
  if (node.minimum !== undefined || node.maximum !== undefined)
    options.push(
      fc.constantFrom(
        ...[node.minimum, node.maximum]
          .filter((n) => n !== undefined)
          .flatMap((n) => [n - 1, n - 0.5, n, n + 0.5, n + 1]),
      ),
    );
  if (node.enum !== undefined) options.push(fc.constantFrom(...node.enum.map((v) => `${String(v)} `)));
  if (node.type === 'object')
    options.push(
      fc.constant([]),
      valid(node).map((v) => [v]),
    );
  return fc.oneof(...options);
}

function setAt(target: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const base = target !== null && typeof target === 'object' && !Array.isArray(target) ? target : {};
  const [key, ...rest] = path as [string, ...string[]];
  return { ...base, [key]: setAt((base as Record<string, unknown>)[key], rest, value) };
}

function deleteAt(target: unknown, path: string[]): unknown {
  if (path.length === 0 || target === null || typeof target !== 'object' || Array.isArray(target))
    return target;
  const [key, ...rest] = path as [string, ...string[]];
  const copy = { ...(target as Record<string, unknown>) };
  if (rest.length === 0) delete copy[key];
  else if (key in copy) copy[key] = deleteAt(copy[key], rest);
  return copy;
}

const validEvent = valid(root);

const mutatedEvent = fc.oneof(
  fc
    .tuple(validEvent, fc.constantFrom(...allNodes))
    .chain(([event, { path, node }]) => nasty(node).map((value) => setAt(event, path, value))),
  fc
    .tuple(validEvent, fc.constantFrom(...allNodes.filter(({ path }) => path.length > 0)))
    .map(([event, { path }]) => deleteAt(event, path)),
  fc
    .tuple(
      validEvent,
      fc.constantFrom(...allNodes.filter(({ node }) => node.type === 'object')),
      fc.jsonValue(),
    )
    .map(([event, { path }, extra]) => setAt(event, [...path, 'addedInV1_1'], extra)),
);

const asReceived = (value: unknown): unknown => JSON.parse(JSON.stringify(value) ?? 'null');

describe('compiled audit event validator', () => {
  it('accepts every valid event zod accepts', () => {
    fc.assert(
      fc.property(validEvent, (event) => {
        const received = asReceived(event);
        expect(zodAccepts(received)).toBe(true);
        expect(validate(received)).toBeUndefined();
      }),
      { numRuns: 2_000 },
    );
  }, 60_000);

  it('agrees with zod on mutated events, both ways', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(mutatedEvent, (event) => {
        const received = asReceived(event);
        const zod = zodAccepts(received);
        expect(compiledAccepts(received)).toBe(zod);
        if (zod) accepted++;
        else refused++;
      }),
      { numRuns: 5_000 },
    );
    // Not vacuous: the mutations land on both sides.
    expect(accepted).toBeGreaterThan(250);
    expect(refused).toBeGreaterThan(1_200);
  }, 120_000);

  it('counts string length as zod does: code points, a lone surrogate as one', () => {
    const base = asReceived(fc.sample(validEvent, { numRuns: 1, seed: 1 })[0]) as Record<string, unknown>;
    for (const tool of ['😀'.repeat(256), '😀'.repeat(257), 'a'.repeat(256), '\uD800'.repeat(257)]) {
      const event = { ...base, tool };
      expect(compiledAccepts(event), `${tool.length} units`).toBe(zodAccepts(event));
    }
    expect(compiledAccepts({ ...base, tool: '😀'.repeat(256) })).toBe(true);
  });

  it('names where and what, and never changes the value it checks', () => {
    const event = asReceived(fc.sample(validEvent, { numRuns: 1, seed: 2 })[0]) as Record<string, unknown>;
    const broken = { ...event, server: { namespace: 'finance' }, extra: { kept: true } };
    const before = JSON.stringify(broken);
    expect(validate(broken)).toEqual({ path: 'server.name', message: 'is required' });
    expect(validate({ ...event, seq: 0 })).toEqual({ path: 'seq', message: 'must be >= 1' });
    expect(validate([])).toMatchObject({ path: '' });
    expect(JSON.stringify(broken)).toBe(before);
  });
});
