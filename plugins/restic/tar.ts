// A streaming reader of the tar stream `restic dump SNAP DIR` writes (Go's archive/tar: ustar, PAX
// and GNU long names): hands each regular file's bytes to a sink as they arrive, keeps nothing else.

export interface TarSink {
  /** A regular file member begins: return a consumer for its bytes, or undefined to skip it. */
  file(name: string, size: number): ((chunk: Uint8Array) => void) | undefined;
  /** The member whose consumer was returned has been read completely. */
  end(name: string): void;
}

const BLOCK = 512;
const dec = new TextDecoder();

function cstr(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function num(b: Uint8Array, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    return n;
  }
  const s = cstr(b, off, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

/** PAX records "LEN key=value\n". */
function pax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = parseInt(dec.decode(data.subarray(i, sp)), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = data.subarray(sp + 1, i + len - 1); // drop the trailing "\n"
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(dec.decode(rec.subarray(0, eq)), dec.decode(rec.subarray(eq + 1)));
    i += len;
  }
  return out;
}

export class TarReader {
  private buf = new Uint8Array(0);
  private remaining = 0; // data bytes left in the current member
  private padding = 0; // padding bytes after it
  private consumer: ((c: Uint8Array) => void) | undefined;
  private collect: Uint8Array[] | undefined; // PAX / GNU long-name data being gathered
  private collectKind = "";
  private current = "";
  private nextPax = new Map<string, string>();
  private nextLongName: string | undefined;
  private zeroBlocks = 0;
  /** Set when the end-of-archive blocks were seen. */
  done = false;

  constructor(private readonly sink: TarSink) {}

  push(chunk: Uint8Array): void {
    let data = chunk;
    while (data.length > 0 && !this.done) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, data.length);
        const part = data.subarray(0, n);
        if (this.consumer) this.consumer(part);
        else if (this.collect) this.collect.push(part.slice());
        this.remaining -= n;
        data = data.subarray(n);
        if (this.remaining === 0) this.memberDone();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, data.length);
        this.padding -= n;
        data = data.subarray(n);
        continue;
      }
      // a header: gather 512 bytes
      const need = BLOCK - this.buf.length;
      const take = data.subarray(0, need);
      const merged = new Uint8Array(this.buf.length + take.length);
      merged.set(this.buf);
      merged.set(take, this.buf.length);
      this.buf = merged;
      data = data.subarray(take.length);
      if (this.buf.length < BLOCK) break;
      const h = this.buf;
      this.buf = new Uint8Array(0);
      this.header(h);
    }
  }

  private header(h: Uint8Array): void {
    if (h.every((x) => x === 0)) {
      if (++this.zeroBlocks >= 2) this.done = true;
      return;
    }
    this.zeroBlocks = 0;
    const stored = num(h, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== stored) throw new Error("tar stream: bad header checksum");
    const type = String.fromCharCode(h[156] || 0x30);
    let size = num(h, 124, 12);
    const magic = cstr(h, 257, 6);
    let name = cstr(h, 0, 100);
    const prefix = magic.startsWith("ustar") ? cstr(h, 345, 155) : "";
    if (prefix) name = `${prefix}/${name}`;
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      this.collect = [];
      this.collectKind = type;
      this.start(size);
      return;
    }
    const p = this.nextPax;
    if (p.has("path")) name = p.get("path")!;
    else if (this.nextLongName !== undefined) name = this.nextLongName;
    if (p.has("size")) size = Number(p.get("size"));
    this.nextPax = new Map();
    this.nextLongName = undefined;
    this.current = name;
    this.consumer = type === "0" || type === "7" ? this.sink.file(name, size) : undefined;
    this.start(size);
  }

  private start(size: number): void {
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (size === 0) this.memberDone();
  }

  private memberDone(): void {
    if (this.collect) {
      const all = Buffer.concat(this.collect);
      if (this.collectKind === "x") this.nextPax = pax(all);
      else if (this.collectKind === "L") this.nextLongName = cstr(all, 0, all.length);
      this.collect = undefined;
      return;
    }
    if (this.consumer) {
      this.consumer = undefined;
      this.sink.end(this.current);
    }
  }
}
