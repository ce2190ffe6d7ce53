import { AGENTS, USERS } from '../../cast.ts';
import { call, listTools, showEvidence } from '../show.ts';
import type { Step } from '../step.ts';

export const hiddenTool: Step = {
  title: 'A tool hidden and refused for the wrong user',
  intro:
    'bob, an engineer at Globex, works through the ops agent. No rule lets engineers read invoices, so ' +
    'his tools/list does not even show read_invoice, and calling it anyway is refused. The same holds ' +
    'for alice and issue_refund: refunds move money and are for finance leads only.',
  async run(context) {
    const bob = await context.caller(USERS.bob, AGENTS.opsAgent);
    const listed = await listTools(context, bob);
    context.expect(
      listed.tools?.join(',') === 'export_statements',
      'tools/list shows bob export_statements only',
    );
    const bobReads = await call(context, bob, 'read_invoice', {
      customer_id: 'globex',
      invoice_id: 'INV-2001',
    });
    context.expect(
      bobReads.http.status === 403 && bobReads.http.refusal?.code === 'no_matching_rule',
      "bob's read_invoice is refused: no rule allows it",
    );
    const alice = await context.caller(USERS.alice, AGENTS.supportCopilot);
    const aliceRefunds = await call(context, alice, 'issue_refund', {
      customer_id: 'acme',
      amount_cents: 12_500,
    });
    context.expect(
      aliceRefunds.http.status === 403 && aliceRefunds.http.refusal?.code === 'no_matching_rule',
      "alice's issue_refund is refused: no rule allows it",
    );
    await showEvidence(context, [bobReads, aliceRefunds], { decision: 'denied', code: 'no_matching_rule' });
    return 'hidden from the list, and refused when called anyway (default deny)';
  },
};
