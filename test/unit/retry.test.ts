import { expect } from 'chai';
import { Backoff, SingleFlight } from '../../src/retry.js';
import { FakeClock, settle } from '../support/fake-clock.js';

/** A job whose runs the spec finishes by hand. */
function gatedJob() {
  const runs: string[] = [];
  const gates: Array<() => void> = [];
  const job = (arg: string) =>
    new Promise<void>((resolve) => {
      runs.push(arg);
      gates.push(resolve);
    });
  return { runs, job, finish: async () => (gates.shift()!(), await settle()) };
}

describe('single flight', () => {
  it('starts the first run at once', () => {
    const { runs, job } = gatedJob();
    void new SingleFlight(job).run('a');
    expect(runs).to.deep.equal(['a']);
  });

  it('turns requests made during a run into one more run, with the latest argument', async () => {
    const { runs, job, finish } = gatedJob();
    const flight = new SingleFlight(job);
    void flight.run('start');
    void flight.run('event 1');
    void flight.run('event 2');
    expect(runs).to.deep.equal(['start']);
    await finish();
    expect(runs).to.deep.equal(['start', 'event 2']);
    await finish();
    expect(flight.busy()).to.equal(false);
  });

  it('settles a request only after a run that started after it', async () => {
    const { job, finish } = gatedJob();
    const flight = new SingleFlight(job);
    void flight.run('first');
    let settled = false;
    void flight.run('second').then(() => (settled = true));
    await finish();
    expect(settled).to.equal(false);
    await finish();
    expect(settled).to.equal(true);
  });

  it('runs different keys side by side, one at a time each', async () => {
    const { runs, job, finish } = gatedJob();
    const flight = new SingleFlight(job, (id) => id.split(':')[0]!);
    void flight.run('a:1');
    void flight.run('b:1');
    void flight.run('a:2');
    expect(runs).to.deep.equal(['a:1', 'b:1']);
    await finish();
    expect(runs).to.deep.equal(['a:1', 'b:1', 'a:2']);
  });
});

describe('backoff', () => {
  it('waits minMs, then doubles up to maxMs, and starts over after a success', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock, 500, 2000);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      waits.push(backoff.retry(() => undefined));
      await clock.advance(backoff.nextMs);
    }
    expect(waits).to.deep.equal([500, 1000, 2000, 2000]);
    backoff.reset();
    expect(backoff.retry(() => undefined)).to.equal(500);
  });

  it('keeps one retry waiting however many failures ask for one', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock, 100, 1000);
    let runs = 0;
    for (let i = 0; i < 3; i++) backoff.retry(() => runs++);
    expect(clock.pending()).to.deep.equal([100]);
    await clock.advance(100);
    expect(runs).to.equal(1);
    expect(backoff.nextMs).to.equal(200);
  });

  it('runs nothing once cancelled', async () => {
    const clock = new FakeClock();
    const backoff = new Backoff(clock, 100, 1000);
    let runs = 0;
    backoff.retry(() => runs++);
    backoff.cancel();
    await clock.advance(1000);
    expect(runs).to.equal(0);
  });
});
