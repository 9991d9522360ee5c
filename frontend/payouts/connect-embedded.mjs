// Stripe's embedded Connect components for <connect-payouts>, through Stripe's own loader
// `@stripe/connect-js` (its side-effect-free `pure` entry, so nothing loads until asked).
//
// The bare import is resolved by the platform's bundler, or by the import map the local app's page
// carries (`/vendor/stripe-connect-js.mjs`, bundled from npm by auth_app/build.mjs). The element
// imports this module only when it has a publishable key; a page that cannot resolve it, or a
// browser that cannot load Stripe's script, keeps the element's own panels.
import { loadConnectAndInitialize } from "@stripe/connect-js/pure";

/** Where `@stripe/connect-js` loads Connect.js from (its `V1_URL`). */
export const CONNECT_JS_URL = "https://connect-js.stripe.com/v1.0/connect.js";
export const SCRIPT_TIMEOUT_MS = 15_000;

/** The components shown, in this order, with their headings (Stripe's components carry none). */
const SECTIONS = [
  ["notification_banner", ""],
  ["account_onboarding", "Finish setting up with Stripe"],
  ["account_management", "Account details and bank accounts"],
  ["balances", "Balance (Stripe)"],
  ["payouts", "Payouts (Stripe)"],
  ["payouts_list", "Payouts (Stripe)"],
];

/**
 * Connect.js, loaded once. `@stripe/connect-js` loads it too, but offers no way to learn that it
 * failed (its instance just never resolves); so the script is put in place here first, and the
 * library finds it (`window.StripeConnect`) instead of adding its own.
 * @returns {Promise<void>}
 */
export function loadConnectScript(timeoutMs = SCRIPT_TIMEOUT_MS) {
  const ready = () => typeof globalThis.StripeConnect?.init === "function";
  if (ready()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = CONNECT_JS_URL;
    const timer = setTimeout(() => fail("Stripe's Connect.js did not arrive in time"), timeoutMs);
    const fail = (/** @type {string} */ why) => {
      clearTimeout(timer);
      script.remove();
      reject(new Error(why));
    };
    script.addEventListener("load", () => {
      clearTimeout(timer);
      if (ready()) resolve();
      else fail("Stripe's Connect.js loaded but did not start");
    });
    script.addEventListener("error", () => fail("the browser could not fetch Stripe's Connect.js"));
    document.head.append(script);
  });
}

/**
 * Mounts the components an Account Session grants into `container`.
 *
 * The first session is fetched here (its reply says which components the caller's role may use)
 * and its single-use secret handed to Connect.js's first `fetchClientSecret` call; later calls
 * (a session expired) fetch a new one. The secret goes from the backend's reply to Connect.js
 * only: it is never stored, logged or put in the page.
 *
 * @param {object} options
 * @param {HTMLElement} options.container
 * @param {string} options.publishableKey
 * @param {() => Promise<import("../backend-types.mjs").AccountSessionReply>} options.createSession
 * @param {import("../backend-types.mjs").StatusReply} options.status what to show of onboarding
 * @returns {Promise<string[]>} the components mounted
 */
export async function mountEmbeddedComponents({ container, publishableKey, createSession, status }) {
  await loadConnectScript();
  const first = await createSession();
  /** @type {string | null} */
  let unused = first.client_secret;
  const fetchClientSecret = async () => {
    const secret = unused ?? (await createSession()).client_secret;
    unused = null;
    return secret;
  };
  const instance = loadConnectAndInitialize({ publishableKey, fetchClientSecret });
  const granted = new Set(first.components);
  const onboarded = status.details_submitted;
  const shown = SECTIONS.filter(([name]) => {
    if (!granted.has(name)) return false;
    if (name === "account_onboarding") return !onboarded;
    if (name === "account_management") return onboarded;
    if (name === "payouts_list") return !granted.has("payouts");
    return true;
  });
  container.replaceChildren(
    ...shown.map(([name, heading]) => {
      const tag = /** @type {any} */ (name.replaceAll("_", "-"));
      const element = instance.create(tag);
      const section = document.createElement("section");
      section.className = "embedded";
      section.dataset.component = name;
      if (heading) {
        const title = document.createElement("h3");
        title.textContent = heading;
        section.append(title);
      }
      section.append(element);
      return section;
    }),
  );
  return shown.map(([name]) => name);
}
