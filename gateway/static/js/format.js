// Formatting: times with their date, values with their precision, alarm labels for people.
export const PRIORITY_RANK = {high: 0, medium: 1, low: 2, info: 3};

const pad = n => String(n).padStart(2, "0");

export function dateTime(us) {
  const d = new Date(us / 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}` +
    `:${pad(d.getSeconds())}`;
}

export function clockTime(us) {
  const d = new Date(us / 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function value(v, decimals = 0) {
  return v === null || v === undefined ? "—" : Number(v).toFixed(decimals);
}

const NAMES = {
  news2_low_medium: "NEWS2 single red 3", news2_medium: "NEWS2 medium", news2_high: "NEWS2 high",
  lead_off: "Lead off", flat_line: "Flat line (check patient)", saturation: "Signal clipped",
  motion_artifact: "Motion artifact", device_removed: "Device removed", battery_low: "Battery low",
  battery_critical: "Battery critical", no_data: "No data", edge_offline: "Not analysed: edge offline",
  vitals_risk_low_medium: "Vitals model: low-medium risk", vitals_risk_medium: "Vitals model: medium risk",
  vitals_risk_high: "Vitals model: high risk", emotion_not_analysed: "Emotion not analysed",
  vitals_not_analysed: "Vitals model not analysed", fall_not_analysed: "Fall not analysed (sensor placement)",
  possible_fall: "Possible fall: signal lost after impact",
  hr: "HR", spo2: "SpO₂", bp_sys: "NIBP sys", bp_dia: "NIBP dia", resp_rate: "RR", temp_c: "Temp",
};

export function label(text) {
  if (NAMES[text]) return NAMES[text];
  const m = /^(hr|spo2|bp_sys|bp_dia|resp_rate|temp_c)_(extreme_)?(low|high)$/.exec(text);
  if (m) return `${NAMES[m[1]]} ${m[2] ? "extreme " : ""}${m[3]}`;
  return text.replaceAll("_", " ");
}

// How a value stands against its limits (the same rule as the gateway's, without the deadband).
export function limitStatus(v, limits) {
  if (v === null || v === undefined || !limits) return "unknown";
  if (limits.extreme_high !== null && v > limits.extreme_high) return "extreme_high";
  if (limits.extreme_low !== null && v < limits.extreme_low) return "extreme_low";
  if (limits.high !== null && v > limits.high) return "high";
  if (limits.low !== null && v < limits.low) return "low";
  return "normal";
}
