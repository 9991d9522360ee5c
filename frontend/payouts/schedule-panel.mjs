// Payout schedule in <connect-payouts>: in words for everyone; for owners and admins the form
// that changes it (Manual, Daily, Weekly on a weekday, Monthly on a day).
import { describeSchedule } from "../history-words.mjs";
import { h } from "./dom.mjs";

const INTERVALS = [
  ["manual", "Manual"],
  ["daily", "Daily"],
  ["weekly", "Weekly"],
  ["monthly", "Monthly"],
];
const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/**
 * @param {import("../backend-types.mjs").StatusReply} status
 * @param {object} options
 * @param {boolean} options.canManage
 * @param {(input: import("../backend-types.mjs").PayoutScheduleInput) => void} options.onSave
 * @returns {Node[]}
 */
export function schedulePanel(status, { canManage, onSave }) {
  const parts = [
    h("h3", {}, "Payout schedule"),
    h("p", { "data-testid": "payout-schedule" }, describeSchedule(status)),
  ];
  if (!canManage) return parts;
  const interval = /** @type {HTMLSelectElement} */ (
    h("select", { name: "schedule-interval", "aria-label": "Pay out" }, ...INTERVALS.map(([value, label]) => h("option", { value }, label)))
  );
  interval.value = status.payout_schedule_interval;
  const weekday = /** @type {HTMLSelectElement} */ (
    h(
      "select",
      { name: "schedule-weekday", "aria-label": "Day of the week" },
      ...WEEKDAYS.map((d) => h("option", { value: d }, d[0].toUpperCase() + d.slice(1))),
    )
  );
  weekday.value = status.payout_schedule_weekly_anchor ?? "monday";
  const monthDay = /** @type {HTMLInputElement} */ (
    h("input", {
      name: "schedule-day",
      "aria-label": "Day of the month",
      type: "number",
      min: "1",
      max: "31",
      value: String(status.payout_schedule_monthly_anchor ?? 1),
    })
  );
  const weekdayLabel = h("label", {}, "Day of the week", weekday);
  const monthDayLabel = h("label", {}, "Day of the month", monthDay);
  const showAnchors = () => {
    weekdayLabel.hidden = interval.value !== "weekly";
    monthDayLabel.hidden = interval.value !== "monthly";
  };
  interval.addEventListener("change", showAnchors);
  showAnchors();
  parts.push(
    h(
      "form",
      {
        class: "schedule-form",
        onsubmit: (event) => {
          event.preventDefault();
          const chosen = /** @type {"manual" | "daily" | "weekly" | "monthly"} */ (interval.value);
          onSave({
            interval: chosen,
            weeklyAnchor: chosen === "weekly" ? weekday.value : undefined,
            monthlyAnchor: chosen === "monthly" ? Number(monthDay.value) : undefined,
          });
        },
      },
      h(
        "div",
        { class: "row" },
        h("label", {}, "Pay out", interval),
        weekdayLabel,
        monthDayLabel,
        h("button", { type: "submit", class: "secondary" }, "Save schedule"),
      ),
    ),
  );
  return parts;
}
