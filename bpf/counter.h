/* Shared map layout of counter.bpf.c and counter_v2.bpf.c: both objects declare the
 * same maps so the second one can reuse the first one's pinned maps (pin path) and a
 * bpf_link_update from v1 to v2 keeps counting into the same slots. */
#ifndef VOLTRON_COUNTER_H
#define VOLTRON_COUNTER_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* tcx return codes (linux/bpf.h of Debian 12 predates tcx). TCX_NEXT == TC_ACT_UNSPEC,
 * so the same program also means "continue" as a clsact direct-action filter. */
#define TCX_NEXT -1

#define COUNTER_SLOT_ALL 0 /* every packet, both versions */
#define COUNTER_SLOT_V2 1  /* only counted by counter_v2: proves the new program runs */
#define COUNTER_SLOTS 4

struct counter_value {
	__u64 packets;
	__u64 bytes;
};

/* Per-CPU: no atomics on the fast path; user space sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTER_SLOTS);
	__type(key, __u32);
	__type(value, struct counter_value);
} counters SEC(".maps");

/* One record per packet (dropped silently when the ring is full). */
struct packet_event {
	__u32 version; /* 1 = counter, 2 = counter_v2 */
	__u32 ifindex;
	__u32 len;
	__u32 protocol; /* skb->protocol, network byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline void count_slot(__u32 slot, __u32 len)
{
	struct counter_value *v = bpf_map_lookup_elem(&counters, &slot);

	if (v) {
		v->packets += 1;
		v->bytes += len;
	}
}

static __always_inline void emit_event(struct __sk_buff *skb, __u32 version)
{
	struct packet_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return;
	e->version = version;
	e->ifindex = skb->ifindex;
	e->len = skb->len;
	e->protocol = skb->protocol;
	bpf_ringbuf_submit(e, 0);
}

#endif
