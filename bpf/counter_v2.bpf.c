// SPDX-License-Identifier: GPL-2.0
/* Version 2 of counter.bpf.c: same slot 0 (so counts continue across bpf_link_update)
 * plus slot 1, which only this version fills. */
#include "counter.h"

SEC("tc")
int count_packets_v2(struct __sk_buff *skb)
{
	count_slot(COUNTER_SLOT_ALL, skb->len);
	count_slot(COUNTER_SLOT_V2, skb->len);
	emit_event(skb, 2);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
