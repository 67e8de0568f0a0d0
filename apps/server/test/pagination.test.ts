import { LIST_PAGE_MAX_BYTES } from "@methodic/contract";
import { type Api, describe, expect, test } from "./support/app.js";

/** Follows next_cursor to the end; `between` runs after each page. */
async function walk(api: Api, url: string, limit: number, between?: (page: number) => Promise<void>) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query = new URLSearchParams({ limit: String(limit), ...(cursor && { cursor }) });
    const res: { status: number; body: any } = await api.request({ method: "GET", url: `${url}?${query}` });
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    seen.push(...res.body.items.map((item: any) => item.id ?? item.variation));
    cursor = res.body.next_cursor;
    pages += 1;
    await between?.(pages);
  } while (cursor);
  return { seen, pages };
}

describe("pagination", () => {
  test("experiments list newest first and a cursor walk sees each exactly once", async ({ api }) => {
    const ids = Array.from({ length: 23 }, (_, i) => `page-exp-${String(i).padStart(2, "0")}`);
    for (const id of ids) await api.request({ method: "POST", url: "/v1/experiments", payload: { id } });

    const { seen, pages } = await walk(api, "/v1/experiments", 5);
    expect(pages).toBe(5);
    const ours = seen.filter((id) => id.startsWith("page-exp-"));
    expect(ours).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  test("items created between pages neither repeat nor hide older items", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "walk" } });
    const keys = Array.from({ length: 12 }, (_, i) => `v${String(i).padStart(2, "0")}`);
    for (const key of keys) await api.request({ method: "PUT", url: `/v1/experiments/walk/variations/${key}` });

    const { seen } = await walk(api, "/v1/experiments/walk/variations", 4, async (page) => {
      await api.request({ method: "PUT", url: `/v1/experiments/walk/variations/new-${page}` });
    });
    const old = seen.filter((key) => !key.startsWith("new-"));
    expect(old).toEqual([...keys].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  test("equal timestamps are ordered by id, so none is skipped", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "ties" } });
    // One statement: every row gets the same created_at.
    const { sql } = await import("drizzle-orm");
    await api.app.db.execute(sql`
      insert into variations (experiment_id, variation)
      select 'ties', 'tie-' || lpad(n::text, 2, '0') from generate_series(0, 9) n`);
    const { seen } = await walk(api, "/v1/experiments/ties/variations", 3);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `tie-${String(9 - i).padStart(2, "0")}`));
  });

  test("the default page is 100 and the last page has no cursor", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "many" } });
    const { sql } = await import("drizzle-orm");
    await api.app.db.execute(sql`
      insert into variations (experiment_id, variation, created_at)
      select 'many', 'm' || n, now() - n * interval '1 second' from generate_series(1, 150) n`);
    const first = await api.request({ method: "GET", url: "/v1/experiments/many/variations" });
    expect(first.body.items).toHaveLength(100);
    expect(first.body.next_cursor).toEqual(expect.any(String));
    const second = await api.request({
      method: "GET",
      url: `/v1/experiments/many/variations?cursor=${first.body.next_cursor}`,
    });
    expect(second.body.items).toHaveLength(50);
    expect(second.body.next_cursor).toBeNull();
    const exact = await api.request({ method: "GET", url: "/v1/experiments/many/variations?limit=150" });
    expect(exact.body.items).toHaveLength(150);
    expect(exact.body.next_cursor).toBeNull();
  });

  test.for([
    ["limit over 1000", "limit=1001", "limit"],
    ["limit 0", "limit=0", "limit"],
    ["a negative limit", "limit=-5", "limit"],
    ["a fractional limit", "limit=2.5", "limit"],
    ["a non-numeric limit", "limit=ten", "limit"],
    ["a cursor that is not base64 JSON", "cursor=not-a-cursor", "cursor"],
    ["a forged cursor", `cursor=${Buffer.from('["yesterday","x"]').toString("base64url")}`, "cursor"],
    ["an unknown query parameter", "colour=red", "colour"],
  ] as const)("%s is 400 invalid_request", async ([, query, field], { api }) => {
    const res = await api.request({ method: "GET", url: `/v1/experiments?${query}` });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("invalid_request");
    expect(res.body.error.details.fields[0]).toMatchObject({ in: "query", path: field });
  });

  test("limit 1000 is allowed", async ({ api }) => {
    const res = await api.request({ method: "GET", url: "/v1/experiments?limit=1000" });
    expect(res.status).toBe(200);
  });

  test("a page ends once its configs add up to 4 MiB, and the walk still sees every item once", async ({ api }) => {
    const MiB = 1024 * 1024;
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "heavy" } });
    const { sql } = await import("drizzle-orm");
    // Rows as a server before the 1 MiB limit could have stored them: twenty of 1 MiB, and one of
    // 12 MiB (more than a page's budget on its own), between small ones.
    await api.app.db.execute(sql`
      insert into variations (experiment_id, variation, config, created_at)
      select 'heavy', 'h' || lpad(n::text, 2, '0'),
        case when n = 10 then jsonb_build_object('blob', repeat('y', 12 * ${MiB}))
             when n % 2 = 0 then jsonb_build_object('blob', repeat('x', ${MiB}))
             else '{}'::jsonb end,
        now() - n * interval '1 second'
      from generate_series(1, 40) n`);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { status: number; body: any } = await api.request({
        method: "GET",
        url: `/v1/experiments/heavy/variations?limit=1000${cursor ? `&cursor=${cursor}` : ""}`,
      });
      expect(res.status).toBe(200);
      const page = res.body;
      // Within the budget, or a single item over it on a page of its own.
      if (page.items.length > 1) expect(JSON.stringify(page).length).toBeLessThan(LIST_PAGE_MAX_BYTES + 64 * 1024);
      if (page.items.some((item: any) => item.variation === "h10")) expect(page.items).toHaveLength(1);
      seen.push(...page.items.map((item: any) => item.variation));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => `h${String(i + 1).padStart(2, "0")}`));
    expect(pages).toBeGreaterThanOrEqual(4);
  });
});
