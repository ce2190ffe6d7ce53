import { describe, expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import { LongestFirstSequencer, startFirst } from './longest-first-sequencer.ts';

const root = '/repo';

/** Just what BaseSequencer.sort reads of a file, with the duration an earlier run cached for it. */
function spec(path: string): TestSpecification {
  return {
    moduleId: `${root}/${path}`,
    project: { name: 'integration', config: { sequence: { groupOrder: 0 }, isolate: true } },
  } as unknown as TestSpecification;
}

function sequencer(cachedSeconds: Record<string, number>): LongestFirstSequencer {
  const cache = {
    getTestSpecificationResult: (file: TestSpecification) => {
      const seconds = cachedSeconds[file.moduleId.slice(root.length + 1)];
      return seconds === undefined ? undefined : { duration: seconds * 1000, failed: false };
    },
  };
  return new LongestFirstSequencer({ cache } as unknown as Vitest);
}

const paths = (files: TestSpecification[]) => files.map((file) => file.moduleId.slice(root.length + 1));

describe('LongestFirstSequencer', () => {
  it('starts the listed files first, in their order, whatever the cache says', async () => {
    const files = ['test/integration/a.int.test.ts', ...startFirst, 'test/integration/b.int.test.ts'];
    const cached = Object.fromEntries(files.map((path, index) => [path, 100 - index])); // a is "longest"
    const sorted = paths(await sequencer(cached).sort(files.map(spec)));
    expect(sorted).toEqual([
      ...startFirst,
      'test/integration/a.int.test.ts',
      'test/integration/b.int.test.ts',
    ]);
  });

  it("keeps vitest's order (longest cached duration first) for every other file", async () => {
    const files = ['test/integration/short.int.test.ts', 'test/integration/long.int.test.ts'];
    const sorted = paths(await sequencer({ [files[0]!]: 1, [files[1]!]: 60 }).sort(files.map(spec)));
    expect(sorted).toEqual(['test/integration/long.int.test.ts', 'test/integration/short.int.test.ts']);
  });

  it('matches whole path segments, not a suffix of another name', async () => {
    const lookalike = 'test/integration/not-audit-loss.int.test.ts';
    const other = 'test/integration/other.int.test.ts';
    const sorted = paths(await sequencer({ [lookalike]: 1, [other]: 60 }).sort([lookalike, other].map(spec)));
    expect(sorted).toEqual([other, lookalike]);
  });
});
