// The few libc calls Bun and Node do not offer, through bun:ffi, loaded once, on
// first use. Each is null where it cannot be called (not Linux, not glibc, no FFI):
// callers then fall back (the mkfifo tool) or do without (a pipe left at its size).
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { closeSync } from "node:fs";
import { constants } from "node:os";

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
  /**
   * splice(fdIn, NULL, fdOut, NULL, len, flags): moves up to `len` bytes from `fdIn` into
   * `fdOut`, one of them a pipe, inside the kernel. The count (0: `fdIn` ended), or -errno.
   */
  splice(fdIn: number, fdOut: number, len: number, flags: number): number;
  /**
   * A TCP connection begun to `to` (a struct sockaddr_in or sockaddr_in6 of its `family`:
   * sockaddr.ts): a non-blocking socket (close-on-exec) whose connect(2) is under way. Its
   * fd, or -errno. connected() says how the connect went once the socket polls writable.
   */
  tcpConnect(to: { family: number; bytes: Uint8Array }): number;
  /** getsockopt(fd, SOL_SOCKET, SO_ERROR): 0 once a connect(2) succeeded, else its errno. */
  connected(fd: number): number;
  /** shutdown(fd, SHUT_RDWR): wakes whatever waits on the socket; 0, or -errno. */
  shutdown(fd: number): number;
}

export const POLLIN = 0x1;
export const POLLOUT = 0x4;
/** splice(2)'s flags. */
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;

// Linux's values, the same on x86-64 and arm64.
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_ERROR = 4;
const SHUT_RDWR = 2;
const EINPROGRESS = 115;

/** ECONNREFUSED, EPIPE and the like, for a positive errno `n` (what the calls above return negated). */
export function errnoName(n: number): string {
  for (const [name, value] of Object.entries(constants.errno)) if (value === n) return name;
  return `errno ${n}`;
}

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
      splice: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.u32], returns: FFIType.i64 },
      socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
      getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      shutdown: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
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
      splice: (fdIn, fdOut, len, flags) => {
        const n = Number(lib.symbols.splice(fdIn, null, fdOut, null, len, flags));
        return n < 0 ? -errno() : n;
      },
      tcpConnect: (to) => {
        const fd = lib.symbols.socket(to.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
        if (fd < 0) return -errno();
        if ((lib.symbols.connect(fd, to.bytes, to.bytes.length) as number) < 0 && errno() !== EINPROGRESS) {
          const e = errno();
          closeSync(fd);
          return -e;
        }
        return fd;
      },
      connected: (fd) => {
        const value = new Int32Array(1);
        const length = new Uint32Array([4]);
        return (lib.symbols.getsockopt(fd, SOL_SOCKET, SO_ERROR, value, length) as number) < 0 ? errno() : value[0]!;
      },
      shutdown: (fd) => ((lib.symbols.shutdown(fd, SHUT_RDWR) as number) < 0 ? -errno() : 0),
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
