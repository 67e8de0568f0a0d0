import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { type RouteDef, routes } from "@methodic/contract";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";

interface Operation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: { anyOf?: unknown[] } }> };
}

/**
 * @fastify/swagger marks every request body required; a route whose contract body is optional (start,
 * succeed, fail, a variation's PUT) takes a request with none, and says so here. Such a body's schema
 * is also nullable for Fastify's validator only, which hands a missing body over as null.
 */
function withOptionalBodies<Doc>(doc: Doc): Doc {
  const paths = (doc as { paths?: Record<string, Record<string, Operation>> }).paths;
  for (const route of Object.values(routes) as RouteDef[]) {
    if (!route.body?.safeParse(undefined).success) continue;
    const operation = paths?.[route.path.replace(/:(\w+)/g, "{$1}")]?.[route.method.toLowerCase()];
    if (!operation?.requestBody) continue;
    operation.requestBody.required = false;
    for (const media of Object.values(operation.requestBody.content ?? {})) {
      const branches = media.schema?.anyOf?.filter((branch) => (branch as { type?: string }).type !== "null");
      if (branches?.length === 1) media.schema = branches[0] as { anyOf?: unknown[] };
    }
  }
  return doc;
}

/** OpenAPI 3.1, generated from the contract's schemas as the routes register them. */
export const docsPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Chronicle API",
        version: "1",
        description:
          "Chronicle records machine-learning training runs: lifecycle and heartbeats, W&B links, " +
          "environment snapshots and checkpoints. Every non-2xx answer has the body " +
          "`{error: {code, message, details?, request_id}}`, and every answer an `x-request-id` header.",
      },
      components: {
        securitySchemes: {
          bearer: {
            type: "http",
            scheme: "bearer",
            description: "A token of scope read, write or admin (they nest: admin ⊃ write ⊃ read)",
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (document) => withOptionalBodies(jsonSchemaTransformObject(document)),
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
});
