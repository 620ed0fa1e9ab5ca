// Raw koffi declarations for Debian's libbpf.so.1 (1.1.x) and the few libc calls the
// binding needs. Everything here is internal: use the typed wrappers in this folder.
// Pointer arguments are declared `void *` where we pass Node Buffers: koffi hands the
// Buffer's memory to C directly (no copy), which keeps map operations cheap.
import { koffi } from '../ffi';

/** Library name loaded through the dynamic linker (Debian package libbpf1). */
export const LIBBPF_SONAME = 'libbpf.so.1';


// Opaque handles owned by libbpf.
koffi.opaque('bpf_object');
koffi.opaque('bpf_program');
koffi.opaque('bpf_map');
koffi.opaque('ring_buffer');

/** struct bpf_object_open_opts (libbpf 1.1: 80 bytes; the u32 stub replaces attach_prog_fd). */
export const BpfObjectOpenOpts = koffi.struct('bpf_object_open_opts', {
  sz: 'size_t',
  object_name: 'const char *',
  relaxed_maps: 'bool',
  pin_root_path: 'const char *',
  _stub_attach_prog_fd: 'uint32_t',
  kconfig: 'const char *',
  btf_custom_path: 'const char *',
  kernel_log_buf: 'void *',
  kernel_log_size: 'size_t',
  kernel_log_level: 'uint32_t',
});

/** struct bpf_tc_hook. */
export const BpfTcHook = koffi.struct('bpf_tc_hook', {
  sz: 'size_t',
  ifindex: 'int',
  attach_point: 'int',
  parent: 'uint32_t',
});

/** struct bpf_tc_opts (prog_id is written back by bpf_tc_attach). */
export const BpfTcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t',
  prog_fd: 'int',
  flags: 'uint32_t',
  prog_id: 'uint32_t',
  handle: 'uint32_t',
  priority: 'uint32_t',
});

/** struct bpf_map_batch_opts. */
export const BpfMapBatchOpts = koffi.struct('bpf_map_batch_opts', {
  sz: 'size_t',
  elem_flags: 'uint64_t',
  flags: 'uint64_t',
});

/** struct bpf_link_update_opts. */
export const BpfLinkUpdateOpts = koffi.struct('bpf_link_update_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
  old_prog_fd: 'uint32_t',
});

/** struct bpf_link_create_opts, only the leading fields we set (sz tells libbpf the rest is zero). */
export const BpfLinkCreateOpts = koffi.struct('bpf_link_create_opts', {
  sz: 'size_t',
  flags: 'uint32_t',
});

/** struct bpf_map_create_opts. */
export const BpfMapCreateOpts = koffi.struct('bpf_map_create_opts', {
  sz: 'size_t',
  btf_fd: 'uint32_t',
  btf_key_type_id: 'uint32_t',
  btf_value_type_id: 'uint32_t',
  btf_vmlinux_value_type_id: 'uint32_t',
  inner_map_fd: 'uint32_t',
  map_flags: 'uint32_t',
  map_extra: 'uint64_t',
  numa_node: 'uint32_t',
  map_ifindex: 'uint32_t',
});

/** int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size) */
export const RingBufferSampleFn = koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)');
/** int (*libbpf_print_fn_t)(enum libbpf_print_level, const char *, va_list): va_list reaches us as a pointer. */
export const LibbpfPrintFn = koffi.proto('int libbpf_print_fn_t(int level, const char *fmt, void *ap)');

