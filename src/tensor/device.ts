/** The tensor device a user asks for (no tfjs here: the CLI parses it before any tensor code loads). */
export type DeviceChoice = 'auto' | 'cpu' | 'webgpu';
export const DEVICE_CHOICES: readonly DeviceChoice[] = ['auto', 'cpu', 'webgpu'];
