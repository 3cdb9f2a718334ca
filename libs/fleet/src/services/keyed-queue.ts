// Work for one key runs one call after another, in the order given; other keys'
// work runs alongside. (One machine's registration tries; one reimage's boot
// fetches.) A failed call does not stop the ones queued behind it.
export function createKeyedQueue() {
  const tails = new Map<string, Promise<unknown>>();
  return async function run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const mine = (tails.get(key) ?? Promise.resolve()).catch(() => undefined).then(work);
    const tail = mine.catch(() => undefined);
    tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
