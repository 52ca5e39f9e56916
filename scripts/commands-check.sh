#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# commands-check.sh: every external command that the host's scripts
# (scripts/*.sh but the guests' *-guest.sh, .ci/run) run comes from a
# Debian package that the scripts install (the words of their
# need_packages calls, KSMPP_HOST_PACKAGES included, and what those depend
# on), or from one that every Debian system has (Essential, or Priority
# required: what debootstrap's smallest variant installs). Commands are
# found in command position by scripts/commands.py. Prints one
# "PASS|FAIL command NAME" line per command; exit status 1 if any fails.
# A command missing here fails too: nothing installs it.
set -euo pipefail
shopt -s inherit_errexit
. "$(dirname "$0")/lib.sh"

need_packages python3
cd "$KSMPP_TOP"
scripts=$(ls scripts/*.sh .ci/run | grep -v -- '-guest\.sh$')

# Functions (lib.sh's are everyone's), builtins and keywords: no commands.
# shellcheck disable=SC2086
not_commands=$( {
	sed -nE 's/^[[:space:]]*(function[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(\).*/\2/p' $scripts
	compgen -b -k
} | sort -u)

# The packages named in need_packages calls, then with their dependencies.
# shellcheck disable=SC2086
named=$(sed -nE 's/^[[:space:]]*need_packages[[:space:]]+//p' $scripts |
	sed "s/\\\$KSMPP_HOST_PACKAGES/$(echo $KSMPP_HOST_PACKAGES)/" |
	tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
installed_closure() {
	local todo=("$@") seen=" " p deps
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		case $seen in *" $p "*) continue ;; esac
		seen="$seen$p "
		deps=$(dpkg-query -W -f='${Pre-Depends}, ${Depends}' "$p" 2>/dev/null |
			tr ',|' '\n\n' | sed 's/(.*)//; s/:any//; s/ //g' | grep -v '^$' || true)
		# shellcheck disable=SC2206
		todo+=($deps)
	done
	tr ' ' '\n' <<<"$seen" | grep -v '^$'
}
# shellcheck disable=SC2086
allowed=$(installed_closure $named)

# uses: "COMMAND FILE:LINE" for each external command the scripts run.
# shellcheck disable=SC2086
uses=$(python3 scripts/commands.py $scripts |
	awk 'NR == FNR { skip[$1] = 1; next } !($1 in skip)' <(echo "$not_commands") -)

# The paths under which dpkg may know each command's file: as found in
# the system's directories, and its target, each before and after the /usr
# merge (none for a command not installed).
declare -A paths_of package_of
for command in $(awk '{ print $1 }' <<<"$uses" | sort -u); do
	paths_of[$command]=
	path=$(PATH=/usr/sbin:/usr/bin:/sbin:/bin type -P "$command") || continue
	real=$(readlink -f "$path")
	paths_of[$command]="$path $real ${path#/usr} ${real#/usr}"
done
# shellcheck disable=SC2068
while IFS=: read -r package path; do
	package_of[${path# }]=${package%%,*}
done < <(printf '%s\n' ${paths_of[@]} | sort -u | xargs dpkg -S 2>/dev/null || true)

status=0
for command in $(printf '%s\n' "${!paths_of[@]}" | sort); do
	where=$(awk -v c="$command" '$1 == c { print $2; exit }' <<<"$uses")
	package=""
	for path in ${paths_of[$command]}; do
		package=${package_of[$path]:-}
		[ -z "$package" ] || break
	done
	if [ -z "$package" ]; then
		echo "FAIL command $command ($where): not installed here, and no script installs it"
		status=1
	elif grep -qxF "$package" <<<"$allowed"; then
		echo "PASS command $command: $package, which the scripts install"
	elif dpkg-query -W -f='${Essential} ${Priority}\n' "$package" | grep -qE '^yes|required$'; then
		echo "PASS command $command: $package, on every Debian system"
	else
		echo "FAIL command $command ($where): package $package, which no script installs"
		status=1
	fi
done
exit $status
