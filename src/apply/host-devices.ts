// Plan-time check of the host devices the config names in the root namespace. Validation lets
// the root name links it does not declare (eth0, a host bridge: devices Voltron does not manage)
// and only the live root says whether they are there. One that is not would make the kernel
// refuse the write in the middle of the apply (ENODEV); refuse the plan instead, before any write.
import { sourceWhere } from '../config/positions';
import { ptrJoin } from '../config/types';
import type { Resource, StateMap } from '../model/types';
import { linkKey } from '../plan/refs';
import type { Change, Plan } from '../plan/types';
import { visible } from '../util/visible';

/** A device a resource names: its namespace, its name, and the field (a dotted plan field). */
interface DeviceRef {
  readonly namespace: string;
  readonly dev: string;
  readonly field: string;
}

function deviceRefs(r: Resource): DeviceRef[] {
  const ref = (namespace: string, dev: string | undefined, field: string): DeviceRef[] => (dev === undefined ? [] : [{ namespace, dev, field }]);
  switch (r.kind) {
    case 'address':
    case 'qdisc':
    case 'tclass':
    case 'tfilter':
      return ref(r.namespace, r.dev, 'dev');
    case 'route':
      return [...ref(r.namespace, r.dev, 'dev'), ...ref(r.namespace, r.encap?.type === 'seg6local' ? r.encap.oif : undefined, 'encap.oif')];
    case 'link':
      // A master must be a declared bridge (validation).
      return [...ref(r.namespace, r.macvlan?.parent, 'macvlan.parent'), ...ref(r.namespace, r.vxlan?.dev, 'vxlan.dev')];
    case 'bpf':
      return r.attach.type === 'cgroup' ? [] : ref(r.attach.namespace ?? '', r.attach.dev, 'attach.dev');
    default:
      return []; // sysctls: see missingSysctls; rules: the kernel takes an iif/oif that is not there
  }
}

/** The refs a change writes: all of a new object's, only the changed fields of an update's. */
function writtenRefs(c: Change): DeviceRef[] {
  if (c.action === 'delete' || c.after === undefined) return [];
  const refs = deviceRefs(c.after);
  if (c.action !== 'update') return refs;
  const changed = new Set(c.fields.map((f) => f.field));
  return refs.filter((d) => changed.has(d.field));
}

/**
 * Root-namespace writes naming a link that is neither declared nor live there (nor deleted by the
 * plan first), each with the file, line and field of the declaration. A link the config ignores
 * is judged too: the live state holds it when it is there (only the plan leaves it alone), and
 * one that is not would fail the write all the same (a macvlan parent, a VXLAN underlay).
 */
export function missingHostDeviceProblems(plan: Plan, current: StateMap, desired: StateMap, altnameHolder: (name: string) => string | undefined = () => undefined): string[] {
  const refs = plan.changes.flatMap((c) => writtenRefs(c).filter((d) => d.namespace === '' && d.dev !== 'lo').map((d) => ({ c, d })));
  if (refs.length === 0) return [];
  const deleted = new Set(plan.changes.filter((c) => c.kind === 'link' && c.action === 'delete').map((c) => c.key));
  const live = new Set<string>();
  for (const [k, r] of current) if (r.kind === 'link' && r.namespace === '' && !deleted.has(k)) live.add(r.name);
  const out: string[] = [];
  for (const { c, d } of refs) {
    if (live.has(d.dev) || desired.has(linkKey('', d.dev))) continue;
    const r = c.after!;
    const path = r.source ? ptrJoin(r.source.path, ...d.field.split('.')) : undefined;
    const where = r.source && path !== undefined ? `${sourceWhere({ file: r.source.file, path })}: ${path}: ` : '';
    // The kernel would take an altname, but reports (and Voltron compares) the link's name: the
    // write would never read back as declared.
    const holder = altnameHolder(d.dev);
    if (holder !== undefined && live.has(holder)) {
      out.push(
        `${where}${c.label}: link '${d.dev}' is an alternative name of host device '${visible(holder)}': the kernel reports links by their name, so the plan would never read it back as declared (write '${visible(holder)}')`,
      );
      continue;
    }
    out.push(
      `${where}${c.label}: link '${d.dev}' is neither declared nor in the root namespace (a host device the config names must be there): ` +
        `the kernel would refuse it (ENODEV) in the middle of the apply (declare the link, or correct the name)`,
    );
  }
  return out;
}
