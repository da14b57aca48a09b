// cue.js: the cue when a new alarm appears: the alarms panel flashes, the tab title counts the
// alarms, and (unless switched off) a short two-tone beep plays. Browsers start audio only after
// a user gesture, so the AudioContext is made on the first click or key press on the page.
// Main thread only.

const TITLE = 'tolk technician';
const STORE_KEY = 'tolk.tech.sound';

export class AlarmCue {
  constructor(section, button) {
    this.section = section;
    this.button = button;
    this.ctx = null;
    this.cues = 0; // how many times it fired (tests read data-cues)
    let stored = null;
    try { stored = globalThis.localStorage?.getItem(STORE_KEY); } catch (error) { /* storage off */ }
    this.sound = stored !== 'off';
    this.#showSound();
    button.addEventListener('click', () => {
      this.sound = !this.sound;
      try { globalThis.localStorage?.setItem(STORE_KEY, this.sound ? 'on' : 'off'); } catch (error) { /* storage off */ }
      this.#showSound();
      if (this.sound) this.#beep();
    });
    const prime = () => this.#prime();
    document.addEventListener('pointerdown', prime, { capture: true });
    document.addEventListener('keydown', prime, { capture: true });
  }

  // count: active alarms; fresh: how many of them are new.
  update(count, fresh) {
    document.title = count > 0 ? `(${count}) ALARM · ${TITLE}` : TITLE;
    if (fresh <= 0) return;
    this.cues += 1;
    this.section.dataset.cues = String(this.cues);
    this.section.classList.remove('flash');
    void this.section.offsetWidth; // restart the animation
    this.section.classList.add('flash');
    if (this.sound) this.#beep();
  }

  #showSound() {
    this.button.setAttribute('aria-pressed', String(this.sound));
    this.button.textContent = `Sound: ${this.sound ? 'on' : 'off'}`;
  }

  #prime() {
    if (this.ctx || !globalThis.AudioContext) return;
    try {
      this.ctx = new AudioContext();
    } catch (error) {
      this.ctx = null;
    }
  }

  #beep() {
    const ctx = this.ctx;
    if (!ctx) return;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime + 0.02;
    [[880, 0], [660, 0.18], [880, 0.36]].forEach(([hz, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0, t0 + at);
      gain.gain.linearRampToValueAtTime(0.25, t0 + at + 0.01);
      gain.gain.setValueAtTime(0.25, t0 + at + 0.13);
      gain.gain.linearRampToValueAtTime(0, t0 + at + 0.15);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.16);
    });
  }
}
