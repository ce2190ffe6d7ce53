import { AGENTS, USERS } from '../../cast.ts';
import { showAnswer, showEvidence } from '../show.ts';
import type { Step } from '../step.ts';

const SESSIONS = 3;
const ARGS = { customer_id: 'acme', month: '2026-01' };

export const concurrencyCap: Step = {
  title: 'A concurrency cap biting',
  intro:
    `bob's ops agent starts ${SESSIONS} statement exports at once, in ${SESSIONS} sessions. An export takes about ` +
    "2 s and the rule allows one at a time; a call waits at most 1 s for the slot (the McpServer's " +
    'queueTimeoutSeconds), then is refused with 503 and Retry-After: the server is busy, whoever fills ' +
    "it. The agent asks for acme, but the rule forces customer_id to his tenant: the export is Globex's.",
  async run(context) {
    const sessions = await Promise.all(
      Array.from({ length: SESSIONS }, () => context.newCaller(USERS.bob, AGENTS.opsAgent)),
    );
    try {
      const started = performance.now();
      const outcomes = await Promise.all(
        sessions.map(async (session) => {
          const outcome = await session.call('export_statements', ARGS);
          return { outcome, ms: Math.round(performance.now() - started) };
        }),
      );
      for (const { outcome, ms } of outcomes) {
        // Printed after all have finished (they ran at the same time), each with its duration.
        context.print.request(sessions[0]!.label, `tools/call export_statements ${JSON.stringify(ARGS)}`);
        showAnswer(context, outcome);
        context.print.note(`answered after ${ms} ms`);
      }
      const allowed = outcomes.filter(({ outcome }) => outcome.http.status === 200);
      const limited = outcomes.filter(({ outcome }) => outcome.http.refusal?.code === 'concurrency_limited');
      context.expect(allowed.length === 1, 'exactly one export runs');
      context.expect(
        limited.length === SESSIONS - 1 && limited.every(({ outcome }) => outcome.http.status === 503),
        'the others are refused with 503 concurrency_limited',
      );
      const structured = allowed[0]?.outcome.result?.structuredContent;
      context.expect(structured?.['customer_id'] === 'globex', "the export is of bob's tenant, globex");
      await showEvidence(
        context,
        limited.map(({ outcome }) => outcome),
        { decision: 'denied', code: 'concurrency_limited' },
      );
      return `1 export ran, ${limited.length} refused with 503 concurrency_limited`;
    } finally {
      await Promise.all(sessions.map((session) => session.close()));
    }
  },
};
