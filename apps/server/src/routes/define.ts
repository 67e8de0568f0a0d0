import type { Access, RouteDef } from "@methodic/contract";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; checked by the auth plugin before the body is read. */
    access?: Access;
  }
}

/** The Fastify schema of a contract route: validation, serialization and OpenAPI in one. */
function schemaOf<R extends RouteDef>(def: R) {
  return {
    summary: def.summary,
    ...(def.description !== undefined && { description: def.description }),
    tags: [def.tag],
    ...(def.access !== "none" && { security: [{ bearer: [] }] }),
    ...(def.params && { params: def.params }),
    ...(def.query && { querystring: def.query }),
    ...(def.headers && { headers: def.headers }),
    // Fastify hands a request without a body to the validator as null: for an optional body, that is
    // the same as absent.
    ...(def.body && { body: def.body.safeParse(undefined).success ? def.body.nullable() : def.body }),
    response: def.responses,
  } as {
    summary: string;
    tags: string[];
    params: R["params"];
    querystring: R["query"];
    headers: R["headers"];
    body: R["body"];
    response: R["responses"];
  };
}

/** Everything of a Fastify route but its handler, from its contract entry. */
export function routeOf<R extends RouteDef>(def: R) {
  return {
    method: def.method,
    url: def.path,
    schema: schemaOf(def),
    config: { access: def.access },
  };
}
