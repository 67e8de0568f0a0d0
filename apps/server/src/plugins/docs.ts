import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";

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
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());
});
