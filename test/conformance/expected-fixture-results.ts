import type { CheckStatus } from './conformance-report.ts';

/**
 * What the official conformance suite (@modelcontextprotocol/conformance 0.1.16, server mode, suite
 * "all") reports for the `conformance` fixture reached directly. A proxy in front of the fixture
 * should produce exactly the same verdicts.
 */

/** The scenarios the suite files under 2025-06-18 (its --spec-version filter is cumulative). */
const scenarios2025_06_18 = [
  'completion-complete',
  'logging-set-level',
  'ping',
  'prompts-get-embedded-resource',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-with-image',
  'prompts-list',
  'resources-list',
  'resources-read-binary',
  'resources-read-text',
  'resources-subscribe',
  'resources-templates-read',
  'resources-unsubscribe',
  'server-initialize',
  'tools-call-audio',
  'tools-call-elicitation',
  'tools-call-embedded-resource',
  'tools-call-error',
  'tools-call-image',
  'tools-call-mixed-content',
  'tools-call-sampling',
  'tools-call-simple-text',
  'tools-call-with-logging',
  'tools-call-with-progress',
  'tools-list',
];

/** Added by 2025-11-25. json-schema-2020-12 and server-sse-polling are in the suite's "pending" set. */
const scenariosNewIn2025_11_25 = [
  'dns-rebinding-protection',
  'elicitation-sep1034-defaults',
  'elicitation-sep1330-enums',
  'json-schema-2020-12',
  'server-sse-multiple-streams',
  'server-sse-polling',
];

/**
 * Every spec version the suite knows, with the server scenarios it runs for it. The suite has no
 * server scenarios for 2025-03-26, draft or extension (only client ones).
 */
export const expectedScenarios: Readonly<Record<string, readonly string[]>> = {
  '2025-03-26': [],
  '2025-06-18': scenarios2025_06_18,
  '2025-11-25': [...scenarios2025_06_18, ...scenariosNewIn2025_11_25].sort(),
  draft: [],
  extension: [],
};

/** The checks each scenario makes that the fixture passes; most scenarios make one, named like it. */
const passingChecks: Readonly<Record<string, readonly string[]>> = {
  ...Object.fromEntries(scenarios2025_06_18.map((scenario) => [scenario, [scenario]])),
  'dns-rebinding-protection': ['localhost-host-rebinding-rejected', 'localhost-host-valid-accepted'],
  'elicitation-sep1034-defaults': [
    'elicitation-sep1034-string-default',
    'elicitation-sep1034-integer-default',
    'elicitation-sep1034-number-default',
    'elicitation-sep1034-enum-default',
    'elicitation-sep1034-boolean-default',
  ],
  'elicitation-sep1330-enums': [
    'elicitation-sep1330-untitled-single',
    'elicitation-sep1330-titled-single',
    'elicitation-sep1330-legacy-enumnames',
    'elicitation-sep1330-untitled-multi',
    'elicitation-sep1330-titled-multi',
  ],
  'json-schema-2020-12': [
    'json-schema-2020-12-tool-found',
    'json-schema-2020-12-$schema',
    'json-schema-2020-12-$defs',
    'json-schema-2020-12-additionalProperties',
  ],
  'server-sse-multiple-streams': ['server-accepts-multiple-post-streams', 'server-sse-streams-functional'],
  'server-sse-polling': [],
};

/**
 * server-sse-polling sends its tools/call with `MCP-Protocol-Version: 2025-03-26` although the session
 * negotiated 2025-11-25. The SDK's transport goes by the header: priming events (an empty event
 * with an id) and closing a stream mid-call are only for clients of 2025-11-25 or later, since older
 * clients could not resume. So the fixture neither primes nor closes, and the suite cannot exercise
 * resumption (fixtures-http-transport.int.test.ts does, with a 2025-11-25 client).
 */
const protocolVersionHeaderReason =
  'the suite claims MCP-Protocol-Version 2025-03-26 on this request; the SDK primes SSE streams and closes them mid-call only for 2025-11-25+ clients';

/** Checks the fixture does not pass, with the verdict it gets and why. */
export const notPassingChecks: Readonly<Record<string, { status: CheckStatus; reason: string }>> = {
  'server-sse-polling/stream-closed': { status: 'INFO', reason: 'informational: the POST stream ended' },
  'server-sse-polling/server-sse-priming-event': { status: 'WARNING', reason: protocolVersionHeaderReason },
  'server-sse-polling/server-sse-retry-field': {
    status: 'WARNING',
    reason: `the retry field rides on the priming event: ${protocolVersionHeaderReason}`,
  },
  'server-sse-polling/server-sse-disconnect-resume': {
    status: 'INFO',
    reason: `informational: the result came on the first stream, ${protocolVersionHeaderReason}`,
  },
};

/** The verdict of every check expected in a run filtered to `specVersion`, as `scenario/check-id`. */
export function expectedCheckStatuses(specVersion: string): Record<string, CheckStatus> {
  const scenarios = expectedScenarios[specVersion] ?? [];
  const expected: Record<string, CheckStatus> = {};
  for (const scenario of scenarios) {
    for (const check of passingChecks[scenario] ?? []) expected[`${scenario}/${check}`] = 'SUCCESS';
  }
  for (const [key, { status }] of Object.entries(notPassingChecks)) {
    if (scenarios.includes(key.split('/')[0] ?? '')) expected[key] = status;
  }
  return expected;
}
