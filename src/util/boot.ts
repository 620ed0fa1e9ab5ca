// The kernel's boot id: everything Voltron manages (namespaces, links, routes, sysctls, BPF
// pins) lives only until the next reboot, so records from an earlier boot (an interrupted
// apply's journal, ownership in the inventory, a lock's pid) describe nothing that exists now.
import fs from 'node:fs';

let cached: string | undefined;

/** This boot's id ('' if unreadable: then no record is taken for another boot's). */
export function bootId(): string {
  if (cached === undefined) {
    try {
      cached = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cached = '';
    }
  }
  return cached;
}

/** Whether a record stamped with `id` was made before the last reboot. */
export function fromEarlierBoot(id: string | undefined): boolean {
  return id !== undefined && id !== '' && bootId() !== '' && id !== bootId();
}
