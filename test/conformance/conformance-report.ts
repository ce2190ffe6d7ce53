/** A check's verdict as the suite reports it. */
export type CheckStatus = 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO';

/** One check of one scenario, reduced to what should be equal between two runs of the same server. */
export interface CheckOutcome {
  readonly id: string;
  readonly status: CheckStatus;
  /** The suite's message, with the server's address, ids and times masked. */
  readonly error?: string;
}

export interface ScenarioOutcome {
  readonly scenario: string;
  readonly checks: readonly CheckOutcome[];
}

/**
 * The result of one suite run in a stable shape: no timestamps, no details, no transcript entries,
 * scenarios sorted by name, so a run against a server directly can be deep-equalled with a run
 * against the same server behind a proxy.
 */
export interface ConformanceReport {
  readonly suite: string;
  /** The --spec-version filter the run used; null for all versions. */
  readonly specVersion: string | null;
  readonly scenarios: readonly ScenarioOutcome[];
}

/** A check as the suite writes it to checks.json; only the fields we read. */
export interface RawCheck {
  readonly id: string;
  readonly status: string;
  readonly errorMessage?: string;
}

/**
 * Reduces a scenario's raw checks. INFO entries named incoming-* and outgoing-* are the suite's
 * transcript of HTTP traffic (headers, event ids), not checks, and differ between any two runs.
 */
export function scenarioOutcome(
  scenario: string,
  raw: readonly RawCheck[],
  serverUrl: string,
): ScenarioOutcome {
  return {
    scenario,
    checks: raw
      .filter((check) => !(check.status === 'INFO' && /^(incoming|outgoing)-/.test(check.id)))
      .map((check) => ({
        id: check.id,
        status: checkStatus(check.status),
        ...(check.errorMessage === undefined
          ? {}
          : { error: maskRunSpecifics(check.errorMessage, serverUrl) }),
      })),
  };
}

function checkStatus(status: string): CheckStatus {
  if (status === 'SUCCESS' || status === 'FAILURE' || status === 'WARNING' || status === 'INFO')
    return status;
  throw new Error(`the conformance suite reported an unknown check status ${JSON.stringify(status)}`);
}

/** Masks what differs between two runs of the same server: its address, UUIDs and times. */
export function maskRunSpecifics(message: string, serverUrl: string): string {
  const { origin, host } = new URL(serverUrl);
  return message
    .replaceAll(origin, '<server>')
    .replaceAll(host, '<server>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>');
}

/**
 * Every check as `scenario/check-id` with its status, for compact assertions and diffs. A check id
 * that repeats within a scenario gets `#2`, `#3`, ... so no verdict is lost.
 */
export function checkStatuses(report: ConformanceReport): Record<string, CheckStatus> {
  const statuses: Record<string, CheckStatus> = {};
  for (const { scenario, checks } of report.scenarios) {
    for (const check of checks) {
      const key = `${scenario}/${check.id}`;
      let unique = key;
      for (let n = 2; unique in statuses; n++) unique = `${key}#${n}`;
      statuses[unique] = check.status;
    }
  }
  return statuses;
}

export function countByStatus(report: ConformanceReport): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { SUCCESS: 0, FAILURE: 0, WARNING: 0, INFO: 0 };
  for (const { checks } of report.scenarios) for (const check of checks) counts[check.status] += 1;
  return counts;
}
