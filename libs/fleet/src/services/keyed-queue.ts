// Work for one key runs one call after another, in the order given; other keys'
// work runs alongside. (One machine's registration tries; one reimage's boot
// fetches.) A failed call does not stop the ones queued behind it. With
// `maxPerKey`, a call beyond that many for its key (running or waiting) is
// refused at once with `busy()`: callers that hold something while they wait
// (a registration its admission slot) cannot pile up behind one key.
export function createKeyedQueue(options: { maxPerKey?: number; busy?: (key: string) => Error } = {}) {
  const tails = new Map<string, Promise<unknown>>();
  const counts = new Map<string, number>();
  return async function run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const count = counts.get(key) ?? 0;
    if (options.maxPerKey !== undefined && count >= options.maxPerKey) throw options.busy?.(key) ?? new Error(`too many calls queued for ${key}`);
    counts.set(key, count + 1);
    const mine = (tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    const tail = mine.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
      const left = (counts.get(key) ?? 1) - 1;
      if (left > 0) counts.set(key, left);
      else counts.delete(key);
    }
  };
}
