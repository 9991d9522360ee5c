// The Worker's real entry module (`src/entry.py`, class `Default`) inside npm `pyodide`, driven the
// way workerd drives a Python `WorkerEntrypoint` (src/pyodide/python-entrypoint-helper.ts and
// internal/introspection.py in cloudflare/workerd):
//
// - the upload (`src/` and the vendored `python_modules/`, the files `wrangler deploy` ships) is
//   placed under /session/metadata and both folders are put on sys.path;
// - `_pyodide_entrypoint_helper` and `_cloudflare_compat_flags` — the two modules the `workers`
//   SDK imports from the runtime itself — are registered with what the SDK reads from them;
// - `Default(ctx, env)` is constructed once per isolate; `fetch` receives a JS `Request`, converted
//   by the SDK's own `python_from_rpc`, and its result goes back through `python_to_rpc`, which
//   must yield a JS `Response`; `scheduled(controller, env, ctx)` is called with the raw JS values.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

import { D1Database } from "./d1.mjs";
import { KvNamespace } from "./kv.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WORKER_DIR = path.resolve(HERE, "..");
const SESSION = "/session/metadata";

// Flags the SDK reads, with their value at this Worker's compatibility date (2026-11-01), from
// workerd's compatibility-date.capnp. Any other name reads as false, as the SDK's own default.
const COMPAT_FLAGS = {
  python_workers: true,
  python_workers_20250116: true,
  enable_python_external_sdk: true,
  python_no_global_handlers: true,
  python_workflows_implicit_dependencies: true,
  python_request_headers_preserve_commas: true,
};

const GLUE = `
from inspect import isawaitable

from pyodide.code import relaxed_call
from workers import python_from_rpc, python_to_rpc


async def call_fetch(instance, js_request):
    result = relaxed_call(instance.fetch, python_from_rpc(js_request))
    if isawaitable(result):
        result = await result
    return python_to_rpc(result)
`;

// What wrangler uploads: every file under src/ but bytecode caches, and python_modules/ (its
// default exclude is **/*.pyc). tests/test_pyodide_runtime.py checks this list against the dry run.
export function uploadedFiles(workerDir = WORKER_DIR) {
  const files = [];
  const walk = (root, dir, prefix) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "__pycache__") walk(root, full, prefix);
      } else if (!entry.name.endsWith(".pyc")) {
        files.push({ name: prefix + path.relative(root, full).split(path.sep).join("/"), full });
      }
    }
  };
  walk(path.join(workerDir, "src"), path.join(workerDir, "src"), "");
  const vendored = path.join(workerDir, "python_modules");
  if (!fs.existsSync(vendored)) {
    throw new Error(`${vendored} is missing: run \`python3 worker/vendor_sdk.py\` (make does)`);
  }
  walk(vendored, vendored, "python_modules/");
  return files;
}

function executionContext() {
  const pending = [];
  return {
    pending,
    ctx: {
      waitUntil(promise) {
        pending.push(Promise.resolve(promise).catch(() => {}));
      },
      passThroughOnException() {},
      props: {},
    },
  };
}

export function workerEnv(settings, db, kv) {
  return kv ? { ...settings, DB: db, SESSIONS_KV: kv } : { ...settings, DB: db };
}

export class PyodideWorker {
  static async start({ dbPath, kvPath, settings, workerDir = WORKER_DIR, stdout, stderr } = {}) {
    const started = performance.now();
    const pyodide = await loadPyodide({
      stdout: stdout ?? ((line) => process.stdout.write(line + "\n")),
      stderr: stderr ?? ((line) => process.stderr.write(line + "\n")),
    });
    const pyodideMs = performance.now() - started;
    for (const file of uploadedFiles(workerDir)) {
      const target = `${SESSION}/${file.name}`;
      pyodide.FS.mkdirTree(path.posix.dirname(target));
      pyodide.FS.writeFile(target, fs.readFileSync(file.full));
    }
    const db = new D1Database(dbPath);
    const kv = kvPath ? new KvNamespace(kvPath) : null;
    const env = workerEnv(settings, db, kv);
    const cloudflareWorkers = { env, waitUntil: () => {} };
    pyodide.registerJsModule("_pyodide_entrypoint_helper", {
      doAnImport: async (name) => {
        if (name === "cloudflare:workers") return cloudflareWorkers;
        throw new Error(`the Pyodide host provides no module ${name}`);
      },
      cloudflareWorkersModule: cloudflareWorkers,
      cloudflareSocketsModule: {},
      workerEntrypoint: class WorkerEntrypoint {},
      patchWaitUntil: () => {},
    });
    pyodide.registerJsModule(
      "_cloudflare_compat_flags",
      new Proxy(COMPAT_FLAGS, { get: (flags, name) => flags[name] ?? false, has: () => true }),
    );
    pyodide.runPython(
      `import sys; sys.path[:0] = ["${SESSION}", "${SESSION}/python_modules"]`,
    );
    const glue = pyodide.runPython(`${GLUE}\ncall_fetch`);
    const importStarted = performance.now();
    const entry = pyodide.pyimport("entry");
    const importMs = performance.now() - importStarted;
    const { ctx } = executionContext();
    const instance = entry.Default(ctx, env);
    return new PyodideWorker({ pyodide, db, kv, env, instance, glue, pyodideMs, importMs });
  }

  constructor({ pyodide, db, kv, env, instance, glue, pyodideMs, importMs }) {
    this.pyodide = pyodide;
    this.db = db;
    this.kv = kv;
    this.env = env;
    this.instance = instance;
    this.callFetch = glue;
    this.pyodideMs = pyodideMs;
    this.importMs = importMs;
  }

  async fetch(request) {
    const response = await this.callFetch(this.instance, request);
    if (!(response instanceof Response)) {
      throw new TypeError(`fetch() returned ${response?.constructor?.name}, not a JS Response`);
    }
    return response;
  }

  async scheduled({ cron = "17 3 * * *", scheduledTime = Date.now() } = {}) {
    const { ctx, pending } = executionContext();
    const controller = { cron, scheduledTime, type: "scheduled", noRetry() {} };
    await this.instance.scheduled.callRelaxed(controller, this.env, ctx);
    await Promise.all(pending);
  }

  close() {
    this.db.close();
    this.kv?.close();
  }
}
