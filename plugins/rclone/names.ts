// rclone's "standard" name encoding: how rclone spells a local file name internally (in lsjson
// output, in --files-from-raw lines, in log objects and in paths given on its command line).

// rclone (lib/encoder) represents names internally in its Standard encoding: control characters
// become the Unicode "SYMBOL FOR" block (U+2401..U+241F, DEL -> U+2421), NUL -> U+2400, "/"
// inside a name -> U+FF0F, the names "." and ".." -> fullwidth dots, and any character that
// would otherwise decode (and the quote rune U+201B itself) is prefixed by U+201B. The local
// backend on Linux stores names in the Base encoding (NUL, slash, dot), so a local name maps to
// its standard name as Standard.Encode(Base.Decode(name)). Using these names keeps
// --files-from-raw (one name per line) exact even for names containing "\n" or "\r".

const QUOTE = "\u201b"; // ‛ SINGLE HIGH-REVERSED-9 QUOTATION MARK
const SYM = 0x2400; // ␀ SYMBOL FOR NULL
const FULL_SLASH = "\uff0f"; // ／
const FULL_DOT = "\uff0e"; // ．
const SYM_DEL = "\u2421"; // ␡

/** Base.Decode for the local backend's encoding (EncodeZero | EncodeSlash | EncodeDot). */
function baseDecode(s: string): string {
  switch (s) {
    case FULL_DOT:
      return ".";
    case FULL_DOT + FULL_DOT:
      return "..";
    case QUOTE + FULL_DOT:
      return FULL_DOT;
    case QUOTE + FULL_DOT + QUOTE + FULL_DOT:
      return FULL_DOT + FULL_DOT;
  }
  if (!/[\u2400\u201b\uff0f]/.test(s)) return s;
  let out = "";
  let unquoteNext = false;
  for (const ch of s) {
    const unquote = unquoteNext;
    unquoteNext = false;
    if (ch === "\u2400") out += unquote ? ch : "\0";
    else if (ch === QUOTE) {
      if (unquote) out += ch;
      else unquoteNext = true;
    } else if (ch === FULL_SLASH) out += unquote ? ch : "/";
    else out += (unquote ? QUOTE : "") + ch;
  }
  if (unquoteNext) out += QUOTE;
  return out;
}

/** Standard.Encode (EncodeZero | EncodeSlash | EncodeCtl | EncodeDel | EncodeDot). */
function standardEncode(s: string): string {
  switch (s) {
    case ".":
      return FULL_DOT;
    case "..":
      return FULL_DOT + FULL_DOT;
    case FULL_DOT:
      return QUOTE + FULL_DOT;
    case FULL_DOT + FULL_DOT:
      return QUOTE + FULL_DOT + QUOTE + FULL_DOT;
  }
  if (!/[\u0000-\u001f\u007f\u2400-\u241f\u2421\u201b\/\uff0f]/.test(s)) return s;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c <= 0x1f) out += String.fromCharCode(SYM + c);
    else if (c === 0x7f) out += SYM_DEL;
    else if ((c >= SYM && c <= SYM + 0x1f) || ch === SYM_DEL || ch === QUOTE || ch === FULL_SLASH) out += QUOTE + ch;
    else if (ch === "/") out += FULL_SLASH;
    else out += ch;
  }
  return out;
}

/** The rclone standard name of one local file name (a path segment). */
export function standardName(localName: string): string {
  return standardEncode(baseDecode(localName));
}

/** The rclone standard path of a "/"-separated local relative path (each segment encoded). */
export function standardPath(localPath: string): string {
  // fast path (almost every name): nothing either encoding touches, so the name is its own
  // standard name; "." / ".." segments and every special character take the full route
  if (!NEEDS_ENCODING.test(localPath)) return localPath;
  return localPath.split("/").map(standardName).join("/");
}
/** Characters (and segments) that baseDecode or standardEncode could change. */
const NEEDS_ENCODING = /[\u0000-\u001f\u007f\u2400-\u2421\u201b\uff0e\uff0f]|(^|\/)\.\.?(\/|$)/;

/**
 * An absolute local path as rclone's command line expects it (so that the local backend's
 * FromStandardPath gives back exactly this path). The leading "/" is kept.
 */
export function standardLocalPath(abs: string): string {
  return abs.split("/").map((seg) => (seg === "" ? seg : standardName(seg))).join("/");
}

/**
 * Whether rclone can address this local name at all. rclone's local backend cannot open a name
 * containing the quote rune U+201B that is not followed by a character it would decode
 * (Standard and Base encodings disagree on it), so such files cannot be copied by rclone.
 */
export function rcloneCanAddress(localPath: string): boolean {
  if (!localPath.includes(QUOTE)) return true;
  return localPath.split("/").every((seg) => baseEncodeRoundTrips(seg));
}

function baseEncodeRoundTrips(seg: string): boolean {
  // FromStandardName(Base, ToStandardName(Base, seg)) === seg  <=>  Base.Encode(Base.Decode(seg)) === seg
  return baseEncode(baseDecode(seg)) === seg;
}

/** Base.Encode (EncodeZero | EncodeSlash | EncodeDot). */
function baseEncode(s: string): string {
  switch (s) {
    case ".":
      return FULL_DOT;
    case "..":
      return FULL_DOT + FULL_DOT;
    case FULL_DOT:
      return QUOTE + FULL_DOT;
    case FULL_DOT + FULL_DOT:
      return QUOTE + FULL_DOT + QUOTE + FULL_DOT;
  }
  let out = "";
  for (const ch of s) {
    if (ch === "\0") out += "\u2400";
    else if (ch === "\u2400" || ch === QUOTE || ch === FULL_SLASH) out += QUOTE + ch;
    else if (ch === "/") out += FULL_SLASH;
    else out += ch;
  }
  return out;
}
