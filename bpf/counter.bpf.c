// SPDX-License-Identifier: GPL-2.0
/* tc/tcx packet and byte counter (version 1). Libbpf 1.1 rejects SEC("tc/<name>"). */
#include "counter.h"

SEC("tc")
int count_packets(struct __sk_buff *skb)
{
	count_slot(COUNTER_SLOT_ALL, skb->len);
	emit_event(skb, 1);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
