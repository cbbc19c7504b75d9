import type { DeviceView } from '../api-types.ts';
import { table } from '../format.ts';
import { HttpClient, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

export interface RegisterDeviceOptions {
  connection: Connection;
  name: string;
  deviceId?: string;
  type?: 'scanner' | 'mobile';
  publicKey?: string;
}

export interface RegisteredDevice extends DeviceView { token: string }

export async function registerDevice(opts: RegisterDeviceOptions, output: Output): Promise<RegisteredDevice> {
  const client = new HttpClient(opts.connection, 'admin');
  const device = await client.post<RegisteredDevice>('/api/v1/devices', {
    name: opts.name,
    ...(opts.deviceId ? { device_id: opts.deviceId } : {}),
    ...(opts.type ? { device_type: opts.type } : {}),
    ...(opts.publicKey ? { public_key: opts.publicKey } : {}),
  });
  output.out(`Registered device "${device.name}" (${device.device_type}).`);
  output.out(`  device_id  ${device.device_id}`);
  output.out(`  token      ${device.token}`);
  output.out('');
  output.out('The token is shown once — store it now. Scanners send it as their bearer token, e.g.:');
  output.out(`  ENTRADA_DEVICE_TOKEN=${device.token} entrada scan CODE --event EVENT_ID --gate GATE_ID`);
  return device;
}

export async function listDevices(opts: { connection: Connection }, output: Output): Promise<DeviceView[]> {
  const client = new HttpClient(opts.connection, 'admin');
  const { devices } = await client.get<{ devices: DeviceView[] }>('/api/v1/devices');
  if (devices.length === 0) {
    output.out('No devices yet. Register one with: entrada devices register --name "Gate 1"');
    return devices;
  }
  const rows = devices.map((d) => [
    d.device_id, d.name, d.device_type, d.status, d.has_public_key ? 'yes' : 'no', d.last_seen_at ?? 'never', d.created_at,
  ]);
  for (const line of table(['DEVICE ID', 'NAME', 'TYPE', 'STATUS', 'KEY', 'LAST SEEN', 'CREATED'], rows)) output.out(line);
  return devices;
}
