import { AGENTS, USERS } from '../../cast.ts';
import type { CallOutcome } from '../caller.ts';
import { call, showEvidence } from '../show.ts';
import type { Step } from '../step.ts';

const CALLS = 5;
const BURST = 3;

export const rateLimit: Step = {
  title: 'A rate limit biting',
  intro:
    `The copilot lists alice's invoices ${CALLS} times in a row. The rule allows each user ${BURST} calls of a ` +
    'tool at once and one per second after that (a token bucket), so the calls beyond the burst are ' +
    'refused with 429 and a Retry-After header, without reaching the server.',
  async run(context) {
    const alice = await context.caller(USERS.alice, AGENTS.supportCopilot);
    const started = performance.now();
    const outcomes: CallOutcome[] = [];
    for (let i = 0; i < CALLS; i++)
      outcomes.push(await call(context, alice, 'list_invoices', { customer_id: 'acme' }));
    const elapsedMs = performance.now() - started;
    context.print.note(`${CALLS} calls in ${Math.round(elapsedMs)} ms`);
    const allowed = outcomes.filter((outcome) => outcome.http.status === 200);
    const limited = outcomes.filter((outcome) => outcome.http.refusal?.code === 'rate_limited');
    // A second of wall time refills one token (a slow machine may take that long for five calls).
    const refilled = Math.floor(elapsedMs / 1000);
    context.expect(
      outcomes.slice(0, BURST).every((outcome) => outcome.http.status === 200),
      `the first ${BURST} calls are allowed`,
    );
    context.expect(
      allowed.length <= BURST + refilled && limited.length === CALLS - allowed.length && limited.length > 0,
      'the calls beyond the burst are refused with rate_limited',
    );
    context.expect(
      limited.every((outcome) => outcome.http.status === 429 && outcome.http.retryAfter !== undefined),
      'each refusal is a 429 with Retry-After',
    );
    await showEvidence(context, limited, { decision: 'denied', code: 'rate_limited' });
    return `${allowed.length} allowed, ${limited.length} refused with 429 rate_limited`;
  },
};
