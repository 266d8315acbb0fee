/**
 * Finding a WebGPU adapter: `navigator.gpu` where the runtime has one (a
 * browser, Deno), else Dawn from the npm package `webgpu` (Node on Linux,
 * macOS and Windows; Linux needs a Vulkan driver: the GPU vendor's, or Mesa's
 * lavapipe on a CPU). Dawn is loaded only when WebGPU is asked for, so a CPU
 * run never loads the native module.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { GpuAdapterInfo } from './backend.js';

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string> & { isFallbackAdapter: boolean }>;
}

/** The adapter found (null: none) and, for the error message, what was tried. */
export interface GpuSearch {
  adapter: GpuAdapterInfo | null;
  tried: string;
}

let search: Promise<GpuSearch> | null = null;

/** Looks for an adapter once per process (the answer is cached). */
export function findGpu(): Promise<GpuSearch> {
  search ??= lookForGpu();
  return search;
}

async function lookForGpu(): Promise<GpuSearch> {
  const tried: string[] = [];
  let gpu = navigatorGpu();
  // The toggle reaches Dawn's devices only (navigator.gpu keeps its own robustness).
  const robustness = gpu !== null || !dawnFlags(process.env.PITA_ROBUSTNESS).includes(NO_ROBUSTNESS);
  if (gpu !== null) {
    tried.push('navigator.gpu');
  } else {
    tried.push("Dawn from the npm package 'webgpu'");
    try {
      gpu = await dawnGpu();
    } catch (e) {
      return { adapter: null, tried: `${tried.join('; ')}: ${firstLine(e)}` };
    }
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (adapter === null) {
    const vulkan = process.platform === 'linux' ? ' (on Linux Dawn needs a Vulkan driver: the GPU vendor\'s, or mesa-vulkan-drivers for a CPU device)' : '';
    return { adapter: null, tried: `${tried.join('; ')}: requestAdapter() returned no adapter${vulkan}` };
  }
  return { adapter: adapterInfo(adapter, robustness), tried: tried.join('; ') };
}

/**
 * Whether a hardware adapter can exist at all: on Linux a GPU shows up as a
 * device node (/dev/dri/renderD*, /dev/nvidia*); without one Dawn can only
 * find a software adapter, which `auto` would refuse anyway. Skipping the
 * search then saves loading the native module and its start-up warnings.
 * Elsewhere, and when navigator.gpu exists, the search runs.
 */
export function hardwareGpuPossible(): boolean {
  if (process.platform !== 'linux' || navigatorGpu() !== null) return true;
  const render = existsSync('/dev/dri') && readdirSync('/dev/dri').some((n) => /^renderD\d+$/.test(n));
  return render || readdirSync('/dev').some((n) => /^nvidia\d+$/.test(n));
}

function navigatorGpu(): GpuLike | null {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  return nav?.gpu ?? null;
}

/** Dawn's GPU object, installed as navigator.gpu with the WebGPU globals (tfjs-backend-webgpu looks there). */
async function dawnGpu(): Promise<GpuLike> {
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
  // Dawn rounds GPU timestamps to 65 µs unless told not to: kernel profiles (gpu-profile.ts) need them exact.
  const gpu = dawn.create(dawnFlags(process.env.PITA_ROBUSTNESS));
  Object.assign(globalThis, dawn.globals);
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) g.navigator = { gpu };
  else Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return gpu;
}

const NO_ROBUSTNESS = 'enable-dawn-features=disable_robustness';

/**
 * Dawn's flags. `PITA_ROBUSTNESS=0` adds the device toggle `disable_robustness` (docs/tensor-engine.md
 * §2.33): Dawn then compiles shaders without the clamp it puts on every array index (so that an
 * out-of-range read or write lands inside the binding), as Chrome does for its own GPU rasteriser. pita's
 * and tfjs's kernels index in range, so results keep their bits (test/gpu holds the GPU parity values to
 * them on lavapipe); an out-of-range access, should a kernel ever make one, is then undefined instead of clamped.
 * It is a knob for measuring what the clamps cost on a GPU, off by default.
 */
export function dawnFlags(robustness: string | undefined): string[] {
  const flags = ['disable-dawn-features=timestamp_quantization'];
  if (robustness === '0') flags.push(NO_ROBUSTNESS);
  return flags;
}

function adapterInfo(a: AdapterLike, robustness: boolean): GpuAdapterInfo {
  const i = a.info ?? {};
  const text = (k: 'vendor' | 'architecture' | 'device' | 'description') => String(i[k] ?? '');
  // A software rasteriser (lavapipe, SwiftShader) is a fallback adapter; older runtimes say so only in the names.
  const software = i.isFallbackAdapter === true || /software|llvmpipe|lavapipe|swiftshader/i.test(`${text('architecture')} ${text('description')} ${text('device')}`);
  return { vendor: text('vendor'), architecture: text('architecture'), device: text('device'), description: text('description'), type: software ? 'CPU' : 'GPU', robustness };
}

/** "nvidia nvidia-h200, GPU" and the like, for logs and reports. */
export function describeAdapter(a: GpuAdapterInfo): string {
  const name = [a.vendor, a.device || a.description].filter((s) => s !== '').join(' ') || 'unnamed adapter';
  return `${name}, ${a.type}${a.robustness ? '' : ', robustness off'}`;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
