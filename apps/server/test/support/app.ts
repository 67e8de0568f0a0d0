import type { FastifyInstance, InjectOptions } from "fastify";
import { test as base } from "vitest";
import {
  ADMIN_TOKEN,
  driversUnderTest,
  startApp as startTestApp,
  type TestApp,
  type TestServerOptions,
} from "../../src/testing/index.js";

export const { database: driver, storage } = driversUnderTest();
export { ADMIN_TOKEN };
export const asAdmin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export interface Api {
  app: FastifyInstance;
  /** `token` is sent as the bearer token: the admin token unless given; null sends none. */
  request<T = any>(
    options: InjectOptions & { token?: string | null },
  ): Promise<{ status: number; body: T; headers: Record<string, unknown> }>;
}

/** Requests to an app through inject, with the admin token unless told otherwise. */
export function apiFor(app: FastifyInstance): Api {
  return {
    app,
    request: async ({ token = ADMIN_TOKEN, ...options }) => {
      const headers = { ...(token !== null && { authorization: `Bearer ${token}` }), ...options.headers };
      const res = await app.inject({ ...options, headers });
      const text = res.body;
      return { status: res.statusCode, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
  };
}

/** An app of the drivers under test (server configuration in `env`), with an Api on it. */
export async function startApp(
  env: Record<string, string> = {},
  options: Omit<TestServerOptions, "env"> = {},
): Promise<TestApp & { api: Api }> {
  const started = await startTestApp({ ...options, env });
  return { ...started, api: apiFor(started.app) };
}

/** Each test file gets one app on its own database; tests in a file use distinct ids. */
export const test = base.extend<{ api: Api }>({
  api: [
    // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
    async ({}, use) => {
      const { api, close } = await startApp();
      await use(api);
      await close();
    },
    { scope: "file" },
  ],
});

export { describe, expect } from "vitest";
