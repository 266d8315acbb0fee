/**
 * pita's own WebGPU kernel: an activation or its derivative in one pass.
 *
 * Why: on the GPU the second-order steps are bound by elementwise passes over
 * the networks' widest tensors (the EGNN's [B, 13, 13, H] pair features, the
 * DiT's MLP width), and tfjs runs every op of a composite as its own kernel:
 * SiLU′ = σ(1 + x(1 − σ)) was five passes over memory, GELU′ about fifteen.
 * `PitaActivation` computes each of these functions of one input in a single
 * kernel. It is forward-only: the ops layer calls it inside custom-gradient
 * ops (ops.ts) whose derivatives are defined there, and on the CPU the same
 * ops run their composites (kernels.ts `activation`). The WebGPU parity tests
 * compare the two to second order.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { webgpu_util } from '@tensorflow/tfjs-backend-webgpu';
import { ACTIVATION_KERNEL, type ActivationFn } from './kernels.js';

/** σ, tanh (tfjs's overflow-safe forms) and GELU's u(x) = √(2/π)(x + 0.044715x³), u′(x). */
const HELPERS = `
fn pitaSigmoid(a : f32) -> f32 { return 1.0 / (1.0 + exp(-a)); }
fn pitaTanh(a : f32) -> f32 { let e = exp(-2.0 * abs(a)); return sign(a) * (1.0 - e) / (1.0 + e); }
fn pitaGeluU(a : f32) -> f32 { return ${Math.sqrt(2 / Math.PI)} * (a + 0.044715 * a * a * a); }
fn pitaGeluDu(a : f32) -> f32 { return ${Math.sqrt(2 / Math.PI)} * (1.0 + ${3 * 0.044715} * a * a); }
`;

/** Body of `fn activation(a : f32) -> f32` for each function (the formulas of ops.ts). */
const BODIES: Record<ActivationFn, string> = {
  silu: 'return a * pitaSigmoid(a);',
  siluGrad: 'let s = pitaSigmoid(a); return s * (1.0 + a * (1.0 - s));',
  sigmoidGrad: 'let s = pitaSigmoid(a); return s * (1.0 - s);',
  tanhGrad: 'let t = pitaTanh(a); return 1.0 - t * t;',
  gelu: 'return 0.5 * a * (1.0 + pitaTanh(pitaGeluU(a)));',
  geluGrad: 'let t = pitaTanh(pitaGeluU(a)); return 0.5 * (1.0 + t) + 0.5 * a * (1.0 - t * t) * pitaGeluDu(a);',
};

class ActivationProgram implements WebGPUProgram {
  readonly variableNames = ['A'];
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [128, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly fn: ActivationFn,
  ) {
    this.dispatchLayout = webgpu_util.flatDispatchLayout(outputShape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, outputShape, this.workgroupSize);
    this.shaderKey = `pita_activation_${fn}`;
  }

  getUserCode(): string {
    return `${HELPERS}
fn activation(a : f32) -> f32 { ${BODIES[this.fn]} }
fn main(index : i32) {
  if (index < uniforms.size) {
    setOutputAtIndex(index, activation(getAByOutputIndex(index)));
  }
}`;
  }
}

/** Registers `PitaActivation` for the webgpu backend (idempotent). */
export function installWebGpuKernels(): void {
  if (tf.getKernel(ACTIVATION_KERNEL, 'webgpu') != null) return;
  tf.registerKernel({
    kernelName: ACTIVATION_KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs.x as tf.TensorInfo;
      const fn = attrs?.fn as ActivationFn;
      if (!(fn in BODIES) || x.dtype !== 'float32') throw new Error(`${ACTIVATION_KERNEL}: unknown function '${String(fn)}' or dtype ${x.dtype}`);
      return (backend as WebGPUBackend).runWebGPUProgram(new ActivationProgram(x.shape, fn), [x], 'float32');
    },
  });
}
