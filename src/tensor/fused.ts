/**
 * Elementwise expressions fused into one kernel (ops.ts `fused`, docs/tensor-engine.md §2.18).
 *
 * Why: a replayed WebGPU step pays a fixed cost per kernel (~9 µs on the H200, BENCHMARKS.md), and
 * tfjs runs every elementwise op as its own pass over memory. A chain such as the EGNN's coordinate
 * weight (x_i − x_j)·s·tanh(φ)/(√(r + δ) + 1) was seven kernels forward and several times that in
 * the backward passes of a second-order step. An `Expr` names the chain once: on WebGPU it runs as one
 * kernel, and its gradient with respect to each input is again an `Expr` (`derivative`) times the
 * cotangent, one kernel more per input, to every order. Elsewhere it is evaluated op by op
 * (`evaluate`), in the order written, so the CPU path runs exactly the kernels it ran before.
 *
 * Inputs broadcast against each other as in the binary ops; the expression is a tree whose repeated
 * subtrees (a derivative repeats its function's subexpressions) are computed once (`wgslBody`,
 * `evaluate` both memoise by `exprKey`).
 */

export type UnaryFn = 'neg' | 'exp' | 'sqrt' | 'square' | 'sigmoid' | 'tanh' | 'silu';
export type BinaryFn = 'add' | 'sub' | 'mul' | 'div';

export type Expr =
  | { readonly op: 'input'; readonly index: number }
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: UnaryFn; readonly a: Expr }
  | { readonly op: BinaryFn; readonly a: Expr; readonly b: Expr };

type Operand = Expr | number;

const lift = (x: Operand): Expr => (typeof x === 'number' ? { op: 'const', value: x } : x);
const constant = (e: Expr): number | null => (e.op === 'const' ? e.value : null);

function binary(op: BinaryFn, x: Operand, y: Operand): Expr {
  const a = lift(x);
  const b = lift(y);
  const ca = constant(a);
  const cb = constant(b);
  // Folding (exact in float64, and the folded forms are what a derivative needs simplified).
  if (ca !== null && cb !== null) return { op: 'const', value: op === 'add' ? ca + cb : op === 'sub' ? ca - cb : op === 'mul' ? ca * cb : ca / cb };
  if (op === 'add' && ca === 0) return b;
  if ((op === 'add' || op === 'sub') && cb === 0) return a;
  if (op === 'sub' && ca === 0) return { op: 'neg', a: b };
  if (op === 'mul' && (ca === 0 || cb === 0)) return { op: 'const', value: 0 };
  if (op === 'mul' && ca === 1) return b;
  if ((op === 'mul' || op === 'div') && cb === 1) return a;
  if (op === 'div' && ca === 0) return { op: 'const', value: 0 };
  return { op, a, b };
}

function unary(op: UnaryFn, x: Operand): Expr {
  const a = lift(x);
  if (op === 'neg' && a.op === 'neg') return a.a;
  if (op === 'neg' && a.op === 'const') return { op: 'const', value: -a.value };
  return { op, a };
}

/** Builders: `E.mul(E.input(0), E.tanh(E.input(1)))`; numbers are constants. */
export const E = {
  input: (index: number): Expr => ({ op: 'input', index }),
  add: (a: Operand, b: Operand) => binary('add', a, b),
  sub: (a: Operand, b: Operand) => binary('sub', a, b),
  mul: (a: Operand, b: Operand) => binary('mul', a, b),
  div: (a: Operand, b: Operand) => binary('div', a, b),
  neg: (a: Operand) => unary('neg', a),
  exp: (a: Operand) => unary('exp', a),
  sqrt: (a: Operand) => unary('sqrt', a),
  square: (a: Operand) => unary('square', a),
  sigmoid: (a: Operand) => unary('sigmoid', a),
  tanh: (a: Operand) => unary('tanh', a),
  silu: (a: Operand) => unary('silu', a),
};

/** A canonical text of the expression (a cache key; constants in full precision). */
export function exprKey(e: Expr): string {
  switch (e.op) {
    case 'input':
      return `x${e.index}`;
    case 'const':
      return String(e.value);
    case 'add':
    case 'sub':
    case 'mul':
    case 'div':
      return `${e.op}(${exprKey(e.a)},${exprKey(e.b)})`;
    default:
      return `${e.op}(${exprKey(e.a)})`;
  }
}

/** The largest input index used, plus one. */
export function inputCount(e: Expr): number {
  if (e.op === 'input') return e.index + 1;
  if (e.op === 'const') return 0;
  return 'b' in e ? Math.max(inputCount(e.a), inputCount(e.b)) : inputCount(e.a);
}

/** The input indices e reads. */
export function usedInputs(e: Expr, into = new Set<number>()): Set<number> {
  if (e.op === 'input') into.add(e.index);
  else if (e.op !== 'const') {
    usedInputs(e.a, into);
    if ('b' in e) usedInputs(e.b, into);
  }
  return into;
}

