// The fish completion script: the same data functions and walk as the bash/zsh core, in fish syntax,
// generated from the completion model.

import { oneLine, type NodeSpec } from "./completion-model.ts";

/** Single-quoted for fish: only \' and \\ are special there. */
const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

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
