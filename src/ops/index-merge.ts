// The index's view of a volume's live rows: read a page at a time in path order and merged with the
// walk (which comes in the same order), so memory stays flat however many files the volume holds.

import type { Db } from "../kernel/db.ts";
import { indexRowsAfter, type IndexRow } from "../kernel/files.ts";
import { comparePaths } from "./walk.ts";

/** Rows per page (HOARD_INDEX_PAGE overrides, so tests can cross page boundaries with few files). */
const PAGE = Number(process.env.HOARD_INDEX_PAGE) > 0 ? Math.floor(Number(process.env.HOARD_INDEX_PAGE)) : 2000;

/** A cursor over the live rows of a volume in path order, consumed by increasing paths. */
export class RowMerge {
  private page: IndexRow[] = [];
  private at = 0;
  private done = false;
  private after = "";
  constructor(
    private readonly db: Db,
    private readonly volume: string,
  ) {}

  private head(): IndexRow | undefined {
    if (this.at >= this.page.length) {
      if (this.done) return undefined;
      // rows recorded since the last page lie at or before the paths already taken: never read back
      this.page = indexRowsAfter(this.db, this.volume, this.after, PAGE);
      this.at = 0;
      if (this.page.length < PAGE) this.done = true;
      if (!this.page.length) return undefined;
      this.after = this.page[this.page.length - 1]!.path;
    }
    return this.page[this.at];
  }

  /**
   * The row at `path` (paths must come in increasing comparePaths order), if there is one; every row
   * before it that no path claimed goes to `passed`.
   */
  take(path: string, passed: (r: IndexRow) => void): IndexRow | undefined {
    for (let r = this.head(); r; r = this.head()) {
      const c = comparePaths(r.path, path);
      if (c > 0) return undefined;
      this.at++;
      if (c === 0) return r;
      passed(r);
    }
    return undefined;
  }

  /** Every row not taken yet goes to `passed`. */
  rest(passed: (r: IndexRow) => void): void {
    for (let r = this.head(); r; r = this.head()) {
      this.at++;
      passed(r);
    }
  }
}

/** A growing list of row ids, eight bytes each (a million rows: 8 MB, not a million objects). */
export class IdList {
  private ids = new BigInt64Array(1024);
  length = 0;
  push(id: bigint): void {
    if (this.length === this.ids.length) {
      const more = new BigInt64Array(this.ids.length * 2);
      more.set(this.ids);
      this.ids = more;
    }
    this.ids[this.length++] = id;
  }
  forEach(fn: (id: bigint) => void): void {
    for (let i = 0; i < this.length; i++) fn(this.ids[i]!);
  }
}
