import { AGENTS, USERS } from '../../cast.ts';
import { call, callerSeenByServer, listTools, showEvidence } from '../show.ts';
import type { Step } from '../step.ts';

export const allowedCall: Step = {
  title: 'An allowed call',
  intro:
    'alice, a support engineer at Acme, asks the support copilot for invoice INV-1001 of her own company. ' +
    'ToolPolicy support-reads-own-tenant lets the support group read invoices through that agent, for ' +
    'their own tenant only. The sidecar verifies her token (issuer, audience, expiry, signature), finds ' +
    'the rule, checks the limits, then passes the call on with who she is, but not her token.',
  async run(context) {
    const alice = await context.caller(USERS.alice, AGENTS.supportCopilot);
    const listed = await listTools(context, alice);
    context.print.note('issue_refund and export_statements exist too, but are hidden: she may not call them');
    context.expect(
      listed.tools?.join(',') === 'list_invoices,read_invoice',
      'tools/list shows alice exactly list_invoices and read_invoice',
    );
    const outcome = await call(context, alice, 'read_invoice', {
      customer_id: 'acme',
      invoice_id: 'INV-1001',
    });
    const seen = callerSeenByServer(outcome);
    context.print.note(
      `the server was told: user ${seen?.user}, agent ${seen?.agent}, tenant ${seen?.tenant}; ` +
        `Authorization header: ${seen?.sawAuthorization ? 'present' : 'none (the token stayed at the sidecar)'}`,
    );
    context.expect(outcome.http.status === 200 && outcome.result?.isError !== true, 'the call is allowed');
    context.expect(
      seen?.user === 'alice' && seen.agent === 'support-copilot' && seen.tenant === 'acme',
      'the server learns the verified user, agent and tenant',
    );
    context.expect(seen?.sawAuthorization === false, 'the server never sees the token');
    await showEvidence(context, [outcome], { decision: 'allowed' });
    return 'allowed; the server learned who called, and never saw the token';
  },
};
