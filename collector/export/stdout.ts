import type { EventExporter } from './exporter.ts';

/**
 * JSON lines of the events to standard output, for a log shipper (Fluent Bit, Vector) that tails the
 * container's output. Acknowledged once written; the collector's own logs then go to stderr.
 */
export function stdoutExporter(write: (text: string) => Promise<void> | void): EventExporter {
  return {
    name: 'stdout',
    async send(events) {
      let text = '';
      for (const event of events) text += `${JSON.stringify(event)}\n`;
      await write(text);
    },
  };
}