function declareBpf() {
  const lib = koffi.load(LIBBPF_SONAME);
  return {
  // objects
  object__open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, const bpf_object_open_opts *opts)'),
  object__load: lib.func('int bpf_object__load(bpf_object *obj)'),
  object__close: lib.func('void bpf_object__close(bpf_object *obj)'),
  object__name: lib.func('const char *bpf_object__name(const bpf_object *obj)'),
  object__next_program: lib.func('bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prev)'),
  object__next_map: lib.func('bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *prev)'),
  // programs
  program__name: lib.func('const char *bpf_program__name(const bpf_program *prog)'),
  program__section_name: lib.func('const char *bpf_program__section_name(const bpf_program *prog)'),
  program__fd: lib.func('int bpf_program__fd(const bpf_program *prog)'),
  program__type: lib.func('int bpf_program__type(const bpf_program *prog)'),
  program__expected_attach_type: lib.func('int bpf_program__expected_attach_type(const bpf_program *prog)'),
  program__set_autoload: lib.func('int bpf_program__set_autoload(bpf_program *prog, bool autoload)'),
  program__set_log_level: lib.func('int bpf_program__set_log_level(bpf_program *prog, uint32_t level)'),
  // maps (object-level)
  map__name: lib.func('const char *bpf_map__name(const bpf_map *map)'),
  map__fd: lib.func('int bpf_map__fd(const bpf_map *map)'),
  map__type: lib.func('int bpf_map__type(const bpf_map *map)'),
  map__key_size: lib.func('uint32_t bpf_map__key_size(const bpf_map *map)'),
  map__value_size: lib.func('uint32_t bpf_map__value_size(const bpf_map *map)'),
  map__max_entries: lib.func('uint32_t bpf_map__max_entries(const bpf_map *map)'),
  map__set_max_entries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)'),
  map__set_pin_path: lib.func('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
  map__pin_path: lib.func('const char *bpf_map__pin_path(const bpf_map *map)'),
  map__is_pinned: lib.func('bool bpf_map__is_pinned(const bpf_map *map)'),
  map__pin: lib.func('int bpf_map__pin(bpf_map *map, const char *path)'),
  map__unpin: lib.func('int bpf_map__unpin(bpf_map *map, const char *path)'),
  // fd-level syscall wrappers
  map_create: lib.func(
    'int bpf_map_create(int map_type, const char *map_name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const bpf_map_create_opts *opts)',
  ),
  map_lookup_elem: lib.func('int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  map_update_elem: lib.func('int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  map_delete_elem: lib.func('int bpf_map_delete_elem(int fd, const void *key)'),
  map_get_next_key: lib.func('int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  map_lookup_batch: lib.func(
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, const bpf_map_batch_opts *opts)',
  ),
  map_lookup_and_delete_batch: lib.func(
    'int bpf_map_lookup_and_delete_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, const bpf_map_batch_opts *opts)',
  ),
  map_update_batch: lib.func(
    'int bpf_map_update_batch(int fd, const void *keys, const void *values, void *count, const bpf_map_batch_opts *opts)',
  ),
  map_delete_batch: lib.func('int bpf_map_delete_batch(int fd, const void *keys, void *count, const bpf_map_batch_opts *opts)'),
  obj_pin: lib.func('int bpf_obj_pin(int fd, const char *pathname)'),
  obj_get: lib.func('int bpf_obj_get(const char *pathname)'),
  obj_get_info_by_fd: lib.func('int bpf_obj_get_info_by_fd(int bpf_fd, void *info, void *info_len)'),
  prog_get_fd_by_id: lib.func('int bpf_prog_get_fd_by_id(uint32_t id)'),
  map_get_fd_by_id: lib.func('int bpf_map_get_fd_by_id(uint32_t id)'),
  link_get_fd_by_id: lib.func('int bpf_link_get_fd_by_id(uint32_t id)'),
  // links
  link_create: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, const bpf_link_create_opts *opts)'),
  link_update: lib.func('int bpf_link_update(int link_fd, int new_prog_fd, const bpf_link_update_opts *opts)'),
  link_detach: lib.func('int bpf_link_detach(int link_fd)'),
  // legacy tc (clsact + cls_bpf direct-action)
  tc_hook_create: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tc_hook_destroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
  tc_attach: lib.func('int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tc_detach: lib.func('int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)'),
  // ring buffers
  ring_buffer__new: lib.func('ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn *sample_cb, void *ctx, const void *opts)'),
  ring_buffer__add: lib.func('int ring_buffer__add(ring_buffer *rb, int map_fd, ring_buffer_sample_fn *sample_cb, void *ctx)'),
  ring_buffer__poll: lib.func('int ring_buffer__poll(ring_buffer *rb, int timeout_ms)'),
  ring_buffer__consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
  ring_buffer__epoll_fd: lib.func('int ring_buffer__epoll_fd(const ring_buffer *rb)'),
  ring_buffer__free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
  // misc
  num_possible_cpus: lib.func('int libbpf_num_possible_cpus()'),
  set_print: lib.func('void *libbpf_set_print(libbpf_print_fn_t *fn)'),
  enable_stats: lib.func('int bpf_enable_stats(int type)'),
  };
}

function declareLibc() {
  const libc = koffi.load('libc.so.6');
  return {
  close: libc.func('int close(int fd)'),
  open: libc.func('int open(const char *path, int flags, int mode)'),
  unlink: libc.func('int unlink(const char *path)'),
  if_nametoindex: libc.func('unsigned int if_nametoindex(const char *ifname)'),
  vsnprintf: libc.func('int vsnprintf(void *buf, size_t size, const char *fmt, void *ap)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  };
}

/** Declared on first use: loading libbpf and declaring ~70 functions costs ~12 ms of every CLI start. */
function lazy<T extends object>(declare: () => T): T {
  let table: T | undefined;
  return new Proxy({} as T, { get: (_t, k) => (table ??= declare())[k as keyof T] });
}

/** Raw libbpf functions. Return conventions are libbpf 1.x: negative errno, or NULL + errno. */
export const bpf = lazy(declareBpf);

/** libc calls used by the binding (own declarations: `_Out_`-free and Buffer-friendly). */
export const cfn = lazy(declareLibc);

/** errno of the last failed native call on this thread (koffi preserves it across the call). */
export function lastErrno(): number {
  return koffi.errno();
}
