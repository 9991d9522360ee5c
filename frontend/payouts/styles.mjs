// The stylesheet of <connect-payouts>, adopted by its shadow root: one constructable
// `CSSStyleSheet` built on first use and shared by every element on the page (as Lit's `css`
// styles are), so nothing leaks in or out and no `<style>` is parsed per element. Kept in a module
// rather than a `.css` file: CSS module scripts (`import … with {type: "css"}`) are not in every
// browser, nor in Node, which imports the element's module for its words.

const CSS = `
:host { display: block; font: inherit; color: inherit; max-width: 40rem; }
* { box-sizing: border-box; }
h2 { font-size: 1.25rem; margin: 0 0 .75rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
p { margin: .25rem 0 .5rem; line-height: 1.45; }
.badge { display: inline-block; padding: .1rem .6rem; border-radius: 999px; font-weight: 600;
  background: #eef0f3; color: #1f2933; }
.badge[data-state="active"] { background: #dff5e3; color: #14532d; }
.badge[data-state="restricted"], .badge[data-state="rejected"] { background: #fde2e1; color: #7f1d1d; }
.badge[data-state="in_review"], .badge[data-state="details_needed"] { background: #fff4d6; color: #713f12; }
ul { margin: .25rem 0 .5rem; padding-left: 1.25rem; }
li.past-due { color: #7f1d1d; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e3e6ea; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.row { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; }
label { display: flex; flex-direction: column; gap: .2rem; font-weight: 600; font-size: .9rem; }
input, select { font: inherit; padding: .45rem .5rem; border: 1px solid #9aa5b1; border-radius: 6px;
  min-width: 0; height: 2.5rem; background: #fff; }
input { width: 9rem; }
button { font: inherit; padding: .5rem .9rem; min-height: 2.5rem; border-radius: 6px; border: 1px solid #1d4ed8;
  background: #1d4ed8; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #1d4ed8; }
button:disabled { opacity: .6; cursor: progress; }
button:focus-visible, input:focus-visible, select:focus-visible, a:focus-visible {
  outline: 3px solid #f59e0b; outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; margin: .75rem 0; }
.notice { padding: .6rem .75rem; border-radius: 6px; background: #eef2ff; margin: .5rem 0; }
.notice:empty { display: none; }
.error { padding: .6rem .75rem; border-radius: 6px; background: #fde2e1; color: #7f1d1d; margin: .5rem 0; }
.error[hidden], [hidden] { display: none !important; }
.muted { color: #52606d; font-size: .9rem; }
.switch { flex-direction: row; align-items: center; gap: .6rem; font-size: 1rem; margin: .5rem 0; cursor: pointer; }
.switch input { appearance: none; position: relative; flex: none; width: 2.75rem; height: 1.5rem; margin: 0;
  padding: 0; border: 0; border-radius: 999px; background: #7b8794; cursor: pointer; transition: background .15s; }
.switch input::before { content: ""; position: absolute; top: .2rem; left: .2rem; width: 1.1rem; height: 1.1rem;
  border-radius: 50%; background: #fff; transition: transform .15s; }
.switch input:checked { background: #1d4ed8; }
.switch input:checked::before { transform: translateX(1.25rem); }
.switch .state { font-weight: 400; color: #52606d; }
ul.payments { list-style: none; padding: 0; margin: .5rem 0; }
ul.payments li { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; justify-content: space-between;
  padding: .6rem 0; border-bottom: 1px solid #e3e6ea; }
ul.payments li:first-child { border-top: 1px solid #e3e6ea; }
ul.payments li.failed { background: #fde2e1; color: #7f1d1d; padding: .6rem .5rem; border-radius: 6px; }
ul.payments li.failed [role="note"] { font-size: .9rem; }
.schedule-form select, .schedule-form input { width: auto; }
.payment-amount { font-weight: 600; font-variant-numeric: tabular-nums; }
/* Money that comes back (money-back.mjs). */
.split { font-size: .9rem; }
.badge[data-state="disputed"] { background: #fde2e1; color: #7f1d1d; margin-left: .4rem; font-size: .8rem; }
.debt { background: #fff4d6; color: #713f12; font-weight: 600; }
`;

/** @type {CSSStyleSheet | null} */
let sheet = null;

/** The element's one stylesheet, built once (the first element on the page builds it). */
export function payoutsStyleSheet() {
  if (sheet === null) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}
