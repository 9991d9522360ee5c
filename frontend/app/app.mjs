// The platform's web app, reduced to what Connect needs: sign up, sign in, sign out, create and
// switch organizations (Better Auth's organization client), and Settings → Payouts for the active
// organization, which is the <connect-payouts> element. Pages are paths rendered here; the server
// serves this one page for each of them.
import "/static/connect-payouts.mjs";

import { authClient, forgetTokens, getToken, keepSessionFresh } from "./session.mjs";

const BACKEND_URL = document.querySelector('meta[name="connect-backend-url"]')?.getAttribute("content") ?? "";
// Given one (STRIPE_PUBLISHABLE_KEY of the auth app), the element shows Stripe's embedded components.
const PUBLISHABLE_KEY =
  document.querySelector('meta[name="connect-publishable-key"]')?.getAttribute("content") ?? "";
const view = /** @type {HTMLElement} */ (document.getElementById("view"));
const nav = /** @type {HTMLElement} */ (document.getElementById("account-nav"));
const flash = /** @type {HTMLElement} */ (document.getElementById("flash"));
const main = /** @type {HTMLElement} */ (document.getElementById("main"));

/** @param {string} tag @param {Record<string, any>} [attrs] @param {(Node | string | null | false | undefined)[]} children */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false && value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) if (child !== null && child !== false && child !== undefined) node.append(child);
  return node;
}

function say(/** @type {string} */ text) {
  flash.textContent = text;
}

function go(/** @type {string} */ path, { message = "" } = {}) {
  history.pushState(null, "", path);
  say(message);
  void render();
}

