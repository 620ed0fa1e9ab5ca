// Thin libc binding (koffi) for the syscalls Node does not expose: netlink sockets,
// setns/unshare for network namespaces, and mount for named namespaces.
import { koffi } from './ffi';

const lib = koffi.load('libc.so.6');

export const libc = {
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  bind: lib.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
  setsockopt: lib.func('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
  getsockopt: lib.func('int getsockopt(int fd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
  send: lib.func('intptr_t send(int fd, const void *buf, size_t len, int flags)'),
  recv: lib.func('intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)'),
  close: lib.func('int close(int fd)'),
  open: lib.func('int open(const char *path, int flags, int mode)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  unshare: lib.func('int unshare(int flags)'),
  mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  errnoLocation: lib.func('int *__errno_location()'),
  strerror: lib.func('const char *strerror(int errnum)'),
  getsockname: lib.func('int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *addrlen)'),
};

/** errno of the last failed libc call on this thread. */
export function errno(): number {
  return koffi.decode(libc.errnoLocation(), 'int') as number;
}

export class SyscallError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    detail = '',
  ) {
    super(`${syscall}: ${errnoName(errno)} (${libc.strerror(errno) as string})${detail ? `: ${detail}` : ''}`);
    this.name = 'SyscallError';
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF', 11: 'EAGAIN',
  12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE',
  28: 'ENOSPC', 34: 'ERANGE', 61: 'ENODATA', 71: 'EPROTO', 75: 'EOVERFLOW', 90: 'EMSGSIZE', 92: 'ENOPROTOOPT',
  93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE',
  99: 'EADDRNOTAVAIL', 100: 'ENETDOWN', 101: 'ENETUNREACH', 105: 'ENOBUFS', 110: 'ETIMEDOUT', 113: 'EHOSTUNREACH',
  524: 'ENOTSUPP',
};

export function errnoName(e: number): string {
  return ERRNO_NAMES[e] ?? `errno ${e}`;
}

export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_SHARED = 1 << 20;
export const MNT_DETACH = 2;
