// Follows the kernel log live from /dev/kmsg (every record of this boot, then
// new ones as they come), without blocking a libuv thread: the device is opened
// non-blocking and polled. Keeps a bounded list of GPU-related events.
import { constants, promises as fs } from 'node:fs';
import type { SeenKernelEvent } from '@metalfleet/domain';
import { KernelLogParser } from './parsers/kernel-log.ts';

const maxEvents = 5000;

export class KernelLogFollower {
  private readonly parser = new KernelLogParser();
  private readonly events: SeenKernelEvent[] = [];
  private stopped = false;
  private readonly listeners = new Set<() => void>();
  private readonly path: string;
  private readonly pollMs: number;

  constructor(path = '/dev/kmsg', pollMs = 1000) {
    this.path = path;
    this.pollMs = pollMs;
  }

  /** Feeds lines directly (a recorded log, or a test). */
  pushLines(text: string, seenAt = new Date()): void {
    let added = 0;
    for (const line of text.split(/\r?\n/)) {
      for (const event of this.parser.push(line)) {
        this.events.push({ event, seenAt });
        added += 1;
      }
    }
    if (this.events.length > maxEvents) this.events.splice(0, this.events.length - maxEvents);
    if (added > 0) for (const listener of this.listeners) listener();
  }

  /** Calls `listener` whenever new GPU-related events arrive, so health is evaluated at once rather than at the next period. */
  onEvents(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Follows a plain-text log file as it grows (a simulated node's kernel log,
   * or a console log): lines appended are read every poll.
   */
  async followText(onError: (error: Error) => void): Promise<void> {
    const handle = await fs.open(this.path, constants.O_RDONLY | constants.O_CREAT, 0o644);
    const buffer = Buffer.alloc(64 * 1024);
    let position = 0;
    let partial = '';
    void (async () => {
      try {
        while (!this.stopped) {
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) {
            await new Promise((r) => setTimeout(r, this.pollMs));
            continue;
          }
          position += bytesRead;
          const text = partial + buffer.toString('utf8', 0, bytesRead);
          const end = text.lastIndexOf('\n');
          partial = end < 0 ? text : text.slice(end + 1);
          if (end >= 0) this.pushLines(text.slice(0, end));
        }
      } catch (error) {
        onError(error as Error);
      } finally {
        await handle.close();
      }
    })();
  }

  snapshot(): SeenKernelEvent[] {
    return [...this.events];
  }

  /** Resolves once the device is open; reading continues in the background until stop(). */
  async start(onError: (error: Error) => void): Promise<void> {
    const handle = await fs.open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    const buffer = Buffer.alloc(16 * 1024);
    void (async () => {
      try {
        while (!this.stopped) {
          let bytes = 0;
          try {
            ({ bytesRead: bytes } = await handle.read(buffer, 0, buffer.length, null));
          } catch (error) {
            const code = (error as NodeJS.ErrnoException).code;
            if (code === 'EAGAIN') {
              await new Promise((r) => setTimeout(r, this.pollMs));
              continue;
            }
            if (code === 'EPIPE') continue; // records were overwritten before we read them
            throw error;
          }
          if (bytes === 0) {
            await new Promise((r) => setTimeout(r, this.pollMs));
            continue;
          }
          // One record per read: "pri,seq,usec,flags;message\n KEY=value…"
          const record = buffer.toString('utf8', 0, bytes);
          const message = record.slice(record.indexOf(';') + 1).split('\n')[0] ?? '';
          this.pushLines(message);
        }
      } catch (error) {
        onError(error as Error);
      } finally {
        await handle.close();
      }
    })();
  }

  stop(): void {
    this.stopped = true;
  }
}
