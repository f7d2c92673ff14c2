// Reusable I/O buffers. Streaming a blob through fresh 1 MiB buffers makes the garbage collector
// the main cost of a pull; buffers from this pool are handed back once the socket has taken their
// bytes. The pool is bounded: past its size, buffers are allocated and left to the collector.
export class BufferPool {
  readonly size: number;
  private readonly max: number;
  private readonly free: Buffer[] = [];

  constructor(size: number, max: number) {
    this.size = size;
    this.max = max;
  }

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  give(b: Buffer): void {
    if (b.length === this.size && this.free.length < this.max) this.free.push(b);
  }
}
