// The few libc calls Bun and Node do not offer, through bun:ffi, loaded once, on
// first use. Each is null where it cannot be called (not Linux, not glibc, no FFI):
// callers then fall back (the mkfifo tool) or do without (a pipe left at its size).
import { dlopen, FFIType, read } from "bun:ffi";

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
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    const errno = () => read.i32(lib.symbols.__errno_location()!, 0);
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
    };
  } catch {
    // No glibc here, or no FFI.
  }
  return loaded;
}
