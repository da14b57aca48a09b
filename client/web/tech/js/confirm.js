// confirm.js: press-and-hold confirmation for the controls that cut a language (force fallback,
// mute). The action runs only after the button has been held down for holdMs, by the pointer
// or by Enter/Space; letting go earlier, leaving the button, the window losing focus or the
// page being hidden cancels it. A stray click or a double click does nothing. While held the
// button carries the class `holding` and the CSS variable --hold-ms (for a fill animation).
// Main thread only.

export const HOLD_MS = 1000;
const KEYS = new Set(['Enter', ' ']);

export class HoldToConfirm {
  // env (tests): win, doc, setTimeout, clearTimeout.
  constructor(button, onConfirm, { holdMs = HOLD_MS, env = {} } = {}) {
    this.button = button;
    this.onConfirm = onConfirm;
    this.holdMs = holdMs;
    this.enabled = true;
    this.timer = 0;
    this.holding = false;
    const g = globalThis;
    this.env = {
      win: env.win ?? g,
      doc: env.doc ?? g.document,
      setTimeout: env.setTimeout ?? g.setTimeout.bind(g),
      clearTimeout: env.clearTimeout ?? g.clearTimeout.bind(g),
    };
    button.style?.setProperty?.('--hold-ms', `${holdMs}ms`);
    const cancel = () => this.cancel();
    button.addEventListener('pointerdown', (e) => {
      if (e.button !== undefined && e.button !== 0) return;
      e.preventDefault?.();
      this.#start();
    });
    for (const type of ['pointerup', 'pointerleave', 'pointercancel']) button.addEventListener(type, cancel);
    button.addEventListener('contextmenu', (e) => e.preventDefault?.()); // long press on touch screens
    button.addEventListener('keydown', (e) => {
      if (!KEYS.has(e.key)) return;
      e.preventDefault?.(); // no click from the key
      if (!e.repeat) this.#start();
    });
    button.addEventListener('keyup', (e) => { if (KEYS.has(e.key)) cancel(); });
    button.addEventListener('click', (e) => e.preventDefault?.());
    button.addEventListener('blur', cancel);
    this.env.win?.addEventListener?.('blur', cancel);
    this.env.doc?.addEventListener?.('visibilitychange', () => { if (this.env.doc.visibilityState === 'hidden') cancel(); });
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) this.cancel();
  }

  cancel() {
    if (!this.holding) return;
    this.env.clearTimeout(this.timer);
    this.holding = false;
    this.button.classList?.remove('holding');
  }

  #start() {
    if (!this.enabled || this.holding) return;
    this.holding = true;
    this.button.classList?.add('holding');
    this.timer = this.env.setTimeout(() => {
      this.holding = false;
      this.button.classList?.remove('holding');
      this.onConfirm();
    }, this.holdMs);
  }
}
