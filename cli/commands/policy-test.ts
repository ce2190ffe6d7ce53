import { parseFlags } from '../flags.ts';
import { cel } from '../../policy/cel.ts';
import { loadBundle } from '../../policy/load.ts';
import { EXIT, type CliIo } from '../io.ts';
import { usageError } from '../errors.ts';
import { parseCalls, MAX_CALLS_FILE_BYTES, type SampleCall } from './policy-calls.ts';
import { checkCalls } from './policy-evaluate.ts';
import { compileFromFiles, readTextFile } from './policy-files.ts';
import { renderTestJson, renderTestText } from './policy-test-format.ts';

const FLAGS = {
  filename: { type: 'string', short: 'f', multiple: true },
  calls: { type: 'string', multiple: true },
  server: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const POLICY_TEST_HELP = `portcullis policy test — evaluate sample calls against policy files, offline

Usage:
  portcullis policy test -f FILE|DIR [-f …] --calls FILE [--server NS/NAME] [-o text|json]

Example:
  portcullis policy test -f examples/billing.yaml --calls examples/policy-tests/billing-calls.yaml

Reads the McpServer, ToolPolicy and Namespace manifests one would kubectl apply (-f a directory reads
its *.yaml, *.yml and *.json files), compiles the server's policy exactly as the operator does, and
puts each sample call through what the sidecar does after verifying a token: the claims mapped to a
principal (spec.auth.claims), the server's required scopes, then the policy decision. No cluster.

The calls file is a YAML or JSON list; per call:
  name: TEXT              shown in the output (optional)
  user, agent, tenant     the identities the token carries (user and tool required)
  groups: [..], scopes: [..]
  claims: {..}            further token claims (acr, act, …), for conditions and claims.* bindings
  tool: NAME              the tool called
  arguments: {..}         the call's arguments
  expect: allow|deny      the expected decision
  expectCode: CODE        killed, denied_by_rule, no_matching_rule, insufficient_scope,
                          argument_binding, condition_error, invalid_token (implies deny)
  expectRule: POLICY/RULE the rule expected to decide
  expectArguments: {..}   the arguments the server must receive after bindings (implies allow)

Flags:
  -f, --filename PATH     a manifest file or directory (repeatable)
  --calls FILE            the sample calls (repeatable)
  --server NS/NAME        the McpServer to evaluate (NAME alone if unique); needed when the files
                          hold more than one
  -o, --output FORMAT     text (default): per call PASS, FAIL or - (no expectation), the decision, the
                          rule, code and reason, the arguments after bindings when they changed; json
  -h, --help              show this help

Exit codes: 0 every expectation held, 1 an expectation failed, 2 invalid input (flags, manifests that
do not validate or compile, a malformed calls file: the message names the file and the field).
`;

export async function runPolicyTest(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(args, FLAGS);
  if (values.help) {
    io.out(POLICY_TEST_HELP);
    return EXIT.ok;
  }
  if (values.filename === undefined) throw usageError('-f FILE|DIR is required: the manifests to test');
  if (values.calls === undefined) throw usageError('--calls FILE is required: the sample calls');
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') {
    throw usageError(`-o must be text or json, got ${JSON.stringify(output)}`);
  }
  const compiled = await compileFromFiles(values.filename, values.server);
  const calls: SampleCall[] = [];
  for (const file of values.calls) {
    calls.push(...parseCalls(file, await readTextFile(file, MAX_CALLS_FILE_BYTES)));
  }
  const results = checkCalls(loadBundle(compiled.bundle, cel), compiled.server, calls);
  const report = {
    server: `${compiled.server.metadata.namespace}/${compiled.server.metadata.name}`,
    policyHash: compiled.bundle.hash,
    results,
  };
  io.out(output === 'json' ? renderTestJson(report) : renderTestText(report));
  return results.some((r) => r.failures.length > 0) ? EXIT.failure : EXIT.ok;
}
