import type { LinkRes, Resource } from '../model/types';

export type ChangeAction = 'create' | 'update' | 'replace' | 'delete';

export interface FieldChange {
  /** Dotted field path inside the resource, e.g. `mtu`, `vxlan.vni`, `encap.segments`. */
  readonly field: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface Change {
  readonly action: ChangeAction;
  readonly key: string;
  readonly kind: Resource['kind'];
  /** Short human label (`link A/eth0 (veth)`). */
  readonly label: string;
  readonly reason: string;
  readonly fields: readonly FieldChange[];
  /** True when traffic through the object is interrupted (recreate, delete, link down). */
  readonly disruptive: boolean;
  /** Live object before the change (absent for create). */
  readonly before?: Resource;
  /** Desired object after the change (absent for delete). */
  readonly after?: Resource;
  /**
   * Keys of changes (in this plan) that must run before this one. A namespace-wide layer
   * (routes after its addresses, rules after its routes; reversed for deletes) is listed only
   * while it has at most LISTED_LAYER_MAX changes (schedule.ts); beyond, the plan's order alone
   * carries it.
   */
  readonly dependsOn: readonly string[];
  /**
   * Set on a veth secondary end: the key of the change (its primary end's create/replace) that
   * creates this end together with the pair. The executor must neither create nor delete this
   * object itself (also for `replace`): it only sets the end's declared attributes.
   */
  readonly createdBy?: string;
  /**
   * Set on a veth primary end's create/replace when this plan deletes the live secondary end to
   * free its name (its live peer is not ours to recreate): the pair brings the end back, and this
   * change sets the end's declared attributes (no other change can: its key holds the delete).
   */
  readonly pairedPeer?: LinkRes;
  /** For sysctl/tunsrc deletes: the object to write back (the original value from the inventory). */
  readonly restore?: Resource;
  /**
   * For a prune: the object as the inventory recorded it (its last applied declaration). Text and
   * markdown plans show a delete with these fields, as a reviewer wrote them (`before` also holds
   * every kernel default).
   */
  readonly recorded?: Resource;
  /**
   * Set on a clsact bpf program's delete or replace when the config declares the clsact qdisc of
   * the device it leaves: that qdisc is the config's, never removed with the program (also when
   * the program's attach made it and the config declared it only later).
   */
  readonly clsactDeclared?: true;
}

export interface Plan {
  readonly changes: readonly Change[];
  /** Live objects skipped because Voltron does not own them (only counted; never changed). */
  readonly foreignCount: number;
  /**
   * Live objects Voltron does not own (foreign or ignored) that the kernel removes as a side
   * effect of this plan (inside a deleted namespace, the other end of a deleted veth, on a
   * deleted link), as `label (with <remover>)`. Absent when there are none.
   */
  readonly foreignRemoved?: readonly string[];
  /**
   * Live links Voltron does not own that are ports of a bridge this plan deletes or recreates:
   * the kernel releases them (they stay, without a master), as `label (from <remover>)`. Absent
   * when there are none.
   */
  readonly foreignReleased?: readonly string[];
  /**
   * Links Voltron created that are live under another name (renamed by hand: the ifindex it
   * recorded), as `label (now NAME, ifindex N)`. Voltron neither renames them back nor deletes
   * them: a declared one is created again beside it. Absent when there are none.
   */
  readonly renamedAway?: readonly string[];
  /**
   * seg6 encap routes in a forwarding namespace that drop forwarded packets without telling
   * their sender (links of the namespace take larger ones than fit once encapsulated), one line
   * per route (seg6-mtu.ts). Absent when there are none.
   */
  readonly seg6MtuGaps?: readonly string[];
  /** One subnet on two links of a namespace: hosts of it on the second link are not reached (shared-subnet.ts). */
  readonly sharedSubnets?: readonly string[];
}

/** Inventory: what earlier applies created or took over (prune only from here). */
export interface Inventory {
  readonly version: 1;
  /** Resource keys Voltron owns, with the resource as last applied. */
  readonly owned: Readonly<Record<string, Resource>>;
  /**
   * Declared routes found live with another protocol than Voltron's (there before Voltron:
   * adopted, never deleted when they leave the config), as last verified: the plan moves one
   * whose `metric` or `table` the config changed (adoptedRouteMoves). Absent: none.
   */
  readonly adopted?: Readonly<Record<string, Resource>>;
  /** For sysctls and tunsrc: the value before Voltron first set it (restored on delete). */
  readonly original: Readonly<Record<string, string>>;
  /**
   * ifindex of each owned link as last verified: a live link of that name with another index
   * was made by someone else after Voltron's went (absent: unknown, the name is trusted).
   */
  readonly ifindex?: Readonly<Record<string, number>>;
  /**
   * Netns cookie (decimal u64) of each owned namespace as last verified: a live namespace of
   * that name with another cookie was made by someone else after Voltron's went, and nothing in
   * it is Voltron's (absent: unknown, the name is trusted). Names and inodes are reused; cookies
   * are not, within a boot. Also for adopted namespaces holding owned objects: recreated, they
   * hold none of Voltron's any more (see forgetRecreated).
   */
  readonly netnsCookie?: Readonly<Record<string, string>>;
  /**
   * The `ignore` patterns of the last apply. `destroy` reads no config, and leaves what they match
   * alone as apply does (never read, planned or written).
   */
  readonly ignore?: readonly string[];
  readonly revision?: string; // last applied git revision
  /** The config directory (absolute) of the last apply: another config sharing the state dir prunes its objects. */
  readonly configDir?: string;
  /**
   * The host (`--host`, overlay `hosts/<host>.yaml`) of the last apply: with one config for many
   * hosts, a plan for another host of it deletes this host's objects.
   */
  readonly host?: string;
  readonly appliedAt?: string;
  /** The kernel boot `owned` and `original` were recorded in (util/boot). */
  readonly bootId?: string;
}

/**
 * Whether a change removes the live object from the kernel: a delete, or a replace that deletes
 * it itself (a veth end replaced by its pair's change goes with the pair).
 */
export function removesLive(c: { readonly action: ChangeAction; readonly createdBy?: string }): boolean {
  return c.action === 'delete' || (c.action === 'replace' && c.createdBy === undefined);
}

export const EMPTY_INVENTORY: Inventory = { version: 1, owned: {}, original: {} };
