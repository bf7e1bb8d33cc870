import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { API_LOAD_MESSAGE, apiLoadFromParent } from './api-load.js';

describe("the API's load as the background child reads it", () => {
  it('is busy when the API has work and the cores are past the threshold, and only for a second', () => {
    const parent = new EventEmitter();
    const report = (utilization: unknown, machineBusy: unknown) =>
      parent.emit('message', { type: API_LOAD_MESSAGE, utilization, machineBusy });
    let clock = 0;
    const load = apiLoadFromParent({ utilization: 0.1, machineBusy: 0.8 }, parent, () => clock);
    expect(load.busy()).toBe(false); // no report yet
    report(0.5, 0.95);
    expect(load.busy()).toBe(true);
    report(0.05, 0.95); // the cores are busy with something other than requests
    expect(load.busy()).toBe(false);
    report(0.5, 0.6); // requests, but cores to spare
    expect(load.busy()).toBe(false);
    report(0.5, 0.95);
    clock += 999;
    expect(load.busy()).toBe(true);
    clock += 1; // the reports stopped
    expect(load.busy()).toBe(false);
    // Malformed reports and other messages change nothing.
    report(0.5, 0.95);
    report('high', 0.95);
    report(0.5, Number.NaN);
    parent.emit('message', { type: 'something else' });
    parent.emit('message', null);
    expect(load.busy()).toBe(true);
  });
});
