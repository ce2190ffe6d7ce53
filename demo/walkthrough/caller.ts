import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { DemoAgent, DemoUser } from '../cast.ts';

/** What a refusal carries in `error.data.portcullis` (sidecar/reject.ts), as a client reads it. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
  readonly requestId?: string;
  readonly policyHash?: string;
  readonly rule?: { readonly policy: string; readonly rule: string };
}

/** The HTTP side of the last MCP request: what an SDK client does not show its caller. */
export interface HttpExchange {
  readonly status: number;
  /** The sidecar's request id (X-Request-Id), the key of the audit event. */
  readonly requestId: string | undefined;
  readonly retryAfter: string | undefined;
  readonly refusal: Refusal | undefined;
}

export interface CallOutcome {
  readonly http: HttpExchange;
  /** The tool's result, when the call got through. */
  readonly result: CallToolResult | undefined;
}

export interface ListOutcome {
  readonly http: HttpExchange;
  readonly tools: readonly string[] | undefined;
}

/** A user, signed in through an agent, with a real MCP SDK client session through the sidecar. */
export interface Caller {
  readonly user: DemoUser;
  readonly agent: DemoAgent;
  /** "alice via support-copilot" */
  readonly label: string;
  listTools(): Promise<ListOutcome>;
  call(tool: string, args: Record<string, unknown>): Promise<CallOutcome>;
  close(): Promise<void>;
}

/** Every request the walkthrough makes is bounded. */
const REQUEST_TIMEOUT_MS = 15_000;

export async function connectCaller(
  mcpUrl: string,
  user: DemoUser,
  agent: DemoAgent,
  token: string,
): Promise<Caller> {
  let last: HttpExchange | undefined;
  // The SDK client's fetch, wrapped to keep the HTTP status, request id and refusal of each answer.
  const observingFetch = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const response = await fetch(url, init);
    if (init?.method === 'POST') {
      last = {
        status: response.status,
        requestId: response.headers.get('x-request-id') ?? undefined,
        retryAfter: response.headers.get('retry-after') ?? undefined,
        refusal: response.ok ? undefined : refusalOf(await response.clone().text()),
      };
    }
    return response;
  };
  const client = new Client({ name: `demo-${agent.id}`, version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
      fetch: observingFetch,
    }),
    { timeout: REQUEST_TIMEOUT_MS },
  );
  // Read through functions: the closure above assigns `last` while a request awaits.
  const refused = () => last?.refusal !== undefined;
  const exchange = () => {
    if (last === undefined) throw new Error('no HTTP exchange was observed');
    return last;
  };

  return {
    user,
    agent,
    label: `${user.id} via ${agent.id}`,
    async listTools() {
      last = undefined;
      try {
        const { tools } = await client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
        return { http: exchange(), tools: tools.map((tool) => tool.name).sort() };
      } catch (error) {
        if (!refused()) throw error;
        return { http: exchange(), tools: undefined };
      }
    },
    async call(tool, args) {
      last = undefined;
      try {
        const result = (await client.callTool({ name: tool, arguments: args }, undefined, {
          timeout: REQUEST_TIMEOUT_MS,
        })) as CallToolResult;
        return { http: exchange(), result };
      } catch (error) {
        // A refusal is an answer, not a failure of the demo; anything else is.
        if (!refused()) throw error;
        return { http: exchange(), result: undefined };
      }
    },
    close: () => client.close(),
  };
}

function refusalOf(body: string): Refusal | undefined {
  try {
    const error = (
      JSON.parse(body) as { error?: { message?: string; data?: { portcullis?: Partial<Refusal> } } }
    ).error;
    const details = error?.data?.portcullis;
    if (typeof details?.code !== 'string') return undefined;
    return {
      code: details.code,
      message: error?.message ?? '',
      ...(details.requestId ? { requestId: details.requestId } : {}),
      ...(details.policyHash ? { policyHash: details.policyHash } : {}),
      ...(details.rule ? { rule: details.rule } : {}),
    };
  } catch {
    return undefined;
  }
}
