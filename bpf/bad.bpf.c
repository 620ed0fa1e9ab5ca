// SPDX-License-Identifier: GPL-2.0
/* Deliberately rejected by the verifier: reads packet data without a bounds check
 * against skb->data_end. Used to test that load errors carry the verifier log. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int bad_unchecked_read(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;

	return *(__u32 *)(data + 64) == 0 ? 0 : -1;
}

char LICENSE[] SEC("license") = "GPL";
