// The one DOM builder the payouts element and its panels share.

/**
 * `h("p", {class: "x"}, "text", child)`: builds DOM without innerHTML, so nothing from the
 * backend or Stripe is ever parsed as markup.
 * @param {string} tag
 * @param {Record<string, string | boolean | ((e: Event) => void)>} [attrs]
 * @param {(Node | string | null | false | undefined)[]} children
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") node.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) node.setAttribute(name, "");
    else if (value !== false) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== false && child !== undefined) node.append(child);
  }
  return node;
}
