// Loads the Worker as the harness does and runs ffi_edges.py's `observe(env)` inside the same
// Pyodide, with the Worker instance's own (SDK-wrapped) env. Usage: node ffi_edges.mjs <d1 file>
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { PyodideWorker } from "../../worker/pyodide_host/runtime.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const worker = await PyodideWorker.start({
  dbPath: process.argv[2],
  settings: { INTERNAL_API_KEYS: `v1:${"k".repeat(40)}`, BETTER_AUTH_SECRET: "s".repeat(40) },
});
const module = worker.pyodide.runPython(
  `${fs.readFileSync(path.join(here, "ffi_edges.py"), "utf8")}\nobserve`,
);
try {
  process.stdout.write(`${await module(worker.instance.env)}\n`);
} catch (error) {
  process.stderr.write(`${error.message}\n`); // a PythonError's message is its traceback
  process.exitCode = 1;
} finally {
  worker.close();
}
