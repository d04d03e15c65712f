// The few libc calls Bun and Node do not offer, through bun:ffi, loaded once, on
// first use. Each is null where it cannot be called (not Linux, not glibc, no FFI):
// callers then fall back (the mkfifo tool) or do without (a pipe left at its size).
import { dlopen, FFIType, ptr, read } from "bun:ffi";

export interface Libc {
  /** mkfifo(path, mode): true when made. */
  mkfifo(path: string, mode: number): boolean;
  /**
   * fcntl(fd, cmd, int arg). fcntl is variadic; declared with three ints it is called as
   * C calls it on x86-64 and arm64 Linux, whose conventions pass a variadic int in the
   * same register as a fixed one.
   */
  fcntl(fd: number, cmd: number, arg: number): number;
  /**
   * tee(fdIn, fdOut, len, flags): copies up to `len` bytes from the pipe `fdIn` into the
   * pipe `fdOut` without consuming them. The count, or -errno (-11: EAGAIN) on failure.
   */
  tee(fdIn: number, fdOut: number, len: number, flags: number): number;
  /** dup2(oldFd, newFd): newFd becomes a copy of oldFd (closed first if open). newFd, or -errno. */
  dup2(oldFd: number, newFd: number): number;
  /**
   * poll(2) on one fd: waits up to `timeoutMs` until `events` (POLLIN, POLLOUT) can be
   * done on it without blocking, or it hung up or failed. 1 when ready, 0 on timeout, or -errno.
   */
  poll(fd: number, events: number, timeoutMs: number): number;
  /**
   * memfd_create(name, MFD_CLOEXEC): an anonymous file in memory, read and written like a
   * file, and opened again by its /proc/self/fd name (as a pipe cannot be once its writer
   * is gone). The fd, or -errno.
   */
  memfd(name: string): number;
  /**
   * vmsplice(fd, {base of `data`, its length}, 1, 0): lends the pages under `data` to the
   * pipe `fd` instead of copying them (lend.ts says when that is safe). Blocks as write(2)
   * does on a blocking pipe. The count (the pipe may take less than all), or -errno.
   */
  vmsplice(fd: number, data: Uint8Array): number;
}

export const POLLIN = 0x1;
export const POLLOUT = 0x4;

let loaded: Libc | null | undefined;

export function libc(): Libc | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== "linux") return null;
  try {
    const lib = dlopen("libc.so.6", {
      mkfifo: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      tee: { args: [FFIType.i32, FFIType.i32, FFIType.u64, FFIType.u32], returns: FFIType.i64 },
      dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
      memfd_create: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      vmsplice: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.u32], returns: FFIType.i64 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    const errno = () => read.i32(lib.symbols.__errno_location()!, 0);
    // struct pollfd { int fd; short events; short revents; }, little-endian (x86-64, arm64):
    // one per call, reused (a call is synchronous and JS runs on one thread).
    const pollfd = new Int32Array(2);
    // struct iovec { void *iov_base; size_t iov_len; }, one per call, reused as pollfd is.
    const iovec = new BigUint64Array(2);
    loaded = {
      // The buffer itself is passed, not ptr() of it: a bare address keeps nothing alive,
      // and a temporary could be collected before (or while) libc reads the path.
      mkfifo: (path, mode) => lib.symbols.mkfifo(Buffer.from(`${path}\0`), mode) === 0,
      fcntl: (fd, cmd, arg) => lib.symbols.fcntl(fd, cmd, arg) as number,
      tee: (fdIn, fdOut, len, flags) => {
        const n = Number(lib.symbols.tee(fdIn, fdOut, len, flags));
        return n < 0 ? -errno() : n;
      },
      dup2: (oldFd, newFd) => {
        const n = lib.symbols.dup2(oldFd, newFd) as number;
        return n < 0 ? -errno() : n;
      },
      poll: (fd, events, timeoutMs) => {
        pollfd[0] = fd;
        pollfd[1] = events & 0xffff; // revents (the high half) cleared
        const n = lib.symbols.poll(pollfd, 1, timeoutMs) as number;
        return n < 0 ? -errno() : n;
      },
      vmsplice: (fd, data) => {
        if (!data.length) return 0;
        iovec[0] = BigInt(ptr(data));
        iovec[1] = BigInt(data.length);
        const n = Number(lib.symbols.vmsplice(fd, iovec, 1, 0));
        return n < 0 ? -errno() : n;
      },
      memfd: (name) => {
        const n = lib.symbols.memfd_create(Buffer.from(`${name}\0`), 1 /* MFD_CLOEXEC */) as number;
        return n < 0 ? -errno() : n;
      },
    };
  } catch {
    // No glibc here, or no FFI.
  }
  return loaded;
}
