import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FuzzCase } from './fuzz-case.ts';

/** A kept finding: the minimized case and why it is here. */
export interface CorpusEntry {
  readonly file: string;
  readonly note: string;
  readonly case: FuzzCase;
}

const DIR = join(import.meta.dirname, 'corpus');

/** The regression corpus: every case a fuzzer run (or a probe) found, replayed on every server. */
export function loadCorpus(): CorpusEntry[] {
  return readdirSync(DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const entry = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { note: string; case: FuzzCase };
      return { file, note: entry.note, case: entry.case };
    });
}
