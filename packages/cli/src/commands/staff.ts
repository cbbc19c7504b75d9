import type { StaffList, StaffMember } from '../api-types.ts';
import { CliError } from '../errors.ts';
import { table } from '../format.ts';
import { HttpClient, requireUuid, type Connection } from '../http-client.ts';
import type { Output } from '../output.ts';

export interface AddStaffOptions {
  connection: Connection;
  eventId: string;
  username: string;
  name: string;
  pin: string;
}

/** Adds a staff account to an event; they log in on a paired scanner with the username and PIN. */
export async function addStaff(opts: AddStaffOptions, output: Output): Promise<StaffMember> {
  const eventId = requireUuid(opts.eventId, '--event', 'an event');
  // Checked here too, so the PIN never has to travel for an answer the CLI can give itself.
  if (!/^[0-9]{4,12}$/.test(opts.pin)) throw new CliError('--pin must be 4 to 12 digits');
  const client = new HttpClient(opts.connection, 'admin');
  const staff = await client.post<StaffMember>(`/api/v1/events/${eventId}/staff`, {
    username: opts.username,
    name: opts.name,
    pin: opts.pin,
  });
  output.out(`Added staff member "${staff.name}" (username ${staff.username}) to event ${eventId}.`);
  output.out(`  id  ${staff.id}`);
  output.out('They log in on a paired scanner with this username and their PIN (the PIN is not shown again).');
  return staff;
}

export async function listStaff(
  opts: { connection: Connection; eventId: string },
  output: Output,
): Promise<StaffMember[]> {
  const eventId = requireUuid(opts.eventId, '--event', 'an event');
  const client = new HttpClient(opts.connection, 'admin');
  const { staff } = await client.get<StaffList>(`/api/v1/events/${eventId}/staff`);
  if (staff.length === 0) {
    output.out(
      `No staff yet. Add someone with: entrada staff add --event ${eventId} --username ann --name "Ann" --pin 4711`,
    );
    return staff;
  }
  const rows = staff.map((m) => [m.username, m.name, m.active ? 'active' : 'inactive', m.id, m.created_at]);
  for (const line of table(['USERNAME', 'NAME', 'STATUS', 'STAFF ID', 'CREATED'], rows)) output.out(line);
  return staff;
}

export async function deactivateStaff(
  opts: { connection: Connection; eventId: string; staffId: string },
  output: Output,
): Promise<StaffMember> {
  const eventId = requireUuid(opts.eventId, '--event', 'an event');
  const staffId = requireUuid(opts.staffId, '--staff', 'a staff member');
  const client = new HttpClient(opts.connection, 'admin');
  const staff = await client.post<StaffMember>(`/api/v1/events/${eventId}/staff/${staffId}/deactivate`, {});
  output.out(`Deactivated ${staff.username} ("${staff.name}"): their logins fail from now on.`);
  return staff;
}
