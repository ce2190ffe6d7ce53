import type { DemoAgent, DemoUser } from '../cast.ts';
import type { Printer } from '../output/printer.ts';
import type { DemoStack } from '../stack/stack.ts';
import type { AuditTrail } from './audit-trail.ts';
import type { Caller, HttpExchange } from './caller.ts';

/** What a step may use: the running stack, signed-in callers, the audit trail, the page. */
export interface StepContext {
  readonly stack: DemoStack;
  readonly print: Printer;
  readonly audit: AuditTrail;
  /** The directory the sidecar reads (a copy of examples/demo: the kill switch is written here). */
  readonly policyDir: string;
  /** The caller's session, opened once and shared by the steps. */
  caller(user: DemoUser, agent: DemoAgent): Promise<Caller>;
  /** A new session of the same user and agent (another run of the agent). */
  newCaller(user: DemoUser, agent: DemoAgent): Promise<Caller>;
  /** Remembers a request, so the last step can check that the audit trail holds every one. */
  record(http: HttpExchange): void;
  /** The request ids recorded so far. */
  recorded(): readonly string[];
  /** `portcullis <args>` as a child process: the real command a person would type. */
  portcullis(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /**
   * Checks that the demo behaved as the step said it would. A failed expectation fails the step and the
   * walkthrough (exit 1), and the step goes on, so the output shows everything that happened.
   */
  expect(holds: boolean, description: string): boolean;
}

export interface Step {
  readonly title: string;
  /** What is about to happen and why, for a person who has not read the code. */
  readonly intro: string;
  /** Runs the step; resolves with the one-line conclusion printed when every expectation held. */
  run(context: StepContext): Promise<string>;
}
