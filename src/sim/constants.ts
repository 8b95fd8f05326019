/** The kernel's constants simulated code may use by name: errno values, page and FOLL_ flags, limits. */

export const ERRNO: Record<string, number> = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, EAGAIN: 11, ENOMEM: 12, EFAULT: 14,
  ENOTTY: 25, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOSPC: 28, ERANGE: 34, ENOSYS: 38,
  EOVERFLOW: 75, EOPNOTSUPP: 95, ETIMEDOUT: 110, ERESTARTSYS: 512,
};

export const CONSTANTS: Record<string, number> = {
  ...ERRNO,
  NULL: 0, true: 1, false: 0,
  PAGE_SIZE: 4096, PAGE_SHIFT: 12, PAGE_MASK: -4096,
  FOLL_WRITE: 0x01, FOLL_TOUCH: 0x02, FOLL_GET: 0x04, FOLL_DUMP: 0x08, FOLL_FORCE: 0x10,
  FOLL_NOWAIT: 0x20, FOLL_NOFAULT: 0x80, FOLL_HWPOISON: 0x100, FOLL_ANON: 0x8000,
  FOLL_LONGTERM: 0x10000, FOLL_PIN: 0x40000, FOLL_FAST_ONLY: 0x80000,
  // enum dma_data_direction: a release dirties when the device wrote (DMA_FROM_DEVICE).
  DMA_BIDIRECTIONAL: 0, DMA_TO_DEVICE: 1, DMA_FROM_DEVICE: 2, DMA_NONE: 3,
  UINT_MAX: 0xffffffff, INT_MAX: 0x7fffffff, ULONG_MAX: Number.MAX_SAFE_INTEGER, SIZE_MAX: Number.MAX_SAFE_INTEGER,
};
