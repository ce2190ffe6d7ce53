import { AGENTS, USERS } from '../../cast.ts';
import { call, showEvidence } from '../show.ts';
import type { Step } from '../step.ts';

export const crossTenant: Step = {
  title: 'A cross-tenant read refused by argument binding',
  intro:
    "Now alice (or a prompt-injected copilot) asks for Globex's invoice INV-2001. read_invoice is a tool " +
    'she may call, but the rule binds the customer_id argument to the tenant claim of her verified token ' +
    '(mode Require): a call for any customer other than acme is refused before it reaches the server.',
  async run(context) {
    const alice = await context.caller(USERS.alice, AGENTS.supportCopilot);
    const outcome = await call(context, alice, 'read_invoice', {
      customer_id: 'globex',
      invoice_id: 'INV-2001',
    });
    context.expect(
      outcome.http.status === 403 && outcome.http.refusal?.code === 'argument_binding',
      'the call is refused with argument_binding',
    );
    context.expect(
      outcome.http.refusal?.rule?.policy === 'support-reads-own-tenant',
      'the refusal names the policy whose binding decided',
    );
    await showEvidence(context, [outcome], { decision: 'denied', code: 'argument_binding' });
    return "refused: the tenant comes from the verified token, not from the model's arguments";
  },
};
