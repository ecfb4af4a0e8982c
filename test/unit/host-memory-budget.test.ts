import { strict as assert } from 'node:assert';
import { ErrorCode, type ScriptError } from '../../runtime/errors.ts';
import { HostMemoryBudget } from '../../runtime/instances/host-memory-budget.ts';

describe('HostMemoryBudget (scripts.hostMemoryMb)', () => {
  it('admits up to the budget; the first refusal tells the owner once, after the asking call; nothing is admitted after', async () => {
    let held = 0;
    const exceeded: ScriptError[] = [];
    const budget = new HostMemoryBudget('app/inst', 1000, () => held, (error) => exceeded.push(error));
    try {
      assert.equal(budget.admit(600), true);
      held = 600;
      assert.equal(budget.admit(400), true, 'exactly the budget fits');
      assert.equal(budget.admit(401), false);
      assert.equal(exceeded.length, 0, 'not from inside the asking call');
      await Promise.resolve();
      assert.equal(exceeded.length, 1);
      assert.equal(exceeded[0]!.code, ErrorCode.ScriptHostMemory);
      assert.match(exceeded[0]!.message, /app\/inst.*scripts\.hostMemoryMb/);
      held = 0;
      assert.equal(budget.admit(1), false, 'the instance is going: nothing more');
      await Promise.resolve();
      assert.equal(exceeded.length, 1, 'told once');
    } finally {
      budget.stop();
    }
  });

  it('notices growth nobody asked about (queues, buffers) within a second', async function () {
    this.timeout(5000);
    let held = 0;
    const told = new Promise<ScriptError>((resolve) => {
      const budget = new HostMemoryBudget('app/inst', 1000, () => held, (error) => {
        budget.stop();
        resolve(error);
      });
    });
    held = 5000; // an outbound queue filled up
    assert.equal((await told).code, ErrorCode.ScriptHostMemory);
  });
});
