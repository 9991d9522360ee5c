// Bundles Better Auth's browser client (with the organization client) into one static ES module,
// `dist/better-auth-client.mjs`, and Stripe's Connect.js loader (`@stripe/connect-js`, its
// side-effect-free `pure` entry) into `dist/stripe-connect-js.mjs`, so the browser loads nothing
// from a CDN or node_modules. (Connect.js itself always comes from Stripe: the loader fetches it.)
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

await build({
  stdin: {
    contents: 'export { loadConnectAndInitialize } from "@stripe/connect-js/pure";',
    resolveDir: here,
    sourcefile: "stripe-connect-js-entry.mjs",
    loader: "js",
  },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  outfile: `${here}dist/stripe-connect-js.mjs`,
  logLevel: "warning",
});
