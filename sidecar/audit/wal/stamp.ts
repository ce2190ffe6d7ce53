import type { AuditEventDraft } from '../../../api/audit/v1/event.ts';
import { WalInvalidEventError } from './errors.ts';

/** What the WAL adds to a draft when it appends it: its identity and the record's seq. */
export interface WalStamp {
  readonly sidecar: string;
  readonly seq: number;
}

/**
 * Serialises a draft with its stamp, byte for byte the JSON of `{ ...draft, sidecar, seq }`, without
 * building that copy: the draft's JSON with the stamp written before its closing brace (issue #14: each
 * event is serialised once, and not copied first). A draft that already carries `sidecar` or `seq`
 * (forged) takes the copy, so the stamp overrides the key in place instead of repeating it.
 */
export class EventStamper {
  readonly #sidecarId: string;
  /** `"sidecar":"<id>","seq":`, the constant part of every stamp. */
  readonly #prefix: string;

  constructor(sidecarId: string) {
    this.#sidecarId = sidecarId;
    this.#prefix = `"sidecar":${JSON.stringify(sidecarId)},"seq":`;
  }

  /** The stamped event's JSON. Throws WalInvalidEventError when the draft is not a serialisable object. */
  json(draft: AuditEventDraft, seq: number): string {
    if (Object.hasOwn(draft, 'sidecar') || Object.hasOwn(draft, 'seq'))
      return objectJson({ ...draft, sidecar: this.#sidecarId, seq });
    const json = objectJson(draft);
    return `${json.slice(0, -1)}${json.length > 2 ? ',' : ''}${this.#prefix}${seq}}`;
  }
}

function objectJson(value: object): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new WalInvalidEventError(`the audit event cannot be serialised: ${String(error)}`, {
      cause: error,
    });
  }
  if (typeof json !== 'string') throw new WalInvalidEventError('the audit event serialises to nothing');
  if (!json.startsWith('{') || !json.endsWith('}'))
    throw new WalInvalidEventError('the audit event does not serialise to a JSON object');
  return json;
}