/** ∂e/∂x_i, symbolically (folded where a factor is 0 or 1). */
export function derivative(e: Expr, i: number): Expr {
  switch (e.op) {
    case 'input':
      return { op: 'const', value: e.index === i ? 1 : 0 };
    case 'const':
      return { op: 'const', value: 0 };
    case 'add':
      return E.add(derivative(e.a, i), derivative(e.b, i));
    case 'sub':
      return E.sub(derivative(e.a, i), derivative(e.b, i));
    case 'mul':
      return E.add(E.mul(derivative(e.a, i), e.b), E.mul(e.a, derivative(e.b, i)));
    case 'div': {
      // (a/b)′ = (a′ − (a/b)·b′)/b
      const db = derivative(e.b, i);
      return E.div(E.sub(derivative(e.a, i), E.mul(e, db)), e.b);
    }
    case 'neg':
      return E.neg(derivative(e.a, i));
    case 'exp':
      return E.mul(e, derivative(e.a, i));
    case 'sqrt':
      return E.div(derivative(e.a, i), E.mul(2, e));
    case 'square':
      return E.mul(E.mul(2, e.a), derivative(e.a, i));
    case 'sigmoid':
      return E.mul(E.mul(e, E.sub(1, e)), derivative(e.a, i));
    case 'tanh':
      return E.mul(E.sub(1, E.square(e)), derivative(e.a, i));
    case 'silu': {
      // SiLU′ = σ(1 + a(1 − σ))
      const s = E.sigmoid(e.a);
      return E.mul(E.mul(s, E.add(1, E.mul(e.a, E.sub(1, s)))), derivative(e.a, i));
    }
  }
}

/** e with input j renamed to input order(j). */
export function reindex(e: Expr, order: (j: number) => number): Expr {
  if (e.op === 'input') return { op: 'input', index: order(e.index) };
  if (e.op === 'const') return e;
  return 'b' in e ? { op: e.op, a: reindex(e.a, order), b: reindex(e.b, order) } : { op: e.op, a: reindex(e.a, order) };
}

/** The operations `evaluate` needs, on some tensor type. */
export type ExprImpl<T> = Record<UnaryFn, (a: T) => T> & Record<BinaryFn, (a: T, b: T) => T> & { scalar(v: number): T };

/** e on `inputs`, op by op with `impl`, each distinct subexpression once. */
export function evaluate<T>(e: Expr, inputs: readonly T[], impl: ExprImpl<T>): T {
  const memo = new Map<string, T>();
  const go = (x: Expr): T => {
    if (x.op === 'input') return inputs[x.index];
    const key = exprKey(x);
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    const v = x.op === 'const' ? impl.scalar(x.value) : 'b' in x ? impl[x.op](go(x.a), go(x.b)) : impl[x.op](go(x.a));
    memo.set(key, v);
    return v;
  };
  return go(e);
}

/** A WGSL f32 literal. */
function literal(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`fused expression: constant ${v} is not finite`);
  const s = String(Math.fround(v) === v ? v : Math.fround(v));
  return /[.e]/.test(s) ? `f32(${s})` : `f32(${s}.0)`;
}

/**
 * `fn value(x0 : f32, x1 : f32, …) -> f32` computing e at one element from its inputs' values there
 * (the kernel reads them: webgpu-kernels.ts), each distinct subexpression bound once. Uses the helpers
 * pitaSigmoid and pitaTanh (webgpu-kernels.ts).
 */
export function wgslBody(e: Expr, nInputs: number): string {
  const lines: string[] = [];
  const params = Array.from({ length: nInputs }, (_, i) => `x${i} : f32`).join(', ');
  const names = new Map<string, string>();
  const go = (x: Expr): string => {
    if (x.op === 'input') return `x${x.index}`;
    if (x.op === 'const') return literal(x.value);
    const key = exprKey(x);
    const hit = names.get(key);
    if (hit !== undefined) return hit;
    let code: string;
    switch (x.op) {
      case 'add':
        code = `${go(x.a)} + ${go(x.b)}`;
        break;
      case 'sub':
        code = `${go(x.a)} - ${go(x.b)}`;
        break;
      case 'mul':
        code = `${go(x.a)} * ${go(x.b)}`;
        break;
      case 'div':
        code = `${go(x.a)} / ${go(x.b)}`;
        break;
      case 'neg':
        code = `-${go(x.a)}`;
        break;
      case 'square': {
        const a = go(x.a);
        code = `${a} * ${a}`;
        break;
      }
      case 'sigmoid':
        code = `pitaSigmoid(${go(x.a)})`;
        break;
      case 'tanh':
        code = `pitaTanh(${go(x.a)})`;
        break;
      case 'silu': {
        const a = go(x.a);
        code = `${a} * pitaSigmoid(${a})`;
        break;
      }
      default:
        code = `${x.op}(${go(x.a)})`;
    }
    const name = `t${names.size}`;
    lines.push(`  let ${name} = ${code};`);
    names.set(key, name);
    return name;
  };
  const result = go(e);
  return `fn value(${params}) -> f32 {\n${lines.join('\n')}\n  return ${result};\n}`;
}
