/** A call to the server's API, as any client makes it, answering the JSON body; a status other than 2xx is an error. */
export async function call<T = unknown>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: object,
): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body && { "content-type": "application/json" }) },
    ...(body && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A token for the load, made through the API with the admin token: the load never sends the admin token itself. */
export async function createToken(
  url: string,
  adminToken: string,
  name: string,
  scope: "read" | "write",
): Promise<string> {
  return (await call<{ token: string }>(url, adminToken, "POST", "/v1/tokens", { name, scope })).token;
}
