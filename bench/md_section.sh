# shellcheck shell=bash
# write_md_section FILE NAME HEADING COMMAND TABLE: replace the text between
# <!-- NAME:begin --> and <!-- NAME:end --> in FILE with TABLE, or append a
# "## HEADING" section holding it (with the COMMAND that reproduces it).
# Shared by the benchmark scripts that write docs/benchmarks.md.
write_md_section() {
    local file=$1 name=$2 heading=$3 command=$4 table=$5
    local begin="<!-- $name:begin -->" end="<!-- $name:end -->"
    if grep -qF "$begin" "$file"; then
        awk -v b="$begin" -v e="$end" -v t="$table" '
            $0 == b {print; print t; skip=1; next}
            $0 == e {skip=0}
            !skip {print}' "$file" >"$file.tmp" && mv "$file.tmp" "$file"
    else
        printf '\n## %s\n\n`%s`\n\n%s\n%s\n%s\n' "$heading" "$command" "$begin" "$table" "$end" >>"$file"
    fi
}
