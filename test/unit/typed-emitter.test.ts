import { strict as assert } from 'node:assert';
import { TypedEmitter } from '../../runtime/common/typed-emitter.ts';

type Events = { tick: [n: number]; other: [] };

class Probe extends TypedEmitter<Events> {
  errors: unknown[] = [];
  constructor() {
    super();
    this.listenerError = (error) => this.errors.push(error);
  }
  fire(n: number): void {
    this.emit('tick', n);
  }
}

describe('TypedEmitter', () => {
  it('calls listeners in registration order with the arguments', () => {
    const e = new Probe();
    const seen: string[] = [];
    e.on('tick', (n) => seen.push(`a${n}`));
    e.on('tick', (n) => seen.push(`b${n}`));
    e.fire(1);
    e.fire(2);
    assert.deepEqual(seen, ['a1', 'b1', 'a2', 'b2']);
  });

  it('once fires once, and off(original) removes a once registration', () => {
    const e = new Probe();
    let a = 0;
    let b = 0;
    e.once('tick', () => a++);
    const l = () => b++;
    e.once('tick', l);
    e.off('tick', l);
    e.fire(1);
    e.fire(2);
    assert.equal(a, 1);
    assert.equal(b, 0);
  });

  it('an emit sees the listeners of when it started (added/removed during it: next emit)', () => {
    const e = new Probe();
    const seen: string[] = [];
    const late = () => seen.push('late');
    const second = () => seen.push('second');
    e.on('tick', () => {
      seen.push('first');
      e.on('tick', late);
      e.off('tick', second);
    });
    e.on('tick', second);
    e.fire(1);
    assert.deepEqual(seen, ['first', 'second']);
    seen.length = 0;
    e.off('tick', late); // the first listener adds it again during this emit
    e.fire(2);
    assert.deepEqual(seen, ['first']);
  });

  it('off removes one registration, the most recent, of a listener added twice', () => {
    const e = new Probe();
    let n = 0;
    const l = () => n++;
    e.on('tick', l);
    e.on('tick', l);
    e.off('tick', l);
    e.fire(1);
    assert.equal(n, 1);
    e.off('tick', l);
    e.off('tick', l); // nothing left: no-op
    e.fire(2);
    assert.equal(n, 1);
  });

  it('a throwing listener goes to listenerError and the others still run', () => {
    const e = new Probe();
    let after = 0;
    e.on('tick', () => {
      throw new Error('boom');
    });
    e.on('tick', () => after++);
    e.fire(1);
    assert.equal(after, 1);
    assert.equal((e.errors[0] as Error).message, 'boom');
  });
});
