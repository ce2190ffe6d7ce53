import type { Step } from '../step.ts';

export const auditQuery: Step = {
  title: 'Who called what: the audit query',
  intro:
    'Every decision above is an audit event, written by the sidecar to its write-ahead log before the ' +
    'caller learned the outcome, and shipped to the collector. The question after an incident, which ' +
    'user, through which agent, called which tool, and what was decided, is one query:',
  async run(context) {
    const { server, collectorUrl } = context.stack;
    const args = [
      'audit',
      '--collector',
      collectorUrl,
      '-n',
      server.namespace,
      '--server',
      server.name,
      '--kind',
      'call',
      '--since',
      '15m',
      '--order',
      'asc',
    ];
    // Every request made so far is in the collector before the query (shipping takes milliseconds).
    const recorded = context.recorded();
    const events = await context.audit.eventsOf(recorded);
    context.print.command(`portcullis ${args.join(' ')}`);
    const result = await context.portcullis(args);
    context.print.verbatim(result.stdout || result.stderr);
    context.print.note(
      '(this collector runs with --query-auth none on loopback, so the query needs no token; on a cluster ' +
        'it takes a Kubernetes bearer token and asks whether its user may get mcpservers/audit in the namespace)',
    );
    context.expect(result.code === 0, 'portcullis audit succeeds');
    const decisions = events.filter((event) => event.kind === 'call').length;
    context.expect(
      decisions === recorded.length,
      `the trail holds the decision of each of the ${recorded.length} calls made in this walkthrough`,
    );
    for (const expected of [
      'allowed',
      'denied',
      'killed',
      'argument_binding',
      'rate_limited',
      'concurrency_limited',
    ])
      context.expect(result.stdout.includes(expected), `the answer shows ${expected} calls`);
    return `all ${recorded.length} calls of the walkthrough on the record, from verified identities`;
  },
};
