// What a failed backend call throws: `BackendError`, read from the backend's
// `{"error": {"code", "message", "request_id"}}` body and its `Retry-After` header.

/**
 * A failed call. `status` is the HTTP status (0 when no response arrived), `code` the backend's
 * machine-readable code (`missing_token`, `forbidden`, `insufficient_role`, `account_not_ready`,
 * `idempotency_key_reused`, `stripe_rate_limited`, …, or `network_error`), `message` its
 * human-readable text, `requestId` the backend's id for the request (show it to the user: support
 * finds the request's log lines by it; docs/operations.md).
 */
export class BackendError extends Error {
  /**
   * @param {object} fields
   * @param {number} fields.status
   * @param {string} fields.code
   * @param {string} fields.message
   * @param {number} [fields.retryAfter]
   * @param {string} [fields.idempotencyKey]
   * @param {string} [fields.requestId]
   * @param {unknown} [fields.cause]
   */
  constructor({ status, code, message, retryAfter, idempotencyKey, requestId, cause }) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "BackendError";
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.code = code;
    /** Seconds to wait before retrying, from the `Retry-After` header (e.g. on 503). @type {number | undefined} */
    this.retryAfter = retryAfter;
    /** For `transfer` / `payout`: the key to retry with. @type {string | undefined} */
    this.idempotencyKey = idempotencyKey;
    /** The backend's request id (its error body's `request_id`), when it answered. @type {string | undefined} */
    this.requestId = requestId;
  }
}


/** @param {string | null} value @returns {number | undefined} */
function parseRetryAfter(value) {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** @param {Response} response @param {string | undefined} idempotencyKey */
export async function errorFrom(response, idempotencyKey) {
  let code = "http_error";
  let message = `The backend answered ${response.status}.`;
  let requestId;
  try {
    const body = await response.json();
    if (body && typeof body.error === "object" && body.error !== null) {
      if (typeof body.error.code === "string") code = body.error.code;
      if (typeof body.error.message === "string") message = body.error.message;
      if (typeof body.error.request_id === "string") requestId = body.error.request_id;
    }
  } catch {
    // Not our JSON (a proxy's HTML page, say): keep the generic code and message.
  }
  return new BackendError({
    status: response.status,
    code,
    message,
    retryAfter: parseRetryAfter(response.headers.get("retry-after")),
    idempotencyKey,
    requestId,
  });
}

