// insecure.mjs — browser.insecure: the listener page on http://tolk.test (mapped to loopback, so not a
// secure context, like a phone on venue Wi-Fi) plays each channel's tone through the WASM decoder +
// AudioBufferSourceNodes, switches without reconnecting.
// Usage: node insecure.mjs PATH/TO/tolk-server
import { channelScenario } from './channels.mjs';
import { runTest } from './harness.mjs';

runTest('browser.insecure', () => channelScenario({ secure: false, binary: process.argv[2] }));
