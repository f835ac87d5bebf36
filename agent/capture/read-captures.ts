// The capture reader the rest of Umbra uses (`umbra analyze`, tests): the pure
// TypeScript streaming reader of reader.ts, chosen over libpcap-reader.ts because
// test/agent/capture/readers-identical.test.ts shows it yields the same packets on
// every fixture and bench/capture-read.ts shows it faster.
export { readCapture, readCaptures, CaptureFileReader, type CaptureSummary, type OnPacket, type ReadOptions } from './reader.js';
