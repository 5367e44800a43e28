// The bash and zsh completion scripts: data functions generated from the completion model, and one
// POSIX-style walking core both shells run (names and volume paths come from `hoard completion …`).

import { oneLine, type NodeSpec } from "./completion-model.ts";

/** Single-quoted for sh/bash/zsh (and fish: only \' and \\ are special there, handled apart). */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;


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
