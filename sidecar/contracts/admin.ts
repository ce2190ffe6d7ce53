import type { ServerResponse } from 'node:http';
import { writeJson } from '../respond.ts';
import type { ToolContracts } from './tool-contracts.ts';

/**
 * `GET /tools` on the admin port: the observed-tools table as JSON (mode, whether it is current, each
 * tool's name, digest, state and times, pins the server does not publish) — what the operator copies
 * into status.observedTools and what a platform team pins from in Record mode. When the table is not
 * current it reads the list first (bounded), so a first look after start-up is not empty.
 */
export async function serveObservedTools(contracts: ToolContracts, response: ServerResponse): Promise<void> {
  if (contracts.mode !== 'Disabled' && !contracts.fresh) await contracts.ensureFresh();
  writeJson(
    response,
    200,
    { 'content-type': 'application/json', 'cache-control': 'no-store' },
    JSON.stringify(contracts.snapshot()),
  );
}
