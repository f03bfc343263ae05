/**
 * List paging and filters: page sizes (0 = the maximum, cloudtasks.proto), opaque page tokens that remember what they
 * were issued for, and the ListQueues filter subset the emulator understands.
 */
import { invalidArgument } from '../errors';
import type { Queue } from '../model';

export function resolvePageSize(pageSize: number | undefined, max: number, field = 'page_size'): number {
  if (pageSize === undefined || pageSize === 0) return max;
  if (!Number.isInteger(pageSize) || pageSize < 0)
    throw invalidArgument(`${field} = ${pageSize}: must be a positive whole number (0 = the maximum, ${max})`, [
      { field, description: `must be a positive whole number (0 = the maximum, ${max})` },
    ]);
  return Math.min(pageSize, max);
}

export interface PageToken {
  readonly kind: 'queues' | 'tasks';
  /** The parent the token was issued for. */
  readonly scope: string;
  readonly filter: string;
  /** The last queue name (ListQueues) or task seq (ListTasks) of the previous page. */
  readonly after: string | number;
}

export function encodePageToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

export function decodePageToken(raw: string | undefined, kind: PageToken['kind']): PageToken | undefined {
  if (!raw) return undefined;
  let token: PageToken | undefined;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as PageToken;
  } catch {
    token = undefined;
  }
  if (!token || token.kind !== kind || typeof token.scope !== 'string')
    throw invalidArgument(
      `page_token = "${raw.slice(0, 40)}" is not a token this emulator issued for List${kind === 'queues' ? 'Queues' : 'Tasks'}; pass next_page_token unchanged`,
      [{ field: 'page_token', description: 'not a token this emulator issued; pass next_page_token unchanged' }],
    );
  return token;
}

/** The subset of the ListQueues filter language the emulator understands: the queue state. */
export function parseQueueFilter(filter: string): (queue: Queue) => boolean {
  if (filter === '') return () => true;
  const m = /^state\s*(:|=|!=)\s*(RUNNING|PAUSED|DISABLED|STATE_UNSPECIFIED)$/.exec(filter);
  if (!m)
    throw invalidArgument(
      `filter = "${filter}": the emulator supports only "state: PAUSED", "state = RUNNING" and "state != PAUSED"`,
      [{ field: 'filter', description: 'only state filters are emulated' }],
    );
  const [, op, value] = m;
  return op === '!=' ? (q) => q.state !== value : (q) => q.state === value;
}
