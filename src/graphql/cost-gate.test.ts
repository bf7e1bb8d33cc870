import { describe, expect, it } from 'vitest';
import { FREE_COST, createCostGate } from './cost-gate.js';

describe('the GraphQL cost gate', () => {
  it('runs queries while their costs fit, queues the next in order, and starts it on release', async () => {
    const gate = createCostGate(1_000, 5_000);
    const a = await gate.acquire(600);
    const b = await gate.acquire(400);
    expect(gate.state()).toEqual({ inFlight: 1_000, waiting: 0 });
    const started: string[] = [];
    const c = gate.acquire(500).then((r) => (started.push('c'), r));
    const d = gate.acquire(200).then((r) => (started.push('d'), r));
    await Promise.resolve();
    expect(gate.state().waiting).toBe(2);
    a();
    a(); // a second release gives nothing back twice
    const releaseC = await c;
    expect(started).toEqual(['c']);
    // d (200) does not fit beside b (400) and c (500): it waits for b.
    expect(gate.state()).toEqual({ inFlight: 900, waiting: 1 });
    b();
    const releaseD = await d;
    expect(started).toEqual(['c', 'd']);
    expect(gate.state()).toEqual({ inFlight: 700, waiting: 0 });
    releaseC();
    releaseD();
    expect(gate.state()).toEqual({ inFlight: 0, waiting: 0 });
  });

  it('lets cheap queries through whatever is in flight, and a query over the capacity run alone', async () => {
    const gate = createCostGate(1_000, 5_000);
    const big = await gate.acquire(50_000);
    expect(gate.state().inFlight).toBe(1_000);
    const cheap = await gate.acquire(FREE_COST);
    cheap();
    big();
    expect(gate.state().inFlight).toBe(0);
  });

  it('gives up after the wait with 503 SERVER_BUSY and Retry-After', async () => {
    const gate = createCostGate(1_000, 20);
    const held = await gate.acquire(1_000);
    await expect(gate.acquire(500)).rejects.toMatchObject({ code: 'SERVER_BUSY', status: 503 });
    expect(gate.state()).toEqual({ inFlight: 1_000, waiting: 0 });
    held();
  });
});
