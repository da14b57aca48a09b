// hold.js: a press-and-hold control (the cough key). onChange(true) when pressed, by the pointer
// on the button or by holding Space anywhere on the page outside a text field; onChange(false)
// once on release: pointerup, pointercancel, lost pointer capture, Space up, the window losing
// focus or the page being hidden. Space never also clicks the focused button. Main thread only.

const KEY = ' ';

function isTextField(target) {
  const tag = target?.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target?.isContentEditable === true;
}

export class HoldButton {
  // win/doc: the window and document to listen on (tests pass stand-ins).
  constructor(button, onChange, { win = globalThis, doc = globalThis.document } = {}) {
    this.button = button;
    this.onChange = onChange;
    this.pressed = false;
    this.pointer = null; // pointerId holding it
    this.key = false; // Space holding it
    this.enabled = true;
    const release = () => this.#set(false, true);
    button.addEventListener('pointerdown', (e) => this.#pointerDown(e));
    for (const type of ['pointerup', 'pointercancel', 'lostpointercapture']) {
      button.addEventListener(type, (e) => {
        if (this.pointer === null || e.pointerId === this.pointer) this.#pointerUp();
      });
    }
    button.addEventListener('contextmenu', (e) => e.preventDefault()); // long press on touch screens
    doc.addEventListener('keydown', (e) => this.#keyDown(e));
    doc.addEventListener('keyup', (e) => this.#keyUp(e));
    win.addEventListener('blur', release);
    doc.addEventListener('visibilitychange', () => { if (doc.visibilityState === 'hidden') release(); });
  }

  // Disabled (not connected, no desk): releases if held.
  setEnabled(enabled) {
    this.enabled = enabled;
    if (!enabled) this.#set(false, true);
  }

  release() {
    this.#set(false, true);
  }

  #pointerDown(e) {
    if (!this.enabled || (e.button !== undefined && e.button !== 0)) return;
    e.preventDefault();
    this.pointer = e.pointerId ?? null;
    try { this.button.setPointerCapture?.(e.pointerId); } catch (error) { /* pointer already gone */ }
    this.#set(true);
  }

  #pointerUp() {
    this.pointer = null;
    if (!this.key) this.#set(false);
  }

  #keyDown(e) {
    if (e.key !== KEY || isTextField(e.target) || !this.enabled) return;
    e.preventDefault(); // no page scroll, no click of a focused button
    if (e.repeat || this.key) return;
    this.key = true;
    this.#set(true);
  }

  #keyUp(e) {
    if (e.key !== KEY) return;
    if (!this.key) return;
    e.preventDefault();
    this.key = false;
    if (this.pointer === null) this.#set(false);
  }

  #set(pressed, all = false) {
    if (all) {
      this.key = false;
      this.pointer = null;
    }
    if (pressed === this.pressed) return;
    this.pressed = pressed;
    this.button.setAttribute?.('aria-pressed', String(pressed));
    this.onChange(pressed);
  }
}
