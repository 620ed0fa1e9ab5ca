// SPDX-License-Identifier: GPL-2.0
/* cgroup_skb packet/byte counters per direction. Always allows the packet (returns 1).
 * Counts skb->gso_segs so GSO super-packets count as the wire packets they become. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CG_SLOT_EGRESS 0
#define CG_SLOT_INGRESS 1

struct cg_value {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct cg_value);
} cg_counters SEC(".maps");

static __always_inline void count(__u32 slot, struct __sk_buff *skb)
{
	struct cg_value *v = bpf_map_lookup_elem(&cg_counters, &slot);
	__u32 segs = skb->gso_segs;

	if (!v)
		return;
	__sync_fetch_and_add(&v->packets, segs ? segs : 1);
	__sync_fetch_and_add(&v->bytes, skb->len);
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	count(CG_SLOT_EGRESS, skb);
	return 1;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	count(CG_SLOT_INGRESS, skb);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
