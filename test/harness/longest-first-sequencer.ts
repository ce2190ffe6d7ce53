import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Test files that take minutes on their own, longest first. With two workers a run ends when its longest
 * file ends, so these must start at once, not after ten minutes of short files. Vitest orders by the
 * durations it cached in an earlier run, but a fresh clone (CI) has no cache and falls back to file
 * size, which puts the 15-minute audit loss test behind dozens of larger, shorter files.
 */
export const startFirst: readonly string[] = [
  'test/integration/audit-loss.int.test.ts', // 1,000 SIGKILLs and a 310 s collector outage: ~15 min
  'test/integration/fuzz-differential.int.test.ts', // 100,000 cases against real servers: 1.5-3 min
];

function rank(spec: TestSpecification): number {
  const index = startFirst.findIndex((path) => spec.moduleId.endsWith(`/${path}`));
  return index === -1 ? startFirst.length : index;
}

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    // Array.prototype.sort is stable: the rest keep the order vitest chose.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
