import type { RouteDef } from "@methodic/contract";

/** The Fastify schema of a contract route: validation, serialization and OpenAPI in one. */
export function schemaOf<R extends RouteDef>(def: R) {
  return {
    summary: def.summary,
    ...(def.description !== undefined && { description: def.description }),
    tags: [def.tag],
    ...(def.params && { params: def.params }),
    ...(def.query && { querystring: def.query }),
    // Fastify hands a request without a body to the validator as null: for an optional body, that is
    // the same as absent.
    ...(def.body && { body: def.body.safeParse(undefined).success ? def.body.nullable() : def.body }),
    response: def.responses,
  } as {
    summary: string;
    tags: string[];
    params: R["params"];
    querystring: R["query"];
    body: R["body"];
    response: R["responses"];
  };
}
