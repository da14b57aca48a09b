// relay.js: what the interpreter hears, the relay feed: the listener page's Player and
// Connection on /listen?channel=ID, every decoded (or concealed) frame run through the
// hearing-protection chain (volume, bass, treble, limiter) before the output. The Player's own
// volume stays at 1 so nothing after the limiter raises the level. Main thread only.

import { Player } from '../player.js';
import { Connection } from '../connection.js';
import { RelayChain } from './limiter.js';

export function limiterOptions(limiter) {
  return {
    peakDbfs: Number.isFinite(limiter?.peak_dbfs) ? limiter.peak_dbfs : -6,
    averageDbfs: Number.isFinite(limiter?.average_dbfs) ? limiter.average_dbfs : -20,
    averageMs: Number.isFinite(limiter?.average_ms) ? limiter.average_ms : 1000,
  };
}

export class RelayFeed {
  // handlers: onState(msg) (the relayed channel's listener `state`), onStatus({state}),
  // onFailed(error).
  constructor({ frameMs = 20, limiter = null, handlers = {} } = {}) {
    this.frameMs = frameMs;
    this.handlers = handlers;
    this.chain = new RelayChain(limiterOptions(limiter));
    this.player = null;
    this.connection = null;
    this.channel = null; // what the desk hears, from the server's booth state
    this.playing = false;
  }

  configure(limiter) {
    this.chain.configure(limiterOptions(limiter));
  }

  // Call inside a user gesture (the login or Headphones button): the AudioContext starts there.
  start() {
    if (this.player) return Promise.resolve();
    const player = new Player({ frameMs: this.frameMs, process: (pcm) => this.chain.process(pcm) });
    this.player = player;
    const started = player.start();
    if (!this.connection) {
      this.connection = new Connection({
        onState: (msg) => this.handlers.onState?.(msg),
        onStatus: (status) => this.handlers.onStatus?.(status),
      });
    }
    if (this.channel) this.connection.select(this.channel);
    else this.connection.open();
    return started.then(() => {
      if (this.player !== player) return;
      this.playing = true;
      this.connection.attach(player);
    }, (error) => {
      if (this.player === player) this.player = null;
      this.handlers.onFailed?.(error);
      throw error;
    });
  }

  async stop() {
    const player = this.player;
    this.player = null;
    this.playing = false;
    this.connection?.detach();
    this.connection?.unselect();
    if (player) await player.stop().catch(() => {});
  }

  select(id) {
    if (!id || id === this.channel) return;
    this.channel = id;
    if (this.player) this.connection.select(id);
  }

  setVolume(gain) { this.chain.setVolume(gain); }
  setBass(db) { this.chain.setBass(db); }
  setTreble(db) { this.chain.setTreble(db); }

  get analyser() {
    return this.player?.analyser ?? null;
  }
}
