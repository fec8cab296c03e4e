// Optional audible alarm tones with Web Audio, off by default (a toggle, remembered in this browser).
// Pulse patterns after IEC 60601-1-8: high priority 10 pulses, medium 3, low 2 (pitch falls with priority).
import {$} from "./api.js";
import {stats} from "./stats.js";

const PATTERNS = {high: {pulses: 10, hz: 880}, medium: {pulses: 3, hz: 660}, low: {pulses: 2, hz: 440}};
let audio = null;
let enabled = localStorage.getItem("iomt-tone") === "on";

export function toneOn() { return enabled; }

function render() {
  const b = $("#tone");
  b.setAttribute("aria-pressed", String(enabled));
  b.textContent = `Tone: ${enabled ? "on" : "off"}`;
}

export function initTone() {
  render();
  $("#tone").onclick = () => {
    enabled = !enabled;
    localStorage.setItem("iomt-tone", enabled ? "on" : "off");
    if (enabled && !audio) audio = new AudioContext();  // created on a click, so the browser lets it play
    render();
  };
}

export function sound(priority) {
  const p = PATTERNS[priority];
  if (!enabled || !p) return false;
  if (!audio) audio = new AudioContext();
  const t0 = audio.currentTime + 0.02;
  for (let i = 0; i < p.pulses; i++) {
    const osc = audio.createOscillator(), gain = audio.createGain();
    osc.frequency.value = p.hz;
    gain.gain.setValueAtTime(0.0001, t0 + i * 0.2);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.2 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.2 + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + i * 0.2); osc.stop(t0 + i * 0.2 + 0.16);
  }
  stats.tones++;
  return true;
}
