// Drives frontend/backend-client.mjs against a running backend, as a settings page would, and
// prints one JSON object of outcomes for tests/frontend/test_backend_client.py to assert.
//
// Environment: CLIENT_MODULE (file URL of backend-client.mjs), BACKEND_URL, FAKE_URL (the Stripe
// fake, for its hosted-onboarding page and its control API), ORG_ID, TOKEN_OWNER, TOKEN_MEMBER,
// TOKEN_OUTSIDER, CLOSED_URL (an address nothing listens on).

const env = process.env;
const { BackendError, createBackendClient } = await import(env.CLIENT_MODULE);

/** Every request the client makes, so the test can check what went over the wire. */
const sent = [];
const recordingFetch = async (url, init) => {
  sent.push({ url: String(url), method: init.method, headers: Object.keys(init.headers) });
  return fetch(url, init);
};

const tokens = { owner: env.TOKEN_OWNER, member: env.TOKEN_MEMBER, outsider: env.TOKEN_OUTSIDER };
const as = (who, baseUrl = env.BACKEND_URL) =>
  createBackendClient({ baseUrl, getToken: async () => tokens[who] ?? null, fetch: recordingFetch });
const owner = as("owner");
const member = as("member");
const org = env.ORG_ID;

/** The reply, or the BackendError's fields; anything else is a bug in the client and crashes. */
async function outcome(promise) {
  try {
    return { ok: await promise };
  } catch (error) {
    if (!(error instanceof BackendError)) throw error;
    const { status, code, message, retryAfter, idempotencyKey, requestId } = error;
    return {
      error: { name: error.name, status, code, message, retryAfter, idempotencyKey, requestId },
    };
  }
}

async function fakeControl(path, body) {
  const response = await fetch(env.FAKE_URL + path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
}

/** What the user does on Stripe's hosted page: open the link, submit, follow the redirect. */
async function completeHostedOnboarding(linkUrl) {
  const page = await fetch(linkUrl);
  const link = new URL(linkUrl);
  const submit = await fetch(`${link.origin}${link.pathname}/complete${link.search}`, {
    method: "POST",
    redirect: "manual",
  });
  return { page: page.status, status: submit.status, location: submit.headers.get("location") };
}

const r = {};
r.statusBefore = await outcome(member.status(org));
r.noToken = await outcome(as("nobody").status(org));
r.outsiderStatus = await outcome(as("outsider").status(org));
r.memberOnboard = await outcome(member.onboard(org));
r.onboard = await outcome(
  owner.onboard(org, {
    returnPath: "/settings/payments?connect=return",
    refreshPath: "/settings/payments?connect=refresh",
  }),
);
r.onboardAgain = await outcome(owner.onboard(org));
r.badRedirect = await outcome(owner.onboard(org, { returnUrl: "https://evil.example/steal" }));
r.hosted = await completeHostedOnboarding(r.onboard.ok.url);
r.statusRefreshed = await outcome(member.status(org, { refresh: true }));

/** A customer pays the platform for the org's sale: the PaymentIntent the platform's checkout
 * makes (tagged with the org), completed at the fake. Returns its charge. */
async function pay(amount) {
  const created = await fetch(`${env.FAKE_URL}/v1/payment_intents`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${env.FAKE_API_KEY}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ amount: String(amount), currency: "usd", "metadata[organization_id]": org }),
  });
  if (!created.ok) throw new Error(`payment: ${created.status} ${await created.text()}`);
  const intent = await created.json();
  const done = await fetch(`${env.FAKE_URL}/_fake/payment_intents/${intent.id}/succeed`, { method: "POST" });
  if (!done.ok) throw new Error(`succeed: ${done.status} ${await done.text()}`);
  return (await done.json()).latest_charge;
}