function link(/** @type {string} */ path, /** @type {string} */ text) {
  return h(
    "a",
    {
      href: path,
      onclick: (/** @type {MouseEvent} */ event) => {
        if (event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        go(path);
      },
    },
    text,
  );
}

/** A labelled field; the label text is the accessible name. */
function field(/** @type {string} */ label, /** @type {Record<string, any>} */ attrs) {
  return h("label", {}, label, h("input", { required: true, ...attrs }));
}

/** Runs a form's action with its button disabled and the error shown in words. */
function formAction(/** @type {HTMLFormElement} */ form, /** @type {(data: FormData) => Promise<string | null>} */ action) {
  const error = h("p", { class: "error", role: "alert" });
  form.append(error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    error.textContent = "";
    try {
      const problem = await action(new FormData(form));
      if (problem) error.textContent = problem;
    } catch {
      error.textContent = "The sign-in service cannot be reached. Check your connection and try again.";
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** Better Auth's error → a sentence; its messages are already written for people. */
function authProblem(/** @type {{message?: string, status?: number} | null} */ error) {
  if (!error) return null;
  if (!error.status || error.status >= 500) return "The sign-in service had a problem. Try again.";
  return error.message || "That did not work. Check what you entered and try again.";
}

function renderNav(/** @type {any} */ session, /** @type {any[]} */ orgs) {
  if (!session) {
    nav.replaceChildren(link("/sign-in", "Sign in"), link("/sign-up", "Sign up"));
    return;
  }
  const active = session.session.activeOrganizationId;
  const switcher = h(
    "select",
    {
      "aria-label": "Active organization",
      onchange: async (/** @type {Event} */ event) => {
        const organizationId = /** @type {HTMLSelectElement} */ (event.target).value;
        const { error } = await authClient.organization.setActive({ organizationId });
        if (error) say(authProblem(error) ?? "");
        else go("/settings/payouts", { message: "Switched organization." });
      },
    },
    ...(active ? [] : [h("option", { value: "", selected: true, disabled: true }, "Choose an organization")]),
    ...orgs.map((org) => h("option", { value: org.id, selected: org.id === active }, org.name)),
  );
  const items = [
    h("span", { class: "who" }, `Signed in as ${session.user.name} (${session.user.email})`),
    orgs.length > 0 ? switcher : null,
    link("/settings/payouts", "Payouts"),
    link("/organizations", "Organizations"),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  ];
  nav.replaceChildren(...items.filter((item) => item !== null));
}

async function signOut() {
  await authClient.signOut();
  forgetTokens();
  go("/sign-in", { message: "You are signed out." });
}

function signInPage() {
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "page-title" },
    field("Email", { name: "email", type: "email", autocomplete: "username" }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password" }),
    h("button", { type: "submit" }, "Sign in"),
  );
  formAction(/** @type {HTMLFormElement} */ (form), async (data) => {
    const { error } = await authClient.signIn.email({
      email: String(data.get("email")),
      password: String(data.get("password")),
    });
    if (error) return authProblem(error);
    go("/", { message: "You are signed in." });
    return null;
  });
  return [
    h("h1", { id: "page-title" }, "Sign in"),
    h("div", { class: "card" }, form, h("p", {}, "No account yet? ", link("/sign-up", "Sign up"))),
  ];
}

function signUpPage() {
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "page-title" },
    field("Name", { name: "name", autocomplete: "name" }),
    field("Email", { name: "email", type: "email", autocomplete: "username" }),
    field("Password", { name: "password", type: "password", autocomplete: "new-password", minlength: 8 }),
    h("button", { type: "submit" }, "Sign up"),
  );
  formAction(/** @type {HTMLFormElement} */ (form), async (data) => {
    const { error } = await authClient.signUp.email({
      name: String(data.get("name")),
      email: String(data.get("email")),
      password: String(data.get("password")),
    });
    if (error) return authProblem(error);
    go("/organizations", { message: "Welcome! Create your organization to set up payouts." });
    return null;
  });
  return [
    h("h1", { id: "page-title" }, "Sign up"),
    h("div", { class: "card" }, form, h("p", {}, "Already have an account? ", link("/sign-in", "Sign in"))),
  ];
}

function slugFor(/** @type {string} */ name) {
  const base = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  const suffix = Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${base || "org"}-${suffix}`;
}

function organizationsPage(/** @type {any} */ session, /** @type {any[]} */ orgs) {
  const active = session.session.activeOrganizationId;
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": "create-title" },
    field("Organization name", { name: "name", autocomplete: "organization", maxlength: 100 }),
    h("button", { type: "submit" }, "Create organization"),
  );
  formAction(/** @type {HTMLFormElement} */ (form), async (data) => {
    const name = String(data.get("name")).trim();
    const { data: created, error } = await authClient.organization.create({ name, slug: slugFor(name) });
    if (error) return authProblem(error);
    const { error: activeError } = await authClient.organization.setActive({ organizationId: created.id });
    if (activeError) return authProblem(activeError);
    go("/settings/payouts", { message: `Organization “${name}” created.` });
    return null;
  });
  const list = orgs.length
    ? h(
        "ul",
        { class: "orgs" },
        ...orgs.map((org) =>
          h(
            "li",
            {},
            h("span", {}, org.name, org.id === active ? " (active)" : ""),
            org.id === active
              ? link("/settings/payouts", "Payouts")
              : h(
                  "button",
                  {
                    type: "button",
                    "aria-label": `Switch to ${org.name}`,
                    onclick: async () => {
                      const { error } = await authClient.organization.setActive({ organizationId: org.id });
                      if (error) say(authProblem(error) ?? "");
                      else go("/settings/payouts", { message: `Switched to ${org.name}.` });
                    },
                  },
                  "Switch",
                ),
          ),
        ),
      )
    : h("p", {}, "You are not in any organization yet.");
  return [
    h("h1", { id: "page-title" }, "Organizations"),
    h("section", { class: "card", "aria-labelledby": "yours-title" }, h("h2", { id: "yours-title" }, "Your organizations"), list),
    h("section", { class: "card", "aria-labelledby": "create-title" }, h("h2", { id: "create-title" }, "Create an organization"), form),
  ];
}

async function payoutsPage(/** @type {any} */ session, /** @type {any[]} */ orgs) {
  const orgId = session.session.activeOrganizationId;
  const org = orgs.find((o) => o.id === orgId);
  if (!org) {
    return [
      h("h1", { id: "page-title" }, "Payouts"),
      h("p", {}, "Choose or create an organization first. ", link("/organizations", "Organizations")),
    ];
  }
  const { data: member } = await authClient.organization.getActiveMember();
  const element = h("connect-payouts", {
    "organization-id": org.id,
    "backend-url": BACKEND_URL,
    role: member?.role ?? "member",
    heading: "Payout account",
    "sign-in-url": "/sign-in",
    ...(PUBLISHABLE_KEY ? { "publishable-key": PUBLISHABLE_KEY } : {}),
  });
  element.addEventListener("connect-payouts:signed-out", () => {
    forgetTokens();
    renderNav(null, []);
    say("You are signed out. Sign in again to continue.");
  });
  /** @type {any} */ (element).getToken = getToken;
  return [
    h("p", { class: "crumbs" }, "Settings → Payouts"),
    h("h1", { id: "page-title" }, `Payouts for ${org.name}`),
    h("div", { class: "card" }, element),
  ];
}

async function render() {
  const path = location.pathname;
  const { data: session, error } = await authClient.getSession();
  if (error && (!error.status || error.status >= 500)) {
    view.replaceChildren(
      h("p", { class: "error", role: "alert" }, "The sign-in service cannot be reached."),
      h("button", { type: "button", onclick: () => void render() }, "Try again"),
    );
    return;
  }
  if (!session) {
    forgetTokens();
    renderNav(null, []);
    if (path === "/sign-up") view.replaceChildren(...signUpPage());
    else {
      if (path !== "/sign-in") history.replaceState(null, "", "/sign-in");
      view.replaceChildren(...signInPage());
    }
    document.title = "Sign in — Platform";
    return;
  }
  const { data: orgs } = await authClient.organization.list();
  if (!session.session.activeOrganizationId && orgs?.length) {
    // A fresh session has no active organization: pick the first, as a person would.
    const { error: activeError } = await authClient.organization.setActive({ organizationId: orgs[0].id });
    if (!activeError) session.session.activeOrganizationId = orgs[0].id;
  }
  renderNav(session, orgs ?? []);
  if (path === "/organizations" || ((path === "/" || path.startsWith("/sign")) && !session.session.activeOrganizationId)) {
    if (path !== "/organizations") history.replaceState(null, "", "/organizations");
    view.replaceChildren(...organizationsPage(session, orgs ?? []));
    document.title = "Organizations — Platform";
  } else {
    if (path !== "/settings/payouts") history.replaceState(null, "", "/settings/payouts" + location.search);
    view.replaceChildren(...(await payoutsPage(session, orgs ?? [])));
    document.title = "Payouts — Platform";
  }
  main.focus({ preventScroll: true });
}

window.addEventListener("popstate", () => void render());
keepSessionFresh(() => go("/sign-in", { message: "Your session ended. You are signed out." }));
void render();
