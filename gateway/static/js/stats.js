// Counters the tests and `iomt bench dashboard` read from the page (window.iomtStats).
export const stats = window.iomtStats = {
  waves: 0, drawn: 0, alertsShown: 0, wsMessages: 0, wsMs: 0, refreshMs: 0, parseMs: 0, alertMs: 0, drawMs: 0,
  vitals: 0, backfilled: 0, tones: 0, escalated: 0, stationPolls: 0,
};
