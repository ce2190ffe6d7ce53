import type { Step } from '../step.ts';
import { allowedCall } from './allowed-call.ts';
import { auditQuery } from './audit-query.ts';
import { concurrencyCap } from './concurrency-cap.ts';
import { crossTenant } from './cross-tenant.ts';
import { hiddenTool } from './hidden-tool.ts';
import { killSwitch } from './kill-switch.ts';
import { rateLimit } from './rate-limit.ts';

/** The walkthrough, in order: each step builds on what the previous ones showed. */
export const STEPS: readonly Step[] = [
  allowedCall,
  hiddenTool,
  crossTenant,
  rateLimit,
  concurrencyCap,
  killSwitch,
  auditQuery,
];
