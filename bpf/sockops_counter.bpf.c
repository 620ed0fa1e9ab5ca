// SPDX-License-Identifier: GPL-2.0
/* Minimal sock_ops program: counts callbacks per op (BPF_SOCK_OPS_*) in an array. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SOCKOPS_MAX_OP 32

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SOCKOPS_MAX_OP);
	__type(key, __u32);
	__type(value, __u64);
} sockops_counts SEC(".maps");

SEC("sockops")
int count_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	__u64 *v;

	if (op >= SOCKOPS_MAX_OP)
		return 1;
	v = bpf_map_lookup_elem(&sockops_counts, &op);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
