// Money as a person reads it: amounts in minor units formatted in the reader's locale, typed
// amounts parsed back to minor units, and days. Integers only — never float arithmetic on money.
// Pure functions: every *-words module formats through these.

/** The number of minor-unit digits of a currency (2 for USD, 0 for JPY), as Intl knows it. */
export function minorDigits(/** @type {string} */ currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Minor units → "$1,234.50" in the reader's locale; integers only, never float arithmetic on money. */
export function formatMoney(/** @type {number} */ amount, /** @type {string} */ currency) {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? "-" : "";
  const abs = String(Math.abs(amount)).padStart(digits + 1, "0");
  const major = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  try {
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: currency.toUpperCase(),
    }).format(Number(`${sign}${major}`));
  } catch {
    return `${sign}${major} ${currency.toUpperCase()}`;
  }
}

/**
 * "12.5" in major units → 1250 minor units; null when it is not an amount with at most the
 * currency's digits. Parsed from the text, not through floats.
 * @param {string} text
 * @param {string} currency
 * @returns {number | null}
 */
export function parseAmount(text, currency) {
  const digits = minorDigits(currency);
  const match = /^\s*(\d{1,12})(?:[.,](\d*))?\s*$/.exec(text);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > digits) return null;
  return Number(match[1]) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
}

/**
 * A day in the reader's locale ("Nov 30, 2026") from Unix seconds.
 * @param {number} seconds
 * @param {string} [timeZone] For tests; the reader's own zone by default.
 */
export function formatDay(seconds, timeZone) {
  return new Date(seconds * 1000).toLocaleDateString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone,
  });
}

