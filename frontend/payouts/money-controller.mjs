// The two clicks of <connect-payouts> that move money — "Pay out now" and "Transfer to my
// account" — with the idempotency keys that make "Try again" safe: a key lives until the backend
// answers for good (success or refusal), so a retry after a lost answer reuses it and money never
// moves twice. Behaviour only; the forms are drawn by balance-panel.mjs and earnings-panel.mjs.
import { BackendError, newIdempotencyKey } from "../backend-client.mjs";
import { describeTransferRefusal } from "../earnings-words.mjs";
import { formatMoney, minorDigits, parseAmount } from "../money-format.mjs";

export class MoneyController {
  /** @type {import("../backend-types.mjs").PayoutReply | null} */
  lastPayout = null;
  /** What the person typed in the payout form, kept across re-renders until a payout is sent. */
  draft = { amount: "", currency: "" };
  /** A payout's key lives until it succeeds or is refused, so "Try again" never pays twice. */
  #payoutKey = "";
  /** One Idempotency-Key per payment's transfer click, kept until the backend answers for good,
   * so "Try again" after a lost answer never transfers twice. @type {Map<string, string>} */
  #claimKeys = new Map();
  #host;

  /** @param {import("./controller.mjs").PayoutsController} host */
  constructor(host) {
    this.#host = host;
  }

  reset() {
    this.lastPayout = null;
    this.#payoutKey = "";
    this.#claimKeys.clear();
  }

  /** Pays `amountText` (major units, as typed) of `currency` out to the bank. */
  async payOut(/** @type {string} */ amountText, /** @type {string} */ currency) {
    const host = this.#host;
    if (!host.api) return;
    const amount = parseAmount(amountText, currency);
    if (amount === null || amount <= 0) {
      host.error = {
        message: `Enter an amount in ${currency.toUpperCase()} with at most ${minorDigits(currency)} decimals, greater than zero.`,
        retry: null,
      };
      host.render();
      host.focusField("amount");
      return;
    }
    if (!this.#payoutKey) this.#payoutKey = newIdempotencyKey();
    const key = this.#payoutKey;
    await host.run(
      `Sending a payout of ${formatMoney(amount, currency)}…`,
      async (api) => {
        const payout = await api.payout(host.orgId, { amount, currency }, { idempotencyKey: key });
        this.#payoutKey = "";
        this.draft = { amount: "", currency: "" };
        this.lastPayout = payout;
        host.announce(`Payout of ${formatMoney(payout.amount, payout.currency)} sent. It is ${payout.status.replace(/_/g, " ")}.`);
        [host.balance, host.history] = await Promise.all([api.balance(host.orgId), host.firstHistoryPages(api)]);
      },
      (error) => {
        const retryable = error instanceof BackendError && (error.status === 0 || error.status >= 500);
        if (!retryable) this.#payoutKey = "";
        host.fail(error, () => void this.payOut(amountText, currency));
      },
    );
  }

  /** Transfers what is left of one earned payment; the backend computes the fee and the net. */
  async claim(/** @type {import("../backend-types.mjs").Payment} */ payment) {
    const host = this.#host;
    if (!host.api) return;
    const id = payment.payment_intent_id;
    let key = this.#claimKeys.get(id);
    if (!key) {
      key = newIdempotencyKey();
      this.#claimKeys.set(id, key);
    }
    const claimKey = key;
    await host.run(
      `Transferring ${formatMoney(payment.amount_remaining, payment.currency)} to your Stripe balance…`,
      async (api) => {
        const transfer = await api.transfer(host.orgId, { sourceTransaction: id }, { idempotencyKey: claimKey });
        this.#claimKeys.delete(id);
        const c = transfer.currency;
        const split = `${formatMoney(transfer.gross_amount, c)} less the platform fee of ${formatMoney(transfer.fee_amount, c)}`;
        host.announce(
          transfer.status === "succeeded"
            ? `Transferred ${formatMoney(transfer.net_amount, c)} to your Stripe balance (${split}).`
            : `Transfer of ${formatMoney(transfer.net_amount, c)} (${split}) is ${transfer.status}.`,
        );
        // The money moved: a failure to read the new balance is offered as a reload, never as a
        // second click on a transfer that already happened.
        await host.reloadMoney(api).catch((error) => host.fail(error, () => void host.reload()));
      },
      async (error) => {
        const definitive = !(error instanceof BackendError) || (error.status > 0 && error.status < 500);
        if (definitive) this.#claimKeys.delete(id);
        const refusal = error instanceof BackendError ? describeTransferRefusal(error.code, error.message) : null;
        if (refusal) {
          host.error = { message: refusal.message, retry: refusal.retry ? () => void this.claim(payment) : null };
          const api = host.api;
          if (refusal.refresh && api) await host.reloadMoney(api).catch(() => undefined);
        } else {
          host.fail(error, () => void this.claim(payment));
        }
      },
    );
  }
}
