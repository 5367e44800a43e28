// Commands of the shell feature (registered through extra.ts): `hoard completion bash|zsh|fish`
// prints a completion script generated from the real command tree; `completion names` and
// `completion paths` feed it names and volume-relative paths (offloaded files too) from the index.

import { realpathSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import { defineCommand, type ArgsDef } from "citty";
import { parse as parseToml } from "smol-toml";
import { GLOBAL_ARGS, type Command, type CmdResult } from "./dispatch.ts";
import { readConfigText, resolveConfigPath } from "../config/load.ts";
import { usageError } from "../kernel/errors.ts";

// ---------- the model: what the completion scripts know about the command tree ----------

/**
 * What a flag's value or a positional argument is: completed from files, directories, names, a fixed
 * list, or (path) the indexed paths of the volume named by the first positional.
 */
export type Kind = "file" | "dir" | "path" | "volume" | "destination" | "none" | `values:${string}`;

export interface FlagSpec {
  name: string; // "--dry-run" or "-q"
  description: string;
  value?: Kind; // absent: a boolean flag
}
export interface NodeSpec {
  path: string; // "" for hoard itself, "dest init", …
  description: string;
  subs: { name: string; description: string }[];
  flags: FlagSpec[];
  positionals: Kind[];
  /** Kind of every further positional (offload/restore paths), if the command takes any. */
  rest?: Kind;
}

const resolveSync = <T>(x: unknown): T => (typeof x === "function" ? (x as () => T)() : (x as T));
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** Kind of a string flag or positional, from its value hint, its name and (for a few) its command. */
function kindOf(path: string, name: string, a: { type?: string; valueHint?: string; options?: string[] }): Kind {
  if (a.type === "enum" && Array.isArray(a.options)) return `values:${a.options.join("|")}`;
  if (path === "completion" && name === "shell") return "values:bash|zsh|fish";
  if (path === "completion names" && name === "what") return "values:volumes|destinations";
  if (a.valueHint === "FILE") return "file";
  if (a.valueHint === "DIR" || name === "dir") return "dir";
  if (path === "restore" && name === "to") return "dir";
  if (path === "volume add") return name === "path" ? "dir" : "none";
  if (name === "volume") return "volume";
  if (name === "dest" || name === "from" || name === "to" || (path.startsWith("dest ") && name === "name")) return "destination";
  return "none";
}

/** Every command of the tree, depth first, with its subcommands, flags (own + global) and positionals. */
export function commandModel(root: Command): NodeSpec[] {
  const out: NodeSpec[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const p = path.join(" ");
    const meta = resolveSync<{ description?: string } | undefined>(cmd.meta) ?? {};
    const subsDef = resolveSync<Record<string, Command> | undefined>(cmd.subCommands) ?? {};
    const own = cmd.run ? (resolveSync<ArgsDef | undefined>(cmd.args) ?? {}) : {};
    const flags: FlagSpec[] = [];
    const positionals: Kind[] = [];
    for (const [k, a] of Object.entries({ ...own, ...GLOBAL_ARGS } as ArgsDef)) {
      if (a.type === "positional") {
        positionals.push(kindOf(p, k, a as any));
        continue;
      }
      const value = a.type === "boolean" ? undefined : kindOf(p, k, a as any);
      flags.push({ name: `--${kebab(k)}`, description: a.description ?? "", value });
      for (const al of ([] as string[]).concat((a as any).alias ?? [])) flags.push({ name: al.length === 1 ? `-${al}` : `--${al}`, description: a.description ?? "", value });
    }
    flags.push({ name: "--help", description: "show help" }, { name: "-h", description: "show help" });
    if (path.length === 0) flags.push({ name: "--version", description: "print the version" });
    const subs = Object.entries(subsDef).map(([name, c]) => ({ name, description: resolveSync<{ description?: string } | undefined>(c.meta)?.description ?? "" }));
    // PATH… after a VOLUME: the volume's indexed paths (offloaded ones are not on disk to complete from)
    const rest: Kind | undefined = (cmd as any).variadic === true ? (positionals[0] === "volume" ? "path" : "file") : undefined;
    out.push({ path: p, description: meta.description ?? "", subs, flags, positionals, rest });
    for (const [name, c] of Object.entries(subsDef)) walk(c, [...path, name]);
  };
  walk(root, []);
  return out;
}

// ---------- script generation ----------

/** Single-quoted for sh/bash/zsh (and fish: only \' and \\ are special there, handled apart). */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** The data functions and the walking core shared by bash and zsh (POSIX-style code both accept). */
function shCore(model: NodeSpec[]): string {
  const pairs = (items: { name: string; description: string }[]) => items.map((i) => `${sq(i.name)} ${sq(oneLine(i.description))}`).join(" ");
  const subs = model.filter((n) => n.subs.length).map((n) => `    ${sq(n.path)}) printf '%s\\t%s\\n' ${pairs(n.subs)} ;;`);
  const flags = model.map((n) => `    ${sq(n.path)}) printf '%s\\t%s\\n' ${pairs(n.flags.map((f) => ({ name: f.name, description: f.description })))} ;;`);
  const issub = model.flatMap((n) => n.subs.map((s) => sq(`${n.path}|${s.name}`)));
  const vflags = model.flatMap((n) => n.flags.filter((f) => f.value).map((f) => `    ${sq(`${n.path}|${f.name}`)}) echo ${sq(f.value!)} ;;`));
  const pos = model.flatMap((n) => [
    ...n.positionals.map((k, i) => `    ${sq(`${n.path}|${i}`)}) echo ${sq(k)} ;;`),
    ...(n.rest ? [`    ${sq(`${n.path}|`)}*) echo ${sq(n.rest)} ;;`] : []),
  ]);
  return `__hoard_subs() {
  case "$1" in
${subs.join("\n")}
  esac
}
__hoard_flags() {
  case "$1" in
${flags.join("\n")}
  esac
}
__hoard_issub() {
  case "$1|$2" in
    ${issub.join("|")}) return 0 ;;
  esac
  return 1
}
__hoard_vflag() {
  case "$1|$2" in
${vflags.join("\n")}
  esac
}
__hoard_pos() {
  case "$1|$2" in
${pos.join("\n")}
  esac
}
# Candidates for the word being completed, one per line: "W<TAB>word<TAB>description", or F (files), D (directories).
# Arguments: the hoard command as typed, the current word, then the words between them.
__hoard_core() {
  __hb=$1 __hcur=$2
  shift 2
  __hp= __hn=0 __hpend= __hcfg= __hdb= __hvol=
  for __hw in "$@"; do
    if [ -n "$__hpend" ]; then
      [ "$__hpend" = --config ] && __hcfg=$__hw
      [ "$__hpend" = --db ] && __hdb=$__hw
      __hpend=
      continue
    fi
    case $__hw in
      --config=*) __hcfg=\${__hw#--config=}; continue ;;
      --db=*) __hdb=\${__hw#--db=}; continue ;;
      -*=*) continue ;;
      -*) [ -n "$(__hoard_vflag "$__hp" "$__hw")" ] && __hpend=$__hw; continue ;;
    esac
    if [ "$__hn" -eq 0 ] && __hoard_issub "$__hp" "$__hw"; then __hp=\${__hp:+$__hp }$__hw; else
      [ "$__hn" -eq 0 ] && __hvol=$__hw
      __hn=$((__hn + 1))
    fi
  done
  if [ -n "$__hpend" ]; then
    __hoard_emit "$(__hoard_vflag "$__hp" "$__hpend")"
    return
  fi
  case $__hcur in
    -*) __hoard_flags "$__hp" | while IFS= read -r __hl; do printf 'W\\t%s\\n' "$__hl"; done; return ;;
  esac
  [ "$__hn" -eq 0 ] && __hoard_subs "$__hp" | while IFS= read -r __hl; do printf 'W\\t%s\\n' "$__hl"; done
  __hoard_emit "$(__hoard_pos "$__hp" "$__hn")"
}
__hoard_emit() {
  case $1 in
    file) echo F ;;
    dir) echo D ;;
    path)
      set -- completion paths -- "$__hvol" "$__hcur"
      [ -n "$__hdb" ] && set -- --db "$__hdb" "$@"
      [ -n "$__hcfg" ] && set -- --config "$__hcfg" "$@"
      "$__hb" "$@" 2>/dev/null | while IFS= read -r __hl; do printf 'P\t%s\n' "$__hl"; done ;;
    volume | destination)
      if [ -n "$__hcfg" ]; then "$__hb" --config "$__hcfg" completion names "$1"s 2>/dev/null; else "$__hb" completion names "$1"s 2>/dev/null; fi |
        while IFS= read -r __hl; do printf 'W\\t%s\\t%s\\n' "$__hl" "$1"; done ;;
    values:*) printf '%s\\n' "\${1#values:}" | tr '|' '\\n' | while IFS= read -r __hl; do printf 'W\\t%s\\t\\n' "$__hl"; done ;;
  esac
}`;
}

export function bashScript(model: NodeSpec[]): string {
  return `# bash completion for hoard. Generated from its command tree by \`hoard completion bash\`.
# Use: eval "$(hoard completion bash)" in ~/.bashrc, or save it as
# ~/.local/share/bash-completion/completions/hoard
${shCore(model)}
_hoard() {
  local cur=\${COMP_WORDS[COMP_CWORD]} i w line files= dirs=
  local -a words=() cands=() paths=()
  # bash splits --flag=value at "=": glue those words back together
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == "=" && \${#words[@]} -gt 0 ]]; then
      if ((i + 1 < COMP_CWORD)); then words[\${#words[@]}-1]+="=\${COMP_WORDS[i+1]}"; ((i++)); fi
      continue
    fi
    words+=("$w")
  done
  [[ $cur == "=" ]] && cur=
  while IFS= read -r line; do
    case $line in
      F) files=1 ;;
      D) dirs=1 ;;
      W*) line=\${line#W$'\\t'}; cands+=("\${line%%$'\\t'*}") ;;
      P*) paths+=("\${line#P$'\\t'}") ;;
    esac
  done < <(__hoard_core "\${COMP_WORDS[0]}" "$cur" "\${words[@]}")
  COMPREPLY=()
  local IFS=$'\\n'
  if ((\${#cands[@]})); then COMPREPLY=($(compgen -W "\${cands[*]}" -- "$cur")); fi
  # volume paths come already matched (names may hold spaces: no word splitting); a directory gets no space
  if ((\${#paths[@]})); then
    for line in "\${paths[@]}"; do COMPREPLY+=("$(printf '%q' "$line")"); done
    [[ \${#paths[@]} -eq 1 && \${paths[0]} == */ ]] && compopt -o nospace 2>/dev/null
  fi
  if [[ -n $files ]]; then COMPREPLY+=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null; fi
  if [[ -n $dirs ]]; then COMPREPLY+=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null; fi
  return 0
}
complete -F _hoard hoard
`;
}

export function zshScript(model: NodeSpec[]): string {
  return `#compdef hoard
# zsh completion for hoard. Generated from its command tree by \`hoard completion zsh\`.
# Use: source <(hoard completion zsh) in ~/.zshrc (after compinit), or save it as _hoard in a directory of $fpath.
${shCore(model)}
_hoard() {
  local cur=\${words[CURRENT]} line name desc files= dirs=
  local -a cands paths
  for line in "\${(@f)$(__hoard_core "\${words[1]}" "$cur" "\${(@)words[2,CURRENT-1]}")}"; do
    case $line in
      F) files=1 ;;
      D) dirs=1 ;;
      W*)
        line=\${line#W$'\\t'}
        name=\${line%%$'\\t'*}
        desc=\${line#*$'\\t'}
        [[ $desc == "$line" ]] && desc=
        cands+=("\${name//:/\\\\:}:$desc") ;;
      P*) paths+=("\${line#P$'\\t'}") ;;
    esac
  done
  (( \${#cands} )) && _describe -t hoard-values 'hoard' cands
  # volume paths: a directory (ending in /) gets no space, so its contents complete next
  local p
  for p in $paths; do if [[ $p == */ ]]; then compadd -Q -S '' -- "\${(q)p}"; else compadd -Q -- "\${(q)p}"; fi; done
  [[ -n $files ]] && _files
  [[ -n $dirs ]] && _files -/
  return 0
}
if [ "$funcstack[1]" = "_hoard" ]; then
  _hoard "$@"
elif (( $+functions[compdef] )); then
  compdef _hoard hoard
fi
`;
}

export function fishScript(model: NodeSpec[]): string {
  const lines = (items: { name: string; description: string }[]) => items.map((i) => fq(`${i.name}\t${oneLine(i.description)}`)).join(" ");
  const subs = model.filter((n) => n.subs.length).map((n) => `    case ${fq(n.path)}\n      printf '%s\\n' ${lines(n.subs)}`);
  const flags = model.map((n) => `    case ${fq(n.path)}\n      printf '%s\\n' ${lines(n.flags)}`);
  const issub = model.flatMap((n) => n.subs.map((s) => fq(`${n.path}|${s.name}`)));
  const vflags = model.flatMap((n) => n.flags.filter((f) => f.value).map((f) => `    case ${fq(`${n.path}|${f.name}`)}\n      echo ${fq(f.value!)}`));
  const pos = model.flatMap((n) => [
    ...n.positionals.map((k, i) => `    case ${fq(`${n.path}|${i}`)}\n      echo ${fq(k)}`),
    ...(n.rest ? [`    case ${fq(`${n.path}|`)}'*'\n      echo ${fq(n.rest)}`] : []),
  ]);
  return `# fish completion for hoard. Generated from its command tree by \`hoard completion fish\`.
# Use: hoard completion fish > ~/.config/fish/completions/hoard.fish
function __hoard_subs
  switch $argv[1]
${subs.join("\n")}
  end
end
function __hoard_flags
  switch $argv[1]
${flags.join("\n")}
  end
end
function __hoard_issub
  switch "$argv[1]|$argv[2]"
    case ${issub.join(" ")}
      return 0
  end
  return 1
end
function __hoard_vflag
  switch "$argv[1]|$argv[2]"
${vflags.join("\n")}
  end
end
function __hoard_pos
  switch "$argv[1]|$argv[2]"
${pos.join("\n")}
  end
end
function __hoard_emit --argument-names bin cfg kind cur vol db
  switch $kind
    case file
      __fish_complete_path $cur
    case path
      set -l a
      test -n "$cfg"; and set a $a --config $cfg
      test -n "$db"; and set a $a --db $db
      $bin $a completion paths -- $vol $cur 2>/dev/null
    case dir
      __fish_complete_directories $cur
    case volume destination
      if test -n "$cfg"
        $bin --config $cfg completion names {$kind}s 2>/dev/null
      else
        $bin completion names {$kind}s 2>/dev/null
      end | while read -l n
        printf '%s\\t%s\\n' $n $kind
      end
    case 'values:*'
      string split '|' -- (string replace -- 'values:' '' $kind)
  end
end
function __hoard_complete
  set -l toks (commandline -opc)
  set -l cur (commandline -ct)
  set -l bin $toks[1]
  set -e toks[1]
  set -l p ''
  set -l n 0
  set -l pend ''
  set -l cfg ''
  set -l db ''
  set -l vol ''
  for w in $toks
    if test -n "$pend"
      test "$pend" = --config; and set cfg $w
      test "$pend" = --db; and set db $w
      set pend ''
      continue
    end
    switch $w
      case '--config=*'
        set cfg (string replace -- '--config=' '' $w)
        continue
      case '--db=*'
        set db (string replace -- '--db=' '' $w)
        continue
      case '-*=*'
        continue
      case '-*'
        set -l k (__hoard_vflag "$p" $w)
        test -n "$k"; and set pend $w
        continue
    end
    if test $n -eq 0; and __hoard_issub "$p" $w
      if test -n "$p"
        set p "$p $w"
      else
        set p $w
      end
    else
      test $n -eq 0; and set vol $w
      set n (math $n + 1)
    end
  end
  if test -n "$pend"
    __hoard_emit $bin "$cfg" (__hoard_vflag "$p" $pend) $cur
    return
  end
  switch $cur
    case '-*'
      __hoard_flags "$p"
      return
  end
  test $n -eq 0; and __hoard_subs "$p"
  set -l k (__hoard_pos "$p" $n)
  test -n "$k"; and __hoard_emit $bin "$cfg" $k "$cur" "$vol" "$db"
end
complete -c hoard -f -a '(__hoard_complete)'
`;
}

// ---------- commands ----------

/** Volume or destination names from the config file, without validating it (completion must never fail loudly). */
function namesFromConfig(configFlag: string | undefined, what: "volumes" | "destinations"): string[] {
  try {
    const text = readConfigText(resolveConfigPath(configFlag));
    if (!text) return [];
    const raw = parseToml(text) as Record<string, unknown>;
    const t = raw[what];
    return t && typeof t === "object" && !Array.isArray(t) ? Object.keys(t).sort() : [];
  } catch {
    return [];
  }
}

const names = defineCommand({
  meta: { name: "names", description: "print the volume or destination names of the config, one per line (used by the completion scripts)" },
  args: { what: { type: "positional", required: true, description: "volumes or destinations" } },
  async run({ args }: { args: any }): Promise<CmdResult> {
    const what = String(args.what);
    if (what !== "volumes" && what !== "destinations")
      throw usageError("bad_argument", `completion names takes volumes or destinations, not ${JSON.stringify(what)}`);
    const list = namesFromConfig(args.config, what);
    return { data: { [what]: list }, human: list.join("\n") };
  },
}) as Command;

/**
 * Completion candidates for the word `word` among a volume's indexed paths, the way selectors are
 * resolved: relative to cwd when it is inside the volume (only what lies below it), to the root
 * otherwise; an absolute word inside the volume stays absolute. One level at a time: a directory
 * is offered as "dir/" (pure).
 */
export function pathCandidates(paths: readonly string[], root: string, cwd: string, word: string): string[] {
  const under = (r: string, c: string) => {
    const rel = relative(r, c);
    return rel === "" ? "" : rel === ".." || rel.startsWith("../") || isAbsolute(rel) ? undefined : rel;
  };
  let prefix = ""; // what the shown form puts before a volume-relative path
  let base: string | undefined = ""; // the volume-relative directory the shown form starts from
  if (isAbsolute(word)) {
    const w = word.endsWith("/") ? word.slice(0, -1) : word;
    if (under(root, w) === undefined && under(root, word + "x") === undefined) return [];
    prefix = root.endsWith("/") ? root : root + "/";
  } else base = under(root, cwd);
  const out = new Set<string>();
  for (const p of paths) {
    let shown: string;
    if (base === undefined || base === "") shown = prefix + p;
    else if (p.startsWith(base + "/")) shown = p.slice(base.length + 1);
    else continue;
    if (!shown.startsWith(word)) continue;
    const slash = shown.indexOf("/", word.length);
    out.add(slash >= 0 ? shown.slice(0, slash + 1) : shown);
  }
  return [...out].sort();
}

const paths = defineCommand({
  meta: { name: "paths", description: "print the paths of a volume's index (present and offloaded) that complete WORD, one per line (used by the completion scripts)" },
  args: {
    volume: { type: "positional", required: true, description: "volume" },
    word: { type: "positional", required: false, description: "the word being completed" },
  },
  async run({ args }: { args: any }): Promise<CmdResult> {
    let list: string[] = [];
    try {
      // imported here: cmd-everyday.ts imports commands.ts, which imports this module (through extra.ts)
      const { withReadApp } = await import("./cmd-everyday.ts");
      const { liveFiles } = await import("../kernel/files.ts");
      await withReadApp({ ...args, quiet: true }, async (app) => {
        const vol = app.config.volumes[String(args.volume)];
        if (vol) {
          const rows = liveFiles(app.ctx.db, vol.name).filter((f) => f.status === "present" || f.status === "offloaded");
          let root = vol.path;
          try {
            root = realpathSync(vol.path);
          } catch {}
          let cwd = process.cwd();
          try {
            cwd = realpathSync(cwd);
          } catch {}
          list = pathCandidates(rows.map((f) => f.path), root, cwd, String(args.word ?? ""));
          if (!list.length && root !== vol.path) list = pathCandidates(rows.map((f) => f.path), vol.path, process.cwd(), String(args.word ?? ""));
        }
        return { data: null };
      });
    } catch {
      list = []; // completion never fails loudly
    }
    return { data: { paths: list }, human: list.join("\n") };
  },
}) as Command;

const completion = defineCommand({
  meta: { name: "completion", description: "print a shell completion script: hoard completion bash|zsh|fish" },
  args: { shell: { type: "positional", required: true, description: "bash, zsh or fish" } },
  subCommands: { names, paths },
  async run({ args }: { args: any }): Promise<CmdResult> {
    const shell = String(args.shell);
    const gen = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
    if (!gen) throw usageError("unknown_shell", `no completion for shell ${JSON.stringify(shell)}`, "use bash, zsh or fish");
    // imported here, not at the top: commands.ts imports this module (through extra.ts)
    const { commandTree } = await import("./commands.ts");
    const script = gen(commandModel(commandTree("")));
    return { data: { shell, script }, human: script };
  },
}) as Command;

export function shellCommands(): Record<string, Command> {
  return { completion };
}
