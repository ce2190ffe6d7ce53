import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KILL_SWITCH } from '../../api/v1alpha1/annotations.ts';
import type { DemoAgent, DemoUser } from '../cast.ts';
import type { Printer } from '../output/printer.ts';
import type { DemoStack } from '../stack/stack.ts';

export interface IssuedToken {
  readonly user: DemoUser;
  readonly agent: DemoAgent;
  readonly token: string;
  readonly file: string;
}

/**
 * What `portcullis dev` prints once the stack runs: where everything is, a bearer token per user and
 * agent, and how to point curl, the MCP Inspector or an MCP client at the sidecar. The sidecar's
 * Protected Resource Metadata names the https issuer of the policy, which does not resolve locally, so
 * clients get static bearer tokens instead of signing in themselves.
 */
export function printConnectionGuide(
  print: Printer,
  session: {
    readonly stack: DemoStack;
    readonly policyDir: string;
    readonly workDir: string;
    readonly tokens: readonly IssuedToken[];
    readonly ttlSeconds: number;
  },
): void {
  const { stack, tokens } = session;
  const { server } = stack;
  const first = tokens[0];
  const variable = (token: IssuedToken) => `${token.user.id.toUpperCase()}_TOKEN`;

  print.line();
  print.title(`Portcullis dev stack: ${server.namespace}/${server.name} behind the sidecar, until Ctrl-C`);
  print.table([
    ['MCP endpoint', stack.mcpUrl],
    ['policies', `${session.policyDir}   (edit and save: the sidecar reloads them)`],
    ['identity provider', `${stack.identity.url}   (issuer ${stack.identity.issuer})`],
    ['audit collector', stack.collectorUrl],
    ['sidecar admin', `${stack.sidecarAdminUrl}   (/metrics, /readyz, /tools)`],
    ['logs', join(session.workDir, '*.log')],
  ]);

  print.section(`Bearer tokens (valid ${formatDuration(session.ttlSeconds)})`);
  for (const token of tokens) {
    print.line(
      `  ${token.user.id} via ${token.agent.id}   (${token.user.description}; ${token.user.scopes.join(' ')})`,
    );
    print.line(`    ${token.token}`);
  }
  print.line();
  print.line('  In a shell:');
  for (const token of tokens) print.line(`    export ${variable(token)}=$(cat ${token.file})`);

  if (first !== undefined) {
    print.section('Call a tool');
    print.line(`  curl -s ${stack.mcpUrl} -H "Authorization: Bearer $${variable(first)}" \\`);
    print.line(`    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\`);
    print.line(
      `    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_invoices","arguments":{"customer_id":"${first.user.tenant}"}}}'`,
    );
    print.line();
    print.line(
      '  MCP Inspector (the web UI: Transport "Streamable HTTP", the URL above, an Authorization header):',
    );
    print.line('    npx @modelcontextprotocol/inspector');
    print.line();
    const configFile = join(session.workDir, 'mcp.json');
    writeFileSync(configFile, `${JSON.stringify(clientConfig(stack.mcpUrl, tokens), null, 2)}\n`, {
      mode: 0o600,
    });
    print.line(
      `  An MCP client ("mcpServers" config of Claude Desktop, Cursor, VS Code; written to ${configFile}):`,
    );
    print.verbatim(
      JSON.stringify(
        clientConfig(stack.mcpUrl, [{ ...first, token: `<the ${first.user.id} token>` }]),
        null,
        2,
      ),
    );
    print.line(
      `  Claude Code: claude mcp add --transport http billing-as-${first.user.id} ${stack.mcpUrl} \\`,
    );
    print.line(`    --header "Authorization: Bearer $${variable(first)}"`);
  }

  print.section('Kill switch and audit');
  print.line(`  Kill: add to the McpServer's metadata in ${session.policyDir}`);
  print.line(`    annotations: { ${KILL_SWITCH}: "true" }`);
  print.line(
    `  (on a cluster: portcullis kill mcpserver/${server.name} -n ${server.namespace} --reason "...")`,
  );
  print.line(`  Who called what (no token: this collector runs with --query-auth none):`);
  print.line(
    `    node cli/main.ts audit --collector ${stack.collectorUrl} -n ${server.namespace} --since 1h`,
  );
  print.line(`    node cli/main.ts audit --collector ${stack.collectorUrl} -n ${server.namespace} -f`);
  print.line();
  print.line('Ready. Press Ctrl-C to stop.');
}

function clientConfig(url: string, tokens: readonly { user: DemoUser; token: string }[]) {
  return {
    mcpServers: Object.fromEntries(
      tokens.map((token) => [
        `billing-as-${token.user.id}`,
        { type: 'http', url, headers: { Authorization: `Bearer ${token.token}` } },
      ]),
    ),
  };
}

function formatDuration(seconds: number): string {
  return seconds % 3600 === 0
    ? `${seconds / 3600} h`
    : seconds % 60 === 0
      ? `${seconds / 60} min`
      : `${seconds} s`;
}
