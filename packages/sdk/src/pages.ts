import type { Page } from "@methodic/contract";

/** Which page, and how long: what every list route takes. */
export interface PageQuery {
  cursor?: string | undefined;
  limit?: number | undefined;
}

/**
 * A list of the API. Iterating it follows the cursors through every item; `all()` gathers them;
 * `page()` answers one page, for callers that page themselves (a UI, an agent).
 */
export class Pages<T> implements AsyncIterable<T> {
  constructor(private readonly fetchPage: (query: PageQuery) => Promise<Page<T>>) {}

  page(query: PageQuery = {}): Promise<Page<T>> {
    return this.fetchPage(query);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    let cursor: string | undefined;
    do {
      const page = await this.fetchPage({ cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  async all(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
