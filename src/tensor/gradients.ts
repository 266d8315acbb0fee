/**
 * Gradients of the taped kernels (KERNELS.taped), registered with tfjs.
 *
 * tfjs-core ships no registered gradients in its Node bundle (they live in the
 * umbrella @tensorflow/tfjs package, which pita does not use), so pita
 * registers its own. Rules that make every order of differentiation correct:
 * - a gradient saves INPUTS only, never outputs (tfjs#3252: a saved output is
 *   cloned onto the tape before the node that produces it, so the tape cannot
 *   link it back to the input and higher-order gradients silently lose terms);
 * - a gradient is built only from taped kernels (kernels.ts), so the backward
 *   pass is itself differentiable;
 * - shape-only gradients read shapes from kernel attributes (kernels.ts) and
 *   save nothing;
 * - a gradient thunk always returns a fresh tensor, never `dy` itself.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FUSED_GRADIENT } from './fused-op.js';
import * as k from './kernels.js';

type T = tf.Tensor;

function shapeAttr(attrs: tf.NamedAttrMap | undefined, name: string, kernel: string): number[] {
  const s = attrs?.[name];
  if (!Array.isArray(s)) {
    throw new Error(
      `${kernel} gradient: attribute '${name}' (input shape) is missing; this kernel must be run through src/tensor/kernels.ts`,
    );
  }
  return s as number[];
}

function inversePerm(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

const configs: tf.GradConfig[] = [
  {
    // tfjs's own gradient accumulation also runs Add, without attributes, on
    // equal shapes; then dy already has both input shapes.
    kernelName: 'Add',
    gradFunc: (dy, _saved, attrs) => ({
      a: () => k.reduceToShape(dy as T, (attrs?.aShape as number[] | undefined) ?? (dy as T).shape),
      b: () => k.reduceToShape(dy as T, (attrs?.bShape as number[] | undefined) ?? (dy as T).shape),
    }),
  },
  {
    kernelName: 'Sub',
    gradFunc: (dy, _saved, attrs) => ({
      a: () => k.reduceToShape(dy as T, shapeAttr(attrs, 'aShape', 'Sub')),
      b: () => k.neg(k.reduceToShape(dy as T, shapeAttr(attrs, 'bShape', 'Sub'))),
    }),
  },
  {
    kernelName: 'Multiply',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => k.reduceToShape(k.mul(dy as T, b), a.shape),
      b: () => k.reduceToShape(k.mul(dy as T, a), b.shape),
    }),
  },
  {
    kernelName: 'RealDiv',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b]) => ({
      a: () => k.reduceToShape(k.div(dy as T, b), a.shape),
      b: () => k.reduceToShape(k.neg(k.div(k.mul(dy as T, a), k.square(b))), b.shape),
    }),
  },
  { kernelName: 'Neg', gradFunc: (dy) => ({ x: () => k.neg(dy as T) }) },
  {
    kernelName: 'Square',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => k.mul(dy as T, k.mul(x, k.scalar(2))) }),
  },
  {
    kernelName: 'Sqrt',
    inputsToSave: ['x'],
    gradFunc: (dy, [x]) => ({ x: () => k.div(dy as T, k.mul(k.sqrt(x), k.scalar(2))) }),
  },
  { kernelName: 'Log', inputsToSave: ['x'], gradFunc: (dy, [x]) => ({ x: () => k.div(dy as T, x) }) },
  {
    // Y = op(A)·op(B): dA = dY·op(B)ᵀ, or its transpose op(B)·dYᵀ when A enters transposed, and likewise
    // for B. matmulT passes the flags on WebGPU and materialises the transposes on the CPU (§2.2).
    kernelName: 'BatchMatMul',
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      const tA = attrs.transposeA === true;
      const tB = attrs.transposeB === true;
      return {
        a: () => (tA ? k.matmulT(b, dy as T, tB, true) : k.matmulT(dy as T, b, false, !tB)),
        b: () => (tB ? k.matmulT(dy as T, a, true, tA) : k.matmulT(a, dy as T, !tA, false)),
        // The addend a product may carry on WebGPU (accumulate.ts), of the product's shape.
        addend: () => k.reduceToShape(dy as T, (dy as T).shape),
      };
    },
  },
  {
    // headsMatmul (WebGPU only): BatchMatMul's gradients, each again a product of the attention's
    // layouts, with each gradient in its input's layout and dY in the result's.
    kernelName: k.HEADS_MATMUL_KERNEL,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      const tA = attrs.transposeA === true;
      const tB = attrs.transposeB === true;
      const [la, lb, lo] = [attrs.layoutA, attrs.layoutB, attrs.layoutOut] as k.HeadsLayout[];
      const heads = attrs.heads as number;
      const d = dy as T;
      const product = (x: T, y: T, tx: boolean, ty: boolean, lx: k.HeadsLayout, ly: k.HeadsLayout, out: k.HeadsLayout): T => k.headsMatmul(x, y, tx, ty, { heads, a: lx, b: ly, out });
      return {
        a: () => (tA ? product(b, d, tB, true, lb, lo, la) : product(d, b, false, !tB, lo, lb, la)),
        b: () => (tB ? product(d, a, true, tA, lo, la, lb) : product(a, d, !tA, false, la, lo, lb)),
        addend: () => k.reduceToShape(d, d.shape),
      };
    },
  },
  {
    // x·W + b in one kernel (WebGPU only, ops.linear): the matmul's two gradients and the bias's sum.
    kernelName: k.FUSED_LINEAR_KERNEL,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, [a, b], attrs) => {
      if (attrs.activation !== 'linear' || attrs.transposeA === true || attrs.transposeB === true) {
        throw new Error(`${k.FUSED_LINEAR_KERNEL} gradient: only x·W + b is supported; use ops.linear`);
      }
      return {
        a: () => k.matmulT(dy as T, b, false, true),
        b: () => k.matmulT(a, dy as T, true, false),
        bias: () => k.reduceToShape(dy as T, shapeAttr(attrs, 'biasShape', k.FUSED_LINEAR_KERNEL)),
      };
    },
  },
  {
    kernelName: 'Transpose',
    gradFunc: (dy, _saved, attrs) => ({ x: () => k.transpose(dy as T, inversePerm(attrs.perm as number[])) }),
  },
  {
    kernelName: 'Reshape',
    gradFunc: (dy, _saved, attrs) => ({ x: () => k.reshape(dy as T, shapeAttr(attrs, 'inShape', 'Reshape')) }),
  },
  {
    kernelName: 'Sum',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => {
        const inShape = shapeAttr(attrs, 'inShape', 'Sum');
        const axes = attrs.axis as number[];
        const keepShape = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
        return k.broadcastTo(k.reshape(dy as T, keepShape), inShape);
      },
      // The addend a sum may carry on WebGPU (accumulate.ts), of the sum's shape.
      addend: () => k.reduceToShape(dy as T, (dy as T).shape),
    }),
  },
  {
    // Output axis i has extent reps[i]·s[i] laid out as [reps[i], s[i]]: fold and sum the reps.
    kernelName: 'Tile',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => {
        const inShape = shapeAttr(attrs, 'inShape', 'Tile');
        const reps = attrs.reps as number[];
        const split = inShape.flatMap((s, i) => [reps[i], s]);
        const axes = reps.map((_, i) => 2 * i).filter((a) => split[a] > 1);
        const folded = k.reshape(dy as T, split);
        return k.reshape(axes.length > 0 ? k.sum(folded, axes, false) : folded, inShape);
      },
    }),
  },
  {
    kernelName: 'Concat',
    gradFunc: (dy, _saved, attrs) => {
      const axis = attrs.axis as number;
      const shapes = attrs.shapes as number[][];
      const grads: Record<string, () => T> = {};
      let offset = 0;
      shapes.forEach((shape, i) => {
        const begin = shape.map((_, j) => (j === axis ? offset : 0));
        grads[i] = () => k.slice(dy as T, begin, shape);
        offset += shape[axis];
      });
      return grads;
    },
  },
  {
    // The blocks' gradients side by side: one kernel (a block nothing used gets zeros).
    kernelName: 'SplitV',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => {
        const axis = attrs.axis as number;
        const dys = dy as (T | null)[];
        const like = dys.find((d) => d !== null) as T;
        const sizes = attrs.numOrSizeSplits as number[];
        return k.concat(
          dys.map((d, i) => d ?? k.zeros(like.shape.map((n, j) => (j === axis ? sizes[i] : n)))),
          axis,
        );
      },
    }),
  },
  {
    kernelName: 'Slice',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => {
        const inShape = shapeAttr(attrs, 'inShape', 'Slice');
        const begin = attrs.begin as number[];
        const size = attrs.size as number[];
        return k.pad(dy as T, inShape.map((d, i) => [begin[i], d - begin[i] - size[i]]));
      },
    }),
  },
  {
    kernelName: 'PadV2',
    gradFunc: (dy, _saved, attrs) => ({
      x: () => {
        const paddings = attrs.paddings as [number, number][];
        const d = dy as T;
        return k.slice(d, paddings.map((p) => p[0]), d.shape.map((n, i) => n - paddings[i][0] - paddings[i][1]));
      },
    }),
  },
  {
    // The condition is always a detached mask (ops.where), so it never needs a gradient.
    kernelName: 'Select',
    inputsToSave: ['condition'],
    gradFunc: (dy, [cond]) => {
      const d = dy as T;
      return {
        t: () => k.select(cond, d, k.zeros(d.shape)),
        e: () => k.select(cond, k.zeros(d.shape), d),
      };
    },
  },
  { kernelName: 'Identity', gradFunc: (dy) => ({ x: () => k.identity(dy as T) }) },
  { kernelName: 'Cast', gradFunc: (dy) => ({ x: () => k.identity(dy as T) }) },
  // Fused elementwise expressions (WebGPU only; fused-op.ts).
  FUSED_GRADIENT,
];

/** Register the gradients above (idempotent: re-registering replaces). */
export function registerGradients(): void {
  for (const c of configs) {
    if (tf.getGradient(c.kernelName) !== c) tf.registerGradient(c);
  }
}