const sale = await pay(20_000);
const small = await pay(1_000);
const unclaimed = await pay(3_000);
const order = { sourceTransaction: sale, description: "Order 42", transferGroup: "order-42" };
r.transfer = await outcome(owner.transfer(org, order, { idempotencyKey: "order-42" }));
r.transferAgain = await outcome(owner.transfer(org, order, { idempotencyKey: "order-42" }));
r.transferKeyReused = await outcome(
  owner.transfer(org, { ...order, amount: 999 }, { idempotencyKey: "order-42" }),
);
r.transferAgainNewKey = await outcome(owner.transfer(org, order, { idempotencyKey: "order-42b" }));
r.transferGeneratedKey = await outcome(owner.transfer(org, { sourceTransaction: small }));
r.transferGeneratedKeyRetry = await outcome(
  owner.transfer(
    org,
    { sourceTransaction: small },
    { idempotencyKey: r.transferGeneratedKey.ok?.idempotency_key },
  ),
);
r.memberTransfer = await outcome(member.transfer(org, order, { idempotencyKey: "member-1" }));
// The payment reaches the list through its `payment_intent.succeeded` webhook: give it a moment.
for (let i = 0; i < 100; i++) {
  r.payments = await outcome(owner.payments(org));
  if (r.payments.ok?.payments.length) break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
r.memberPayments = await outcome(member.payments(org));
r.autoTransfer = await outcome(owner.setAutoTransfer(org, false));
r.unclaimed = unclaimed;
r.balance = await outcome(member.balance(org));
r.payout = await outcome(
  owner.payout(org, { amount: 5_000, currency: "usd" }, { idempotencyKey: "payout-1" }),
);
r.payoutAgain = await outcome(
  owner.payout(org, { amount: 5_000, currency: "usd" }, { idempotencyKey: "payout-1" }),
);
r.loginLink = await outcome(owner.loginLink(org));
r.ownerSession = await outcome(owner.accountSession(org));
r.memberSession = await outcome(member.accountSession(org));
r.outsiderSession = await outcome(as("outsider").accountSession(org));
r.memberSchedule = await outcome(member.setPayoutSchedule(org, { interval: "daily" }));
r.weeklyNoAnchor = await outcome(owner.setPayoutSchedule(org, { interval: "weekly" }));
r.schedule = await outcome(
  owner.setPayoutSchedule(org, { interval: "weekly", weeklyAnchor: "friday", delayDays: 3 }),
);
r.payoutOnSchedule = await outcome(owner.payout(org, { currency: "usd" }, { idempotencyKey: "p-2" }));
r.manualAgain = await outcome(owner.setPayoutSchedule(org, { interval: "manual" }));
r.transferPage1 = await outcome(member.transferHistory(org, { limit: 1 }));
r.transferPage2 = await outcome(
  member.transferHistory(org, { limit: 1, cursor: r.transferPage1.ok?.next_cursor }),
);
r.payoutHistory = await outcome(member.payoutHistory(org));
r.outsiderHistory = await outcome(as("outsider").payoutHistory(org));

await fakeControl("/_fake/faults", { mode: "rate_limit", count: 1 });
r.rateLimited = await outcome(member.balance(org));
r.unreachable = await outcome(
  as("owner", env.CLOSED_URL).transfer(org, order, { idempotencyKey: "order-43" }),
);

// A 401 makes the client ask for the token once more ({fresh: true}) and retry with it once.
const asked = { stale: [], revoked: [] };
const reReading = (name, freshToken) =>
  createBackendClient({
    baseUrl: env.BACKEND_URL,
    fetch: recordingFetch,
    getToken: async (options) => {
      asked[name].push(options?.fresh === true);
      return options?.fresh ? freshToken : `${name}-token-that-the-backend-refuses`;
    },
  });
r.staleThenFresh = await outcome(reReading("stale", tokens.member).status(org));
r.revokedThenNone = await outcome(reReading("revoked", null).status(org));
r.asked = asked;

process.stdout.write(JSON.stringify({ results: r, sent }));
