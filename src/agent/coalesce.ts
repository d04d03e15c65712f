// ssh2 hands each SSH packet (at most 32 KiB of payload: its limit, not ours) to
// the socket in a write of its own. Gathered until the current run of JavaScript
// ends (a microtask) and written as one, a burst of packets costs one socket write
// and the peer one read: measured on 256 MiB through a channel, about 10–15 % less
// CPU on each side (bench/DATAPATH.md, "Through an agent"). ssh2 never looks at
// the socket's own backpressure (each channel's SSH window bounds what is in
// flight), so answering "written" at once changes nothing it relies on.
const FLUSH_AT = 256 * 1024;

interface WritableSock {
  write(b: any, ...rest: any[]): boolean;
  end(...a: any[]): any;
}

export function coalesceWrites(sock: WritableSock | undefined): void {
  if (!sock) return;
  const write = sock.write.bind(sock);
  const end = sock.end.bind(sock);
  let queue: Buffer[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!queue.length) return;
    const b = queue.length === 1 ? queue[0]! : Buffer.concat(queue, size);
    queue = [];
    size = 0;
    write(b);
  };
  sock.write = (b: any, ...rest: any[]) => {
    // Anything but a plain buffer (a string, a callback) goes as it came, after what waits.
    if (!Buffer.isBuffer(b) || rest.length) { flush(); return write(b, ...rest); }
    queue.push(b);
    size += b.length;
    if (size >= FLUSH_AT) flush();
    else if (!scheduled) { scheduled = true; queueMicrotask(flush); }
    return true;
  };
  sock.end = (...a: any[]) => { flush(); return end(...a); };
}
