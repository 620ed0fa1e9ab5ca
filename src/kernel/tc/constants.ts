// Traffic-control netlink numbers (linux/rtnetlink.h, pkt_sched.h, pkt_cls.h of this machine).
// Kept here rather than in netlink/rtnl.ts: only the tc module uses them.

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_CHAIN = 11;

export const TC_LINKLAYER_ETHERNET = 1;

export const TCA_HTB_PARMS = 1;
export const TCA_HTB_INIT = 2;
export const TCA_HTB_CTAB = 3;
export const TCA_HTB_RTAB = 4;
export const TCA_HTB_DIRECT_QLEN = 5;
export const TCA_HTB_RATE64 = 6;
export const TCA_HTB_CEIL64 = 7;
export const TC_HTB_PROTOVER = 3;

export const TCA_TBF_PARMS = 1;
export const TCA_TBF_RTAB = 2;
export const TCA_TBF_PTAB = 3;
export const TCA_TBF_RATE64 = 4;
export const TCA_TBF_PRATE64 = 5;
export const TCA_TBF_BURST = 6;
export const TCA_TBF_PBURST = 7;

export const TCA_FQ_PLIMIT = 1;
export const TCA_FQ_FLOW_PLIMIT = 2;
export const TCA_FQ_QUANTUM = 3;
export const TCA_FQ_FLOW_MAX_RATE = 7;

export const TCA_FQ_CODEL_TARGET = 1;
export const TCA_FQ_CODEL_LIMIT = 2;
export const TCA_FQ_CODEL_INTERVAL = 3;
export const TCA_FQ_CODEL_ECN = 4;
export const TCA_FQ_CODEL_FLOWS = 5;
export const TCA_FQ_CODEL_QUANTUM = 6;

export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_TAG = 10;
export const TCA_BPF_ID = 11;
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

export const ETH_P_ALL = 0x0003;

/** u32 "no limit" used by several qdiscs (fq maxrate). */
export const U32_MAX = 0xffffffff;
