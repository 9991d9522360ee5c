// Serve the Worker under Pyodide over HTTP, as `wrangler dev` would, on a SQLite file as D1.
//
//   node worker/pyodide_host/server.mjs [--test-scheduled] [--test-clock]
//
// Environment: WORKER_PORT (8787), WORKER_HOST (127.0.0.1), D1_DATABASE_PATH (required: an
// already migrated file — `python -m devstack.migrate` or `make dev` does that), SESSIONS_KV_PATH
// (optional: a SQLite file behind the SESSIONS_KV binding stand-in, kv.mjs), and the Worker's
// settings: every name listed in WORKER_SETTING_NAMES (comma-separated) is copied from the
// environment into `env`, as `[vars]` and secrets are on Workers.
//
// --test-scheduled  POST /__scheduled?cron=…  runs the cron handler (as `wrangler dev
//                   --test-scheduled` does).
// --test-clock      POST /__clock {"now_ms": n} freezes Date.now() — the clock Python's time.time()
//                   reads under Pyodide — at n; {"now_ms": null} releases it. Tests only.
// Always: GET /__pyodide_host/stats → {pyodide_version, python_version, pyodide_ms, import_ms,
// first_request_ms, d1_round_trips, kv_reads}.
import http from "node:http";

import { PyodideWorker } from "./runtime.mjs";

const MAX_BODY = 1024 * 1024;
const args = new Set(process.argv.slice(2));
const port = Number(process.env.WORKER_PORT ?? "8787");
const host = process.env.WORKER_HOST ?? "127.0.0.1";
const dbPath = process.env.D1_DATABASE_PATH;
if (!dbPath) {
  console.error("pyodide host: D1_DATABASE_PATH is required");
  process.exit(2);
}
const settings = {};
for (const name of (process.env.WORKER_SETTING_NAMES ?? "").split(",").filter(Boolean)) {
  if (process.env[name] !== undefined) settings[name] = process.env[name];
}

const realNow = Date.now.bind(Date);
let frozenNow = null;
if (args.has("--test-clock")) Date.now = () => frozenNow ?? realNow();

const kvPath = process.env.SESSIONS_KV_PATH || undefined;
const worker = await PyodideWorker.start({ dbPath, kvPath, settings });
let firstRequestMs = null;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      if (size <= MAX_BODY) chunks.push(chunk);
      size += chunk.length;
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

async function control(req, res, url, body) {
  if (url.pathname === "/__pyodide_host/stats" && req.method === "GET") {
    json(res, 200, {
      pyodide_version: worker.pyodide.version,
      python_version: worker.pyodide.runPython("import sys; sys.version.split()[0]"),
      pyodide_ms: worker.pyodideMs,
      import_ms: worker.importMs,
      first_request_ms: firstRequestMs,
      d1_round_trips: worker.db.roundTrips,
      kv_reads: worker.kv ? worker.kv.reads : null,
    });
    return true;
  }
  if (url.pathname === "/__scheduled" && args.has("--test-scheduled") && req.method === "POST") {
    await worker.scheduled({ cron: url.searchParams.get("cron") ?? undefined, scheduledTime: Date.now() });
    json(res, 200, { ok: true });
    return true;
  }
  if (url.pathname === "/__clock" && args.has("--test-clock") && req.method === "POST") {
    const { now_ms: nowMs } = JSON.parse(body.toString() || "{}");
    frozenNow = nowMs === null || nowMs === undefined ? null : Number(nowMs);
    json(res, 200, { now_ms: Date.now() });
    return true;
  }
  return false;
}

const server = http.createServer(async (req, res) => {
  try {
    const body = await readBody(req);
    const url = new URL(req.url, `http://${req.headers.host ?? `${host}:${port}`}`);
    if (url.pathname.startsWith("/__") && (await control(req, res, url, body))) return;
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const hasBody = !["GET", "HEAD"].includes(req.method);
    const request = new Request(url, { method: req.method, headers, body: hasBody ? body : undefined });
    const started = performance.now();
    const response = await worker.fetch(request);
    if (firstRequestMs === null) firstRequestMs = performance.now() - started;
    const payload = Buffer.from(await response.arrayBuffer());
    const out = Object.fromEntries(response.headers);
    out["content-length"] = String(payload.length);
    res.writeHead(response.status, out);
    res.end(payload);
  } catch (error) {
    // What workerd does with an exception escaping the handler: a bare 500, details in the log.
    console.error("pyodide host: request failed:", error);
    if (!res.headersSent) json(res, 500, { error: { code: "internal_error", message: "Internal error." } });
    else res.destroy();
  }
});

function stop() {
  server.close();
  worker.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

server.listen(port, host, () => {
  const { port: bound } = server.address();
  console.log(
    `pyodide host: Worker on http://${host}:${bound} (D1 = ${dbPath}; Pyodide ${Math.round(worker.pyodideMs)} ms, import ${Math.round(worker.importMs)} ms)`,
  );
});
