import { setTimeout as sleep } from 'node:timers/promises';
import { KILL_SWITCH } from '../../../api/v1alpha1/annotations.ts';
import { AGENTS, USERS } from '../../cast.ts';
import { describeEvent } from '../audit-trail.ts';
import type { Caller } from '../caller.ts';
import { setKillSwitch } from '../kill-switch-file.ts';
import { call, listTools, showEvidence } from '../show.ts';
import type { Step, StepContext } from '../step.ts';

const REASON = 'INC-4711 suspected invoice scraping';
/** How long a kill switch may take to bite; the sidecar watches the file and applies it in milliseconds. */
const BITE_WITHIN_MS = 10_000;

export const killSwitch: Step = {
  title: 'The kill switch, engaged and released',
  intro:
    'Security suspects the billing server is being abused and cuts it off. On a cluster that is one ' +
    `annotation on the McpServer, ${KILL_SWITCH}, set by 'portcullis kill' (or kubectl annotate); the ` +
    'sidecar watches its McpServer and applies it without waiting for the operator. Without a cluster the ' +
    'sidecar watches the YAML file, so the demo writes the same annotation there. A killed server refuses ' +
    'everything: calls, listings, new sessions. Removing the annotation releases it.',
  async run(context) {
    const { server } = context.stack;
    const alice = await context.caller(USERS.alice, AGENTS.supportCopilot);

    const file = setKillSwitch(context.policyDir, server, { engaged: true, reason: REASON });
    context.print.command(
      `portcullis kill mcpserver/${server.name} -n ${server.namespace} --reason "${REASON}"`,
    );
    context.print.note(`on a cluster; here the same annotation is written into ${file}`);
    const engagedMs = await probeUntil(alice, (refused) => refused === 'killed');
    context.expect(engagedMs !== undefined, `the kill switch bites within ${BITE_WITHIN_MS / 1000} s`);
    context.print.note(`the sidecar refused calls ${engagedMs ?? '?'} ms after the file changed`);
    const killedList = await listTools(context, alice);
    context.expect(killedList.http.refusal?.code === 'killed', 'tools/list is refused while killed');
    const killedCall = await call(context, alice, 'read_invoice', {
      customer_id: 'acme',
      invoice_id: 'INV-1001',
    });
    context.expect(
      killedCall.http.refusal?.code === 'killed',
      'a call that was allowed before is refused: killed',
    );
    await showSwitchEvent(context, 'engaged');
    await showEvidence(context, [killedCall], { decision: 'killed' });

    setKillSwitch(context.policyDir, server, { engaged: false });
    context.print.command(`portcullis release mcpserver/${server.name} -n ${server.namespace}`);
    context.print.note('on a cluster; here the annotation is removed from the file');
    const releasedMs = await probeUntil(alice, (refused) => refused === undefined);
    context.expect(releasedMs !== undefined, `the release takes effect within ${BITE_WITHIN_MS / 1000} s`);
    context.print.note(`calls were allowed again ${releasedMs ?? '?'} ms after the file changed`);
    const again = await call(context, alice, 'read_invoice', { customer_id: 'acme', invoice_id: 'INV-1001' });
    context.expect(again.http.status === 200, 'the same call is allowed again');
    await showSwitchEvent(context, 'released');
    return `cut off within ${engagedMs ?? '?'} ms, back within ${releasedMs ?? '?'} ms, both on the record`;
  },
};

/**
 * Probes with tools/list (never rate limited) until `done` holds for its refusal code (undefined: it was
 * answered); resolves with the milliseconds it took, or undefined after BITE_WITHIN_MS.
 */
async function probeUntil(caller: Caller, done: (refusal: string | undefined) => boolean) {
  const started = performance.now();
  while (performance.now() - started < BITE_WITHIN_MS) {
    const outcome = await caller.listTools();
    if (done(outcome.http.refusal?.code)) return Math.round(performance.now() - started);
    await sleep(20);
  }
  return undefined;
}

async function showSwitchEvent(context: StepContext, state: 'engaged' | 'released'): Promise<void> {
  const events = await context.audit.eventsOfKind('kill_switch', (found) =>
    found.some((event) => event.killSwitch?.state === state),
  );
  const event = events.findLast((e) => e.killSwitch?.state === state);
  if (event !== undefined) context.print.evidence(describeEvent(event));
  context.expect(
    event?.killSwitch?.scope === 'server' && (state === 'released' || event.killSwitch.reason === REASON),
    `the audit trail records the kill switch ${state}${state === 'engaged' ? ', with its reason' : ''}`,
  );
}
