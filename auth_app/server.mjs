// The platform's auth app for the local stack: Better Auth at /api/auth/* and the frontend's
// static files, on one origin (http://localhost:3000 by default), over the local D1 SQLite file.
//
// Configured only through the environment:
//   D1_DATABASE_PATH    the SQLite file the Worker host uses as D1 (required; migrations applied)
//   BETTER_AUTH_SECRET  the Worker's secret (required, >= 32 characters)
//   BACKEND_URL         the Connect backend the browser calls (required)
//   FRONTEND_PORT       default 3000;  FRONTEND_HOST default 127.0.0.1
//   BETTER_AUTH_URL     default http://localhost:$FRONTEND_PORT (must be in the backend's FRONTEND_ORIGINS)
//   SESSIONS_KV_PATH    optional: sessions in Better Auth's secondaryStorage, on this SQLite file
//                       (the Worker's SESSIONS_KV stand-in) instead of the D1 `session` table
//   STRIPE_PUBLISHABLE_KEY  optional (pk_test_… / pk_live_…): the payouts page then shows Stripe's
//                       embedded Connect components, and the page's CSP lets in Stripe's origins
//   AUTH_CONFIG         optional: a platform's Better Auth config module (make dev AUTH_CONFIG=…)
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import Database from "better-sqlite3";
import { toNodeHandler } from "better-auth/node";

import { createAuth } from "./auth.mjs";
import { sqliteSecondaryStorage } from "./kv_storage.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FRONTEND = path.resolve(HERE, "..", "frontend");
const VENDOR = path.resolve(HERE, "dist");

/** Client-side routes of the app: each serves the same page, which renders by path. */
const APP_ROUTES = new Set(["/", "/sign-in", "/sign-up", "/organizations", "/settings/payouts"]);
const TYPES = new Map([
  [".mjs", "text/javascript; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
  [".html", "text/html; charset=utf-8"],
  [".png", "image/png"],
  [".svg", "image/svg+xml"],
]);

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`auth app: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const dbPath = required("D1_DATABASE_PATH");
const secret = required("BETTER_AUTH_SECRET");
if (secret.length < 32) {
  console.error("auth app: BETTER_AUTH_SECRET must be at least 32 characters");
  process.exit(2);
}
const backendUrl = new URL(required("BACKEND_URL")).origin;
const port = Number(process.env.FRONTEND_PORT || 3000);
const host = process.env.FRONTEND_HOST || "127.0.0.1";
const baseURL = new URL(process.env.BETTER_AUTH_URL || `http://localhost:${port}`).origin;
if (!existsSync(dbPath)) {
  console.error(`auth app: ${dbPath} does not exist (apply the D1 migrations first)`);
  process.exit(2);
}
if (!existsSync(path.join(VENDOR, "better-auth-client.mjs"))) {
  console.error("auth app: dist/better-auth-client.mjs is missing (run `npm run build`)");
  process.exit(2);
}

// The journal mode is the D1 host's to choose (the CPython host makes the file WAL; wrangler's
// miniflare keeps its own); this connection only waits for the other writer instead of failing.
const database = new Database(dbPath);
database.pragma("busy_timeout = 5000");
database.pragma("foreign_keys = ON");

const kvPath = process.env.SESSIONS_KV_PATH;
const secondaryStorage = kvPath ? sqliteSecondaryStorage(kvPath) : undefined;
// AUTH_CONFIG (optional): a platform's Better Auth config module (e.g. configs/plural_snake.mjs);
// its options replace the defaults above, its database aside.
const platform = process.env.AUTH_CONFIG
  ? (await import(pathToFileURL(path.resolve(process.env.AUTH_CONFIG)).href)).default
  : {};
const auth = createAuth({ database, secret, baseURL, secondaryStorage, platform });
const authHandler = toNodeHandler(auth);

const publishableKey = process.env.STRIPE_PUBLISHABLE_KEY || "";
if (publishableKey && !/^pk_(test|live)_[A-Za-z0-9]+$/.test(publishableKey)) {
  console.error("auth app: STRIPE_PUBLISHABLE_KEY must be a publishable key (pk_test_… or pk_live_…)");
  process.exit(2);
}
const escapeAttr = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
const page = readFileSync(path.join(FRONTEND, "app", "index.html"), "utf8")
  .replace("{{BACKEND_URL}}", escapeAttr(backendUrl))
  .replace("{{STRIPE_PUBLISHABLE_KEY}}", escapeAttr(publishableKey));
// The page's one inline script, its import map, allowed by its hash (no 'unsafe-inline').
const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(page)?.[1] ?? "";
const importMapHash = `'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;
// What Stripe's embedded components need (Stripe's "Connect embedded components" CSP guidance),
// only when they are configured.
const STRIPE = publishableKey ? " https://connect-js.stripe.com https://js.stripe.com" : "";

const SECURITY_HEADERS = {
  "Content-Security-Policy": [
    "default-src 'self'",
    `connect-src 'self' ${backendUrl}${publishableKey ? " https://api.stripe.com" : ""}`,
    `img-src 'self' data:${publishableKey ? " https://*.stripe.com" : ""}`,
    "style-src 'self'",
    `script-src 'self' ${importMapHash}${STRIPE}`,
    `frame-src 'self'${STRIPE}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
};

function send(res, status, body, type = "text/plain; charset=utf-8") {
  res.writeHead(status, { ...SECURITY_HEADERS, "Content-Type": type, "Cache-Control": "no-store" });
  res.end(body);
}

/** Serves a file under `root` with an allow-listed extension; never a path outside it. */
function serveFile(res, root, relative) {
  const file = path.resolve(root, relative);
  const type = TYPES.get(path.extname(file));
  if (!file.startsWith(root + path.sep) || type === undefined) return false;
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return false;
  }
  if (!stat.isFile()) return false;
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": stat.size,
    "Cache-Control": "no-cache",
  });
  createReadStream(file).pipe(res);
  return true;
}

const server = createServer((req, res) => {
  let url;
  try {
    url = new URL(req.url ?? "/", baseURL);
  } catch {
    send(res, 400, "bad request");
    return;
  }
  const { pathname } = url;
  if (pathname.startsWith("/api/auth/") || pathname === "/api/auth") {
    authHandler(req, res);
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "method not allowed");
    return;
  }
  if (pathname === "/healthz") {
    send(res, 200, "ok");
    return;
  }
  if (APP_ROUTES.has(pathname)) {
    send(res, 200, page, "text/html; charset=utf-8");
    return;
  }
  let relative;
  try {
    relative = decodeURIComponent(pathname);
  } catch {
    send(res, 400, "bad request");
    return;
  }
  if (relative.startsWith("/vendor/") && serveFile(res, VENDOR, relative.slice("/vendor/".length))) {
    return;
  }
  if (relative.startsWith("/static/") && serveFile(res, FRONTEND, relative.slice("/static/".length))) {
    return;
  }
  send(res, 404, "not found");
});

server.listen(port, host, () => {
  console.log(`auth app: ${baseURL} (listening on ${host}:${port}; backend ${backendUrl})`);
});

function shutdown() {
  server.close(() => {
    database.close();
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
