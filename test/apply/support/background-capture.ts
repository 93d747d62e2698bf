/*
 * Capture in the background of a test, as the demo runs it: the stream poller reading continuously
 * into the landing area, drained after each phase of writes (src/local/demo-capture.ts).
 */
export { BackgroundCapture, type BackgroundCaptureOptions } from '../../../src/local/demo-capture.ts';
