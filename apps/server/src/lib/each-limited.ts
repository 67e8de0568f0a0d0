/**
 * `work` on every item, at most `concurrency` at once, answers in the items' order: storage requests
 * and file operations many enough that one at a time is slow, and all at once would swamp storage or
 * the file system's thread pool.
 */
export async function eachLimited<T, R>(items: T[], work: (item: T) => Promise<R>, concurrency = 16): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
