// The part of <connect-payouts> that shows Stripe's embedded Connect components: a region of its
// own beside the element's panels, so a re-render of the panels never remounts Stripe's elements.
//
// It loads `connect-embedded.mjs` (and through it `@stripe/connect-js`) only once a publishable
// key is given and the organization has an account; anything that fails on the way (the module,
// Stripe's script, the Account Session) leaves the element's own panels, with a message saying so.

export class EmbeddedRegion {
  /** @type {"off" | "loading" | "ready" | "failed"} */
  state = "off";
  /** @type {string[]} */
  components = [];
  #mountedFor = "";
  region = document.createElement("div");

  /** @param {(message: string) => void} announce */
  constructor(announce) {
    this.announce = announce;
    this.region.className = "embedded-region";
    this.region.style.marginTop = "1rem";
    this.region.setAttribute("data-testid", "stripe-embedded");
  }

  /** Stripe's payouts list is on the page (the element's own history would repeat it). */
  get showsPayouts() {
    return this.state === "ready" && this.components.some((c) => c === "payouts" || c === "payouts_list");
  }

  reset() {
    this.state = "off";
    this.components = [];
    this.#mountedFor = "";
    this.region.replaceChildren();
  }

  /**
   * Mounts the components once per key and account; resolves when done or fallen back.
   * @param {object} options
   * @param {string | null} options.publishableKey
   * @param {import("../backend-types.mjs").StatusReply} options.status
   * @param {() => Promise<import("../backend-types.mjs").AccountSessionReply>} options.createSession
   */
  async show({ publishableKey, status, createSession }) {
    const account = status.stripe_connect_account_id;
    if (!publishableKey || !account) return;
    const target = `${publishableKey} ${account}`;
    if (this.#mountedFor === target) return;
    this.#mountedFor = target;
    this.state = "loading";
    const container = document.createElement("div");
    try {
      const { mountEmbeddedComponents } = await import("./connect-embedded.mjs");
      this.components = await mountEmbeddedComponents({
        container,
        publishableKey,
        createSession,
        status,
      });
      if (this.#mountedFor !== target) return;
      this.region.replaceChildren(container);
      this.state = "ready";
    } catch (error) {
      if (this.#mountedFor !== target) return;
      this.state = "failed";
      this.components = [];
      this.region.replaceChildren();
      const why = error instanceof Error && error.message ? `: ${error.message.replace(/\.$/, "")}` : "";
      this.announce(
        `Stripe's account tools could not be loaded${why}. Showing this page's own payout panels instead.`,
      );
    }
  }
}
