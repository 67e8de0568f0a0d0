import { heartbeatMany } from "../src/db/queries/runs.js";
import { describe, expect, test } from "./support/app.js";

const runUrl = (variation: string, run: number) => `/v1/experiments/beats/variations/${variation}/runs/${run}`;

describe("heartbeats arriving together (coalesced into one statement)", () => {
  test("each gets its own run's answer, and a finished or missing run its own error", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "beats" } });
    for (let run = 0; run < 6; run++) await api.request({ method: "POST", url: `${runUrl("v", run)}/start` });
    await api.request({ method: "POST", url: `${runUrl("v", 5)}/succeed` });

    const beat = (variation: string, run: number) =>
      api.request({ method: "POST", url: `${runUrl(variation, run)}/heartbeat` });
    // Five live runs (one twice), a finished one, a missing run, a missing variation: all at once.
    const answers = await Promise.all([
      ...[0, 1, 2, 3, 4, 2].map((run) => beat("v", run)),
      beat("v", 5),
      beat("v", 9),
      beat("nowhere", 0),
    ]);
    for (const res of answers.slice(0, 6)) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ state: "running", last_heartbeat_at: expect.any(String) });
    }
    expect(answers.slice(6).map((res) => [res.status, res.body.error?.code])).toEqual([
      [409, "run_finished"],
      [404, "run_not_found"],
      [404, "variation_not_found"],
    ]);

    const run0 = await api.request({ method: "GET", url: runUrl("v", 0) });
    expect(run0.body.last_heartbeat_at).toBe(answers[0]!.body.last_heartbeat_at);
  });

  test("the batched statement itself answers exactly the live runs it was given", async ({ api }) => {
    await api.request({ method: "POST", url: "/v1/experiments", payload: { id: "beats-sql" } });
    const url = (run: number) => `/v1/experiments/beats-sql/variations/v/runs/${run}`;
    for (const run of [0, 1, 2]) await api.request({ method: "POST", url: `${url(run)}/start` });
    await api.request({ method: "POST", url: `${url(2)}/fail` });

    const key = (run: number) => ({ experimentId: "beats-sql", variation: "v", run });
    const beats = await heartbeatMany(api.app.db, [key(0), key(1), key(2), key(3)]);
    expect(beats.sort((a, b) => a.run - b.run)).toEqual([
      { ...key(0), state: "running", lastHeartbeatAt: expect.any(Date) },
      { ...key(1), state: "running", lastHeartbeatAt: expect.any(Date) },
    ]);
    const read = await api.request({ method: "GET", url: url(0) });
    expect(read.body.last_heartbeat_at).toBe(beats[0]!.lastHeartbeatAt.toISOString());
  });
});
