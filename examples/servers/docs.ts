// The docs-search MCP server of examples/stdio-docs.yaml: MCP on stdin/stdout (the Stdio transport).
//
//   node dist/examples/servers/docs.js        # in the examples image; the operator bridges its stdio
//   node examples/servers/docs.ts             # from a checkout, e.g. under an MCP client or inspector
//
// Its tools are the ones examples/stdio-docs.yaml talks about: search and read_page (the everyone-searches
// policy) and export_all and fetch_url (switched off there by the killed-tools annotation). Their
// definitions are constants, so their digests are stable; test/unit/example-servers.test.ts starts this
// file and checks the pins in the example. The pages are a fixed in-memory table. Logs go to stderr:
// stdout is the MCP channel.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

interface Page {
  readonly id: string;
  readonly title: string;
  readonly body: string;
}

const PAGES: readonly Page[] = [
  {
    id: 'onboarding',
    title: 'Onboarding',
    body: 'Welcome. Ask the platform team for a namespace, then read the deployment guide.',
  },
  {
    id: 'deployment-guide',
    title: 'Deployment guide',
    body: 'Every service ships as a container image pinned by digest and runs behind a sidecar.',
  },
  {
    id: 'incident-process',
    title: 'Incident process',
    body: 'Open an incident, name a lead, cut off what misbehaves first (kill switch), investigate second.',
  },
];

const pageId = z.string().min(1).max(128).describe('The id of a page, as search returns it.');

const server = new McpServer({ name: 'portcullis-example-docs', version: '1.0.0' });

server.registerTool(
  'search',
  {
    description: 'Searches the internal documentation; returns the ids and titles of matching pages.',
    inputSchema: {
      query: z.string().min(1).max(256).describe('Words to look for, case-insensitive.'),
      limit: z.int().min(1).max(20).optional().describe('At most this many pages (default 5).'),
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  ({ query, limit }) => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const hits = PAGES.filter((p) => words.some((w) => `${p.title} ${p.body}`.toLowerCase().includes(w)))
      .slice(0, limit ?? 5)
      .map(({ id, title }) => ({ id, title }));
    return result(`${hits.length} page(s) match "${query}"`, { pages: hits });
  },
);

server.registerTool(
  'read_page',
  {
    description: 'Reads one documentation page.',
    inputSchema: { page_id: pageId },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  ({ page_id }) => {
    const page = PAGES.find((p) => p.id === page_id);
    if (page === undefined) return failure(`no page ${page_id}`);
    return result(`${page.title}\n\n${page.body}`, { page });
  },
);

server.registerTool(
  'export_all',
  {
    description: 'Exports every documentation page at once.',
    inputSchema: {},
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
  () => result(`${PAGES.length} page(s)`, { pages: PAGES }),
);

server.registerTool(
  'fetch_url',
  {
    description: 'Fetches a web page and returns its first 4,000 characters of text.',
    inputSchema: { url: z.url().max(2048).describe('An http(s) URL.') },
    annotations: { readOnlyHint: true, openWorldHint: true },
  },
  async ({ url }) => {
    // Behind Portcullis this goes through the sidecar's egress proxy, which allows only spec.egress.
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e);
    if (!(response instanceof Response)) return failure(`cannot fetch ${url}: ${String(response)}`);
    const text = (await response.text()).slice(0, 4_000);
    return result(text, { url, status: response.status });
  },
);

function result(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

function failure(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

await server.connect(new StdioServerTransport());
process.stderr.write('portcullis-example-docs: serving MCP on stdio\n');
