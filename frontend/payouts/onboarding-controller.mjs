// Stripe-hosted onboarding for <connect-payouts>: a fresh Account Link followed at once, and the
// two landings Stripe sends the person back to — `?connect=return` (say what Stripe found, look
// again while it reviews) and `?connect=refresh` (the link expired or was used: a new one, never
// shown as success). The parameter leaves the address bar once handled.
import { describeState } from "../payout-words.mjs";

export class OnboardingController {
  #handled = false;
  #host;

  /** @param {import("./controller.mjs").PayoutsController} host */
  constructor(host) {
    this.#host = host;
  }

  /** The landing this page was opened on, until it has been handled once. */
  pending() {
    return this.#handled ? null : new URL(location.href).searchParams.get("connect");
  }

  /** `?connect=refresh`: out of the history first, so Back from Stripe's page does not bounce
   * there again; then a new link. */
  async refresh() {
    this.#handled = true;
    this.#dropLandingParam();
    await this.follow("That setup link has expired or was already used. Opening a new one…");
  }

  /** `?connect=return`, once the status is read again from Stripe: what it found, in words. */
  returned(/** @type {import("../backend-types.mjs").StatusReply} */ status, /** @type {number} */ generation) {
    this.#handled = true;
    this.#dropLandingParam();
    const state = describeState(status);
    this.#host.announce(
      state.key === "active" ? "Setup is complete. Payouts are active." : `Back from Stripe. Status: ${state.label}.`,
    );
    if (state.key === "in_review" || state.key === "details_needed") this.#watchForWebhook(generation);
  }

  /** After the return landing the webhook may land a little later: look again a few times. */
  #watchForWebhook(/** @type {number} */ generation) {
    const host = this.#host;
    let tries = 0;
    const tick = async () => {
      if (!host.isCurrent(generation) || tries++ >= 10 || !host.api) return;
      try {
        const status = await host.api.status(host.orgId);
        if (!host.isCurrent(generation)) return;
        if (describeState(status).key !== describeState(host.status ?? status).key) {
          host.status = status;
          host.announce(`Status changed: ${describeState(status).label}.`);
          host.render();
        }
        if (describeState(status).key === "in_review" || describeState(status).key === "details_needed") {
          setTimeout(tick, 2000);
        }
      } catch {
        // A failed background look is not worth an error message; the next reload will show it.
      }
    };
    setTimeout(tick, 2000);
  }

  #dropLandingParam() {
    const url = new URL(location.href);
    if (!url.searchParams.has("connect")) return;
    url.searchParams.delete("connect");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  }

  /** Where Stripe sends the person back: the host's `return-url` / `refresh-url`, else this page. */
  #landingUrl(/** @type {"return" | "refresh"} */ kind) {
    const configured = this.#host.attribute(`${kind}-url`);
    if (configured) return configured;
    const url = new URL(location.href);
    url.hash = "";
    url.search = `?connect=${kind}`;
    return url.toString();
  }

  /** Creates a fresh Account Link and sends the browser to Stripe-hosted onboarding (the
   * controls stay disabled while the browser leaves). */
  async follow(/** @type {string} */ message) {
    const host = this.#host;
    const api = host.api;
    if (!api) return;
    host.busy = true;
    host.error = null;
    host.announce(message);
    host.render();
    try {
      const { url } = await api.onboard(host.orgId, {
        returnUrl: this.#landingUrl("return"),
        refreshUrl: this.#landingUrl("refresh"),
      });
      host.announce("Opening Stripe…");
      location.assign(url);
    } catch (error) {
      host.busy = false;
      host.fail(error, () => void this.follow(message));
      host.render();
    }
  }
}
