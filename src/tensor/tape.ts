/**
 * tfjs's reverse pass (`engine.gradients` with `getFilteredNodesXToY` and
 * `backpropagateGradients` of tfjs-core 4.22's engine.ts and tape.ts,
 * Apache-2.0), written out here with one change: how the contributions to
 * a tensor's gradient are added up is the caller's (`accumulate`).
 *
 * Why: a tensor used k times gets its gradient as k contributions, and tfjs
 * adds them with one `Add` kernel each. On WebGPU that was ~160 of the
 * EGNN training step's 792 kernels. Through `accumulate`, the kernel that
 * made a contribution can take the running sum as one more input and add it
 * itself (src/tensor/accumulate.ts); the kernel it replaces then has no
 * reader and the captured step drops it (src/tensor/replay.ts). tfjs passes
 * its `add` into the pass as an argument, but exports neither the pass nor
 * the filter, so both are here, line for line but for `accumulate`.
 *
 * The engine's tape, scopes and gradient depth are used as tfjs uses them,
 * so gradients nest (second order) and free their saved tensors as before.
 */
import * as tf from '@tensorflow/tfjs-core';

/** What tfjs's engine records per kernel while a tape is active (tfjs-core's TapeNode). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}

/** The parts of tfjs's Engine the pass uses. */
interface EngineLike {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<R>(start: () => void, end: () => void, f: () => R): R;
  startTape(): void;
  endTape(): void;
  tidy<R extends tf.TensorContainer>(name: string, f: () => R): R;
  tidy<R extends tf.TensorContainer>(f: () => R): R;
}

/** Adds a new contribution `dx` to the gradient so far, `sum` (tfjs: `add(sum, dx)`). */
export type Accumulate = (sum: tf.Tensor, dx: tf.Tensor) => tf.Tensor;

/**
 * `engine.gradients(f, xs, dy, true)` with contributions added by `accumulate`: the value of f and, per
 * input, its gradient (undefined where f does not depend on it).
 */
export function gradients(f: () => tf.Tensor, xs: readonly tf.Tensor[], dy: tf.Tensor | undefined, accumulate: Accumulate): { value: tf.Tensor; grads: (tf.Tensor | undefined)[] } {
  const engine = tf.engine() as unknown as EngineLike;
  if (dy !== undefined && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
  const filtered = nodesFromXToY(engine.state.activeTape ?? [], xs, y);
  return engine.tidy('backward', () => {
    const acc: Record<number, tf.Tensor> = { [y.id]: dy ?? tf.ones(y.shape) };
    backpropagate(acc, filtered, (g) => engine.tidy(g), accumulate);
    const grads = xs.map((x) => acc[x.id] as tf.Tensor | undefined);
    if (engine.state.gradientDepth === 0) {
      // Not inside another gradient: the tape and what it saved for backprop are done.
      for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
    }
    return { value: y, grads: grads as tf.Tensor[] };
  });
}

/** The nodes on a path from some x to y, in tape order, with inputs not computed from an x pruned (tfjs's getFilteredNodesXToY). */
function nodesFromXToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      for (const o of node.outputs) fromX.add(o.id);
      nodesFromX.add(node.id);
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const t of Object.values(node.inputs)) toY.add(t.id);
      nodesToY.add(node.id);
    }
  }
  return tape
    .filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({ ...node, inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))), outputs: node.outputs }));
}

/** Walks the nodes backward, keeping each tensor's gradient in `acc` (tfjs's backpropagateGradients). */
function backpropagate(acc: Record<number, tf.Tensor>, nodes: readonly TapeNode[], tidy: (f: () => tf.Tensor) => tf.Tensor, accumulate: Accumulate): void {
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    // An output off the path to y gets a null dy.
    const dys = node.outputs.map((o) => acc[o.id] ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients).join(',')}.`);
      const dx = tidy(() => inputGradients[name]());
      if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      const x = node.inputs[name];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape.join(',')}', which does not match the shape of the input '${x.shape.join(',')}'`);
      }
      const sum = acc[x.id];
      if (sum === undefined) {
        acc[x.id] = dx;
      } else {
        acc[x.id] = accumulate(sum, dx);
        sum.dispose();
      }
    }
  }
}
