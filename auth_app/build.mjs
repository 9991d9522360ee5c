// Bundles Better Auth's browser client (with the organization client) into one static ES module,
// `dist/better-auth-client.mjs`, so the browser loads nothing from a CDN or node_modules.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

await build({
  stdin: {
    contents: [
      'export { createAuthClient } from "better-auth/client";',
      'export { organizationClient } from "better-auth/client/plugins";',
    ].join("\n"),
    resolveDir: here,
    sourcefile: "better-auth-client-entry.mjs",
    loader: "js",
  },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  outfile: `${here}dist/better-auth-client.mjs`,
  logLevel: "warning",
});
