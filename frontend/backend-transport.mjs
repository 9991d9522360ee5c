// The backend client's transport, kept apart from its per-route methods (as stripe-python keeps
// its HTTP client apart from the resources): one request, with the Better Auth token in
// `Authorization` only, the 401 → fresh token → one retry rule, the timeout, and the reply read
// as JSON or thrown as a `BackendError`.
import { BackendError, errorFrom } from "./backend-errors.mjs";

/**
 * A fresh random idempotency key (a v4 UUID). `crypto.randomUUID` exists only in secure contexts
 * (https, localhost); elsewhere the same UUID is built from `crypto.getRandomValues`.
 * @returns {string}
 */
export function newIdempotencyKey() {
  if (typeof globalThis.crypto?.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A `request(method, path, {body, idempotencyKey})` function for one backend.
 * @param {import("./backend-types.mjs").BackendClientOptions} options
 */
export function createTransport({ baseUrl, getToken, fetch: fetchImpl, timeoutMs = 30_000 }) {
  if (typeof baseUrl !== "string" || baseUrl === "") throw new TypeError("baseUrl is required");
  if (typeof getToken !== "function") throw new TypeError("getToken must be a function");
  const base = baseUrl.replace(/\/+$/, "");
  const doFetch = fetchImpl ?? globalThis.fetch.bind(globalThis);

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {{body?: object, idempotencyKey?: string}} [options]
   * @returns {Promise<{data: any, response: Response}>}
   */
  async function request(method, path, { body, idempotencyKey } = {}) {
    const token = await getToken();
    const first = await send(method, path, { body, idempotencyKey, token });
    if (first.status !== 401) return read(first, idempotencyKey);
    // The token may have been refreshed or replaced since it was read: ask Better Auth once more.
    const fresh = await getToken({ fresh: true });
    if (!fresh) return read(first, idempotencyKey);
    await first.body?.cancel();
    return read(await send(method, path, { body, idempotencyKey, token: fresh }), idempotencyKey);
  }

  /**
   * @param {"GET" | "POST"} method
   * @param {string} path
   * @param {{body?: object, idempotencyKey?: string, token?: string | null}} options
   * @returns {Promise<Response>}
   */
  async function send(method, path, { body, idempotencyKey, token }) {
    /** @type {Record<string, string>} */
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    let response;
    try {
      response = await doFetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit", // the token is the credential; no cookies cross origins
        signal,
      });
    } catch (cause) {
      const timedOut = /** @type {any} */ (cause)?.name === "TimeoutError";
      throw new BackendError({
        status: 0,
        code: "network_error",
        message: timedOut
          ? `No answer from the backend within ${timeoutMs} ms.`
          : "The backend could not be reached.",
        idempotencyKey,
        cause,
      });
    }
    return response;
  }

  /**
   * @param {Response} response
   * @param {string | undefined} idempotencyKey
   * @returns {Promise<{data: any, response: Response}>}
   */
  async function read(response, idempotencyKey) {
    if (!response.ok) throw await errorFrom(response, idempotencyKey);
    try {
      return { data: await response.json(), response };
    } catch (cause) {
      throw new BackendError({
        status: response.status,
        code: "invalid_response",
        message: "The backend's reply was not JSON.",
        idempotencyKey,
        cause,
      });
    }
  }

  return request;
}
