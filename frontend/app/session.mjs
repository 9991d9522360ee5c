// The signed-in user's token for the backend, from Better Auth only.
//
// Better Auth keeps the session in its own HttpOnly cookie on this origin. The backend, on another
// origin, gets a bearer token instead: the signed session token the `bearer()` plugin returns in
// `set-auth-token` (sign-in, sign-up, and whenever Better Auth renews the session), kept in this
// tab's sessionStorage so a reload keeps it; or, when this tab never saw one, the short-lived JWT
// the `jwt()` plugin returns in `set-auth-jwt` on `getSession`, kept in memory only. Never in a
// URL, never in localStorage. `getSession` every few minutes lets Better Auth renew the session
// before it expires.
import { createAuthClient, organizationClient } from "/vendor/better-auth-client.mjs";

const TOKEN_KEY = "connect.token";
const RENEW_EVERY_MS = 5 * 60 * 1000;
const JWT_MARGIN_MS = 60 * 1000;

/** @type {string | null} */
let sessionToken = sessionStorage.getItem(TOKEN_KEY);
/** @type {{value: string, expiresAt: number} | null} */
let jwt = null;

function jwtExpiry(/** @type {string} */ value) {
  try {
    const payload = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return Number(JSON.parse(atob(payload)).exp) * 1000 || 0;
  } catch {
    return 0;
  }
}

function remember(/** @type {Response} */ response) {
  const token = response.headers.get("set-auth-token");
  if (token) {
    sessionToken = token;
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  const fresh = response.headers.get("set-auth-jwt");
  if (fresh) jwt = { value: fresh, expiresAt: jwtExpiry(fresh) };
}

/** Forgets every token this tab holds (after sign-out, or when Better Auth has no session). */
export function forgetTokens() {
  sessionToken = null;
  jwt = null;
  sessionStorage.removeItem(TOKEN_KEY);
}

export const authClient = createAuthClient({
  baseURL: location.origin,
  plugins: [organizationClient()],
  fetchOptions: {
    onSuccess: (context) => remember(context.response),
  },
});

/**
 * The token for `backendClient`'s `getToken`. `{fresh: true}` (after the backend answered 401)
 * skips what this tab holds and asks Better Auth again; no session there means signed out (null).
 * @param {{fresh?: boolean}} [options]
 * @returns {Promise<string | null>}
 */
export async function getToken({ fresh = false } = {}) {
  if (!fresh && sessionToken) return sessionToken;
  if (!fresh && jwt && jwt.expiresAt - Date.now() > JWT_MARGIN_MS) return jwt.value;
  const before = sessionToken;
  const { data } = await authClient.getSession({ query: { disableCookieCache: true } });
  if (!data) {
    forgetTokens();
    return null;
  }
  if (sessionToken && (sessionToken !== before || !fresh)) return sessionToken;
  return jwt?.value ?? null;
}

/** Keeps the Better Auth session (and with it the token) alive while the page is open. */
export function keepSessionFresh(/** @type {() => void} */ onSignedOut) {
  const renew = async () => {
    const { data } = await authClient.getSession({ query: { disableCookieCache: true } });
    if (!data) {
      forgetTokens();
      onSignedOut();
    }
  };
  setInterval(() => void renew(), RENEW_EVERY_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void renew();
  });
}
