/** Dawn's flags and the adapter's description in logs (no GPU needed: test/gpu runs a device with them). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dawnFlags, describeAdapter } from '../../src/tensor/webgpu.js';

test('PITA_ROBUSTNESS=0, and only that value, adds Dawn\'s disable_robustness toggle; exact timestamps always', () => {
  const exact = 'disable-dawn-features=timestamp_quantization';
  assert.deepEqual(dawnFlags('0'), [exact, 'enable-dawn-features=disable_robustness']);
  for (const v of [undefined, '', '1', 'off']) assert.deepEqual(dawnFlags(v), [exact], String(v));
});

test('the adapter is named by vendor and device, with its type, and says when robustness is off', () => {
  const a = { vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200', description: 'NVIDIA H200', type: 'GPU' as const, robustness: true };
  assert.equal(describeAdapter(a), 'nvidia nvidia-h200, GPU');
  assert.equal(describeAdapter({ ...a, robustness: false }), 'nvidia nvidia-h200, GPU, robustness off');
  assert.equal(describeAdapter({ ...a, device: '', type: 'CPU' }), 'nvidia NVIDIA H200, CPU');
  assert.equal(describeAdapter({ ...a, vendor: '', device: '', description: '' }), 'unnamed adapter, GPU');
});
