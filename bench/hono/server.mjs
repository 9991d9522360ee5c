// Bench-only peer (not part of the product): the authenticated status route written in Hono on
// Node — the architecture note's original backend — doing the same work as our Starlette route,
// against the same Worker host, so `make bench` can put the two side by side.
//
// env: HONO_PORT (default 8790), WORKER_URL, INTERNAL_API_KEY.
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const port = Number(process.env.HONO_PORT ?? "8790");
const workerUrl = (process.env.WORKER_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const apiKey = process.env.INTERNAL_API_KEY ?? "";
if (apiKey.length < 32) {
  console.error("INTERNAL_API_KEY must be set (at least 32 characters)");
  process.exit(2);
}
const verifyUrl = `${workerUrl}/api/internal/verify-user-context`;

const error = (c, status, code, message) => c.json({ error: { code, message } }, status);

const app = new Hono();

// The limit of this stack: a JSON route with no I/O.
app.get("/bare", (c) => c.json({ ok: true }));

app.get("/api/connect/status/:orgId", async (c) => {
  const header = c.req.header("authorization") ?? "";
  if (!header.toLowerCase().startsWith("bearer ") || header.length <= 7) {
    return error(c, 401, "unauthorized", "Missing bearer token");
  }
  const token = header.slice(7).trim();
  const orgId = c.req.param("orgId");
  let upstream;
  try {
    upstream = await fetch(verifyUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: JSON.stringify({ token, organization_id: orgId }),
    });
  } catch {
    return error(c, 502, "worker_unavailable", "The Worker could not be reached");
  }
  const body = await upstream.json();
  if (upstream.status === 401) return error(c, 401, "invalid_token", "Invalid or expired session");
  if (upstream.status === 403) return error(c, 403, "forbidden", "Not a member of this organization");
  if (upstream.status !== 200) return error(c, 502, "worker_error", "The Worker failed");

  // The same checks our backend makes (backend/edge/auth.py): X-User-ID never trusted, and the org
  // must come back with the caller's role in it.
  const xUser = c.req.header("x-user-id");
  if (xUser !== undefined && xUser !== body.user?.id) {
    return error(c, 403, "user_mismatch", "X-User-ID does not match the session.");
  }
  const org = body.organization;
  if (!org || !body.role || org.id !== orgId) {
    return error(c, 403, "forbidden", "Not a member of this organization");
  }
  return c.json({
    organization_id: org.id,
    stripe_connect_account_id: org.stripe_connect_account_id,
    stripe_connect_status: org.stripe_connect_status,
    onboarding_step: org.onboarding_step,
    onboarding_rejection_reason: org.onboarding_rejection_reason,
    charges_enabled: org.charges_enabled,
    payouts_enabled: org.payouts_enabled,
    details_submitted: org.details_submitted,
    requirements_currently_due: org.requirements_currently_due,
    requirements_past_due: org.requirements_past_due,
    requirements_disabled_reason: org.requirements_disabled_reason,
    requirements_current_deadline: org.requirements_current_deadline,
    platform_fee_percent: org.platform_fee_percent,
    platform_fee_fixed: org.platform_fee_fixed,
    stripe_synced_at: org.stripe_synced_at,
    auto_transfer_payments: org.auto_transfer_payments,
    payout_schedule_interval: org.payout_schedule_interval,
    payout_schedule_delay_days: org.payout_schedule_delay_days,
    payout_schedule_weekly_anchor: org.payout_schedule_weekly_anchor,
    payout_schedule_monthly_anchor: org.payout_schedule_monthly_anchor,
    stripe_connect_account_profile: org.stripe_connect_account_profile,
  });
});

app.notFound((c) => error(c, 404, "not_found", "Not found"));

serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, (info) => {
  console.log(`hono peer listening on http://127.0.0.1:${info.port}`);
});
