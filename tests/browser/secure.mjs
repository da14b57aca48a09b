// secure.mjs — browser.secure: the listener page on http://127.0.0.1 (a secure context) plays each
// channel's tone through WebCodecs + AudioWorklet, switches without reconnecting.
// Usage: node secure.mjs PATH/TO/tolk-server
import { channelScenario } from './channels.mjs';
import { runTest } from './harness.mjs';

runTest('browser.secure', () => channelScenario({ secure: true, binary: process.argv[2] }));
