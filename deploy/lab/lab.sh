#!/usr/bin/env bash
# wanlb lab: a multi-WAN home-router topology built from network namespaces.
#
#   P-cl ──eth0═lan0── P-rt ──wan1═down0── P-isp1 ──up0═isp1── P-inet (srv0)
#                           ──wan2═down0── P-isp2 ──up0═isp2──
#                           ...            P-ispN
#
# Everything lives in namespaces created by this script (prefix P, unique per
# run); the host's own network namespace is never touched: veths are created
# directly inside the lab namespaces with `ip -n`, and sysctls / nft / tc only
# ever run through `ip netns exec` into a lab namespace.  Every namespace is
# recorded in /run/wanlb-lab/<P>.ns right after it is created, and teardown
# deletes exactly the names in that record.
#
# Addressing (i = 1..N WANs, the "internet" uses documentation ranges only):
#   LAN      lan0 (rt) 192.168.77.1/24 fd00:77::1/64
#            eth0 (cl) 192.168.77.10 .. .(10+K-1)/24, fd00:77::10 .. ::(10+K-1)/64
#   ISP i    wan<i> (rt) 10.100.i.2/24 fd00:100:i::2/64  <->  down0 (ispi) 10.100.i.1 fd00:100:i::1
#            up0 (ispi) 10.200.i.1/24 fd00:200:i::1/64   <->  isp<i> (inet) 10.200.i.2 fd00:200:i::2
#   Internet srv0 (inet, dummy; a veth pair srv0/srv0peer if no dummy driver) 198.51.100.10 .. .(10+S-1)/32, 203.0.113.10/32,
#            198.18.0.10/32, 198.18.200.10/32 (policy tests),
#            2001:db8:100::10 .. ::(10+S-1)/128, 2001:db8:203::10/128, 2001:db8:200::10/128
#   (IPv6 host parts reuse the decimal digits of the IPv4 host part, e.g. ::25.)
#
# Router P-rt: main-table default via ISP 1 (10.100.1.1 / fd00:100:1::1),
# forwarding OFF unless `up --forwarding` (the agent under test enables it).
# No NAT unless `up --lab-nat` (masquerade on every wan<i>, nft tables
# `ip labnat`, `ip6 labnat6`): source NAT is the job of wanlb itself.
#
# ISPs do source-address validation (BCP38), nft table `inet bcp38` in
# P-ispI: a packet from the router link (down0) whose source is not one of
# the customer's prefixes (10.100.I.0/24, fd00:100:I::/64, fe80::/10 for
# neighbour discovery, plus the LAN prefixes with `--route-lan I`) is
# dropped. A reply that leaves through the wrong WAN therefore fails (and is
# counted by the rules with comment "wrong-wan").
#
# `up --route-lan I` (repeatable): ISP I routes the LAN prefixes
# (192.168.77.0/24, fd00:77::/64) to the router, as if it had delegated them,
# and the internet routes them via the first such ISP given: for WANs
# without NAT (with several, each ISP accepts them as a source).
#
# Usage as a command:
#   lab.sh up [--prefix P] [--wans N] [--rate RATE] [--clients K] [--servers S] [--forwarding]
#             [--lab-nat] [--route-lan I]...
#   lab.sh down --prefix P            (or: lab.sh down P)
#   lab.sh exec P ROLE CMD...         ROLE = cl | rt | isp1..ispN | inet
#   lab.sh run  P ROLE NAME CMD...    background process, log /run/wanlb-lab/<P>.<NAME>.log
#   lab.sh stop P NAME                stop one process started with `run`
#   lab.sh wan-down P I | wan-up P I  carrier cut of ISP I (down0 in P-ispI)
#   lab.sh wan-silent P I | wan-answer P I   ISP I drops everything / answers again
#   lab.sh status [P]                 list labs recorded in /run/wanlb-lab
#
# Usage as a library: `source deploy/lab/lab.sh` defines lab_up, lab_down,
# lab_exec, lab_run, lab_stop_proc, lab_wan_down, lab_wan_up, lab_wan_silent,
# lab_wan_answer, lab_status,
# lab_ns, lab_client_addrs, lab_server_addrs (+ the lab_cli dispatcher).
# Each function body runs in a subshell with `set -euo pipefail`, so sourcing
# and calling them never changes the caller's shell options; a failure shows
# up as a non-zero return status.  Sourcing defines nothing else but the
# LAB_STATE_DIR default.

: "${LAB_STATE_DIR:=/run/wanlb-lab}"

# ------------------------------------------------------------------ helpers

_lab_die() { echo "lab.sh: error: $*" >&2; exit 1; }
_lab_usage_die() { echo "lab.sh: $*" >&2; echo "run 'lab.sh help' for usage" >&2; exit 2; }
_lab_log() { [[ -n "${LAB_QUIET:-}" ]] || echo "lab.sh: $*" >&2; }

_lab_check_prefix() {
    local p=$1
    [[ -n "$p" ]] || _lab_usage_die "missing prefix"
    # Short, lower-case, no '-' (the role separator) and no path characters.
    [[ "$p" =~ ^[a-z][a-z0-9]{1,11}$ ]] ||
        _lab_usage_die "invalid prefix '$p' (want [a-z][a-z0-9]{1,11})"
}

_lab_check_role() {
    local r=$1
    [[ "$r" =~ ^(cl|rt|inet|isp[1-8])$ ]] || _lab_usage_die "invalid role '$r' (cl, rt, inet, isp1..isp8)"
}

_lab_ns_exists() { [[ -e "/run/netns/$1" ]]; }

_lab_random_prefix() {
    local hex
    hex=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
    echo "wl${hex:0:5}"
}

# Field N (1-based, as in proc(5)) of /proc/PID/stat; comm may contain spaces.
_lab_stat_field() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }          # drop "pid (comm) "
    # shellcheck disable=SC2086
    set -- "$2" $stat
    local n=$1
    shift
    echo "${@:n-2:1}"
}

# Process start time (field 22), to refuse killing a pid that has been
# recycled by an unrelated process since it was recorded.
_lab_starttime() { _lab_stat_field "$1" 22; }

# Kill one recorded process (and its process group when it leads one).
_lab_kill_recorded() {
    local pid=$1 start=$2 now pgid i
    now=$(_lab_starttime "$pid") || return 0
    [[ "$now" == "$start" ]] || return 0
    pgid=$(_lab_stat_field "$pid" 5) || pgid=
    if [[ "$pgid" == "$pid" ]]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 30; i++)); do
        now=$(_lab_starttime "$pid") || return 0
        [[ "$now" == "$start" ]] || return 0
        # A zombie (not yet reaped by its parent) is already dead.
        [[ "$(_lab_stat_field "$pid" 3)" == Z ]] && return 0
        sleep 0.1
    done
    if [[ "$pgid" == "$pid" ]]; then
        kill -KILL -- "-$pid" 2>/dev/null || true
    else
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

# ------------------------------------------------------------------ public API

lab_ns() ( # P ROLE -> namespace name
    set -euo pipefail
    _lab_check_prefix "$1"; _lab_check_role "$2"
    echo "$1-$2"
)

lab_client_addrs() ( # K [v6] -> comma separated client addresses
    set -euo pipefail
    local k=${1:-16} fam=${2:-4} j out=()
    for ((j = 0; j < k; j++)); do
        if [[ "$fam" == 6 ]]; then out+=("fd00:77::$((10 + j))"); else out+=("192.168.77.$((10 + j))"); fi
    done
    (IFS=,; echo "${out[*]}")
)

lab_server_addrs() ( # S [v6] -> comma separated server addresses
    set -euo pipefail
    local s=${1:-16} fam=${2:-4} j out=()
    for ((j = 0; j < s; j++)); do
        if [[ "$fam" == 6 ]]; then out+=("2001:db8:100::$((10 + j))"); else out+=("198.51.100.$((10 + j))"); fi
    done
    (IFS=,; echo "${out[*]}")
)

lab_up() (
    set -euo pipefail
    local prefix="" wans=2 rate="" clients=16 servers=16 forwarding=0 keep=0 labnat=0
    local route_lan=()
    while (($#)); do
        case "$1" in
            --prefix) prefix=${2:-}; shift 2 || _lab_usage_die "--prefix needs a value" ;;
            --wans) wans=${2:-}; shift 2 || _lab_usage_die "--wans needs a value" ;;
            --rate) rate=${2:-}; shift 2 || _lab_usage_die "--rate needs a value" ;;
            --clients) clients=${2:-}; shift 2 || _lab_usage_die "--clients needs a value" ;;
            --servers) servers=${2:-}; shift 2 || _lab_usage_die "--servers needs a value" ;;
            --forwarding) forwarding=1; shift ;;
            --lab-nat) labnat=1; shift ;;
            --route-lan) route_lan+=("${2:-}"); shift 2 || _lab_usage_die "--route-lan needs a value" ;;
            --keep-on-failure) keep=1; shift ;;
            *) _lab_usage_die "up: unknown argument '$1'" ;;
        esac
    done
    [[ "$wans" =~ ^[0-9]+$ ]] && ((wans >= 2 && wans <= 8)) || _lab_usage_die "--wans must be 2..8"
    [[ "$clients" =~ ^[0-9]+$ ]] && ((clients >= 1 && clients <= 200)) || _lab_usage_die "--clients must be 1..200"
    [[ "$servers" =~ ^[0-9]+$ ]] && ((servers >= 1 && servers <= 200)) || _lab_usage_die "--servers must be 1..200"
    local r
    for r in "${route_lan[@]}"; do
        [[ "$r" =~ ^[1-8]$ ]] && ((r <= wans)) || _lab_usage_die "--route-lan '$r': want a WAN index 1..$wans"
    done
    [[ -z "$rate" || "$rate" =~ ^[0-9]+(\.[0-9]+)?([kmg]?bit|[kmg]?bps)$ ]] ||
        _lab_usage_die "--rate '$rate' not understood (e.g. 20mbit)"
    [[ $EUID -eq 0 ]] || _lab_die "must run as root"
    command -v ip >/dev/null || _lab_die "ip (iproute2) not found"
    command -v nft >/dev/null || _lab_die "nft (nftables) not found"
    [[ -z "$rate" ]] || command -v tc >/dev/null || _lab_die "tc not found (needed for --rate)"

    mkdir -p "$LAB_STATE_DIR"
    local tries=0
    if [[ -z "$prefix" ]]; then
        while :; do
            prefix=$(_lab_random_prefix)
            [[ ! -e "$LAB_STATE_DIR/$prefix.ns" ]] && ! _lab_ns_exists "$prefix-rt" && break
            ((++tries < 20)) || _lab_die "could not pick a free prefix"
        done
    fi
    _lab_check_prefix "$prefix"
    local rec="$LAB_STATE_DIR/$prefix.ns"
    [[ ! -e "$rec" ]] || _lab_die "prefix '$prefix' already in use (record $rec exists; 'lab.sh down --prefix $prefix' first)"
    local role
    for role in cl rt inet $(seq -f 'isp%g' 1 "$wans"); do
        ! _lab_ns_exists "$prefix-$role" || _lab_die "namespace $prefix-$role already exists (not ours; refusing to touch it)"
    done
    # Claim the prefix atomically: noclobber makes the create fail if it exists.
    (set -o noclobber; : >"$rec") 2>/dev/null || _lab_die "prefix '$prefix' already in use (record $rec)"

    # From here on, any failure tears down exactly what this run made.
    _lab_up_failed() {
        local rc=$?
        trap - EXIT INT TERM
        if ((rc != 0)); then
            if ((keep)); then
                echo "lab.sh: up failed (rc=$rc); kept lab '$prefix' for inspection, remove with: lab.sh down --prefix $prefix" >&2
            else
                echo "lab.sh: up failed (rc=$rc); tearing down lab '$prefix'" >&2
                LAB_QUIET=1 lab_down --prefix "$prefix" || true
            fi
        fi
        exit "$rc"
    }
    trap _lab_up_failed EXIT
    trap 'exit 130' INT      # make sure the EXIT trap runs on signals too
    trap 'exit 143' TERM

    _lab_log "creating lab '$prefix' (wans=$wans clients=$clients servers=$servers rate=${rate:-none} forwarding=$forwarding lab-nat=$labnat route-lan=${route_lan[*]:-none})"

    local ns_cl="$prefix-cl" ns_rt="$prefix-rt" ns_inet="$prefix-inet"
    mkns() { # NAME
        ip netns add "$1" || _lab_die "ip netns add $1 failed"
        echo "$1" >>"$rec"
        ip -n "$1" link set lo up
        # No duplicate address detection inside the lab: addresses are usable at once.
        ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    }
    nsexec() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

    mkns "$ns_rt"
    mkns "$ns_cl"
    mkns "$ns_inet"
    local i
    for ((i = 1; i <= wans; i++)); do mkns "$prefix-isp$i"; done
    {
        echo "PREFIX=$prefix"
        echo "WANS=$wans"
        echo "CLIENTS=$clients"
        echo "SERVERS=$servers"
        echo "RATE=$rate"
        echo "FORWARDING=$forwarding"
        echo "LAB_NAT=$labnat"
        echo "ROUTE_LAN=\"${route_lan[*]:-}\""
    } >"$LAB_STATE_DIR/$prefix.env"

    # ---- LAN
    ip -n "$ns_rt" link add lan0 type veth peer name eth0 netns "$ns_cl"
    ip -n "$ns_rt" addr add 192.168.77.1/24 dev lan0
    ip -n "$ns_rt" addr add fd00:77::1/64 dev lan0 nodad
    ip -n "$ns_rt" link set lan0 up
    local j batch=""
    for ((j = 0; j < clients; j++)); do
        batch+="addr add 192.168.77.$((10 + j))/24 dev eth0"$'\n'
        batch+="addr add fd00:77::$((10 + j))/64 dev eth0 nodad"$'\n'
    done
    printf '%s' "$batch" | ip -n "$ns_cl" -batch -
    ip -n "$ns_cl" link set eth0 up
    ip -n "$ns_cl" route add default via 192.168.77.1 dev eth0
    ip -n "$ns_cl" -6 route add default via fd00:77::1 dev eth0

    # ---- router baseline: forwarding off unless asked (the agent enables it)
    nsexec "$ns_rt" sysctl -qw net.ipv4.ip_forward="$forwarding" net.ipv6.conf.all.forwarding="$forwarding"

    # ---- ISPs
    local ns_isp burst=""
    if [[ -n "$rate" ]]; then
        # tbf bucket in bytes: 10 ms worth of the rate (so timer granularity
        # does not throttle below RATE), at least 32kbit.
        burst=$(awk -v r="$rate" 'BEGIN {
            m = 1; u = r; sub(/^[0-9.]+/, "", u); v = substr(r, 1, length(r) - length(u))
            if (u ~ /^k/) m = 1e3; else if (u ~ /^m/) m = 1e6; else if (u ~ /^g/) m = 1e9
            if (u ~ /bps$/) m *= 8
            b = v * m / 100 / 8; if (b < 4000) b = 4000
            printf "%db", b }')
    fi
    for ((i = 1; i <= wans; i++)); do
        ns_isp="$prefix-isp$i"
        ip -n "$ns_rt" link add "wan$i" type veth peer name down0 netns "$ns_isp"
        ip -n "$ns_rt" addr add "10.100.$i.2/24" dev "wan$i"
        ip -n "$ns_rt" addr add "fd00:100:$i::2/64" dev "wan$i" nodad
        ip -n "$ns_rt" link set "wan$i" up
        ip -n "$ns_isp" addr add "10.100.$i.1/24" dev down0
        ip -n "$ns_isp" addr add "fd00:100:$i::1/64" dev down0 nodad
        ip -n "$ns_isp" link set down0 up

        ip -n "$ns_isp" link add up0 type veth peer name "isp$i" netns "$ns_inet"
        ip -n "$ns_isp" addr add "10.200.$i.1/24" dev up0
        ip -n "$ns_isp" addr add "fd00:200:$i::1/64" dev up0 nodad
        ip -n "$ns_isp" link set up0 up
        ip -n "$ns_inet" addr add "10.200.$i.2/24" dev "isp$i"
        ip -n "$ns_inet" addr add "fd00:200:$i::2/64" dev "isp$i" nodad
        ip -n "$ns_inet" link set "isp$i" up

        nsexec "$ns_isp" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
        ip -n "$ns_isp" route add default via "10.200.$i.2" dev up0
        ip -n "$ns_isp" -6 route add default via "fd00:200:$i::2" dev up0

        if [[ -n "$rate" ]]; then
            nsexec "$ns_isp" tc qdisc add dev down0 root tbf rate "$rate" burst "$burst" latency 50ms
            nsexec "$ns_isp" tc qdisc add dev up0 root tbf rate "$rate" burst "$burst" latency 50ms
        fi

        # The internet routes each customer prefix back through its own ISP.
        ip -n "$ns_inet" route add "10.100.$i.0/24" via "10.200.$i.1" dev "isp$i"
        ip -n "$ns_inet" -6 route add "fd00:100:$i::/64" via "fd00:200:$i::1" dev "isp$i"

        # Delegated LAN prefixes (--route-lan i): routed to the router.
        local src4="10.100.$i.0/24" src6="fd00:100:$i::/64, fe80::/10"
        for r in "${route_lan[@]}"; do
            ((r == i)) || continue
            ip -n "$ns_isp" route add 192.168.77.0/24 via "10.100.$i.2" dev down0
            ip -n "$ns_isp" -6 route add fd00:77::/64 via "fd00:100:$i::2" dev down0
            # The internet reaches the prefix through the first ISP that
            # routes it (one path, as BGP would pick).
            if [[ "$r" == "${route_lan[0]}" ]]; then
                ip -n "$ns_inet" route add 192.168.77.0/24 via "10.200.$i.1" dev "isp$i"
                ip -n "$ns_inet" -6 route add fd00:77::/64 via "fd00:200:$i::1" dev "isp$i"
            fi
            src4+=", 192.168.77.0/24"
            src6+=", fd00:77::/64"
        done

        # BCP38: only the customer's own source addresses enter from down0.
        # Packets with another WAN's address (a reply that left through the
        # wrong WAN) are counted separately (comment "wrong-wan").
        nsexec "$ns_isp" nft -f - <<NFT
table inet bcp38 {
  chain prerouting {
    type filter hook prerouting priority -200; policy accept;
    iifname "down0" ip saddr != { $src4 } ip saddr 10.100.0.0/16 counter drop comment "wrong-wan"
    iifname "down0" ip saddr != { $src4 } counter drop comment "spoofed"
    iifname "down0" ip6 saddr != { $src6 } ip6 saddr fd00:100::/32 counter drop comment "wrong-wan"
    iifname "down0" ip6 saddr != { $src6 } counter drop comment "spoofed"
  }
}
NFT
    done

    # ---- router: main-table default via ISP 1; NAT only with --lab-nat
    ip -n "$ns_rt" route add default via 10.100.1.1 dev wan1
    ip -n "$ns_rt" -6 route add default via fd00:100:1::1 dev wan1
    local nat4="" nat6="" ifs
    for ((i = 1; i <= wans; i++)); do
        nat4+="    oifname \"wan$i\" masquerade"$'\n'
    done
    nat6=$nat4
    ((!labnat)) || nsexec "$ns_rt" nft -f - <<EOF
table ip labnat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
$nat4  }
}
table ip6 labnat6 {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
$nat6  }
}
EOF

    # ---- internet: server addresses on a dummy interface
    # A dummy interface when the kernel has the driver; otherwise a veth pair
    # kept entirely inside P-inet (addresses on srv0 are local either way).
    if ! ip -n "$ns_inet" link add srv0 type dummy 2>/dev/null; then
        ip -n "$ns_inet" link add srv0 type veth peer name srv0peer
        ip -n "$ns_inet" link set srv0peer up
    fi
    batch=""
    for ((j = 0; j < servers; j++)); do
        batch+="addr add 198.51.100.$((10 + j))/32 dev srv0"$'\n'
        batch+="addr add 2001:db8:100::$((10 + j))/128 dev srv0 nodad"$'\n'
    done
    batch+="addr add 203.0.113.10/32 dev srv0"$'\n'
    batch+="addr add 2001:db8:203::10/128 dev srv0 nodad"$'\n'
    batch+="addr add 198.18.0.10/32 dev srv0"$'\n'
    batch+="addr add 198.18.200.10/32 dev srv0"$'\n'
    batch+="addr add 2001:db8:200::10/128 dev srv0 nodad"$'\n'
    printf '%s' "$batch" | ip -n "$ns_inet" -batch -
    ip -n "$ns_inet" link set srv0 up

    # Sanity: every veth is up on both ends.
    for ifs in "$ns_rt:lan0" "$ns_cl:eth0"; do
        ip -n "${ifs%%:*}" link show "${ifs#*:}" up | grep -q . || _lab_die "${ifs#*:} in ${ifs%%:*} is not up"
    done

    trap - EXIT INT TERM
    _lab_log "lab '$prefix' is up (namespaces: $(tr '\n' ' ' <"$rec"))"
    echo "$prefix"
)

lab_down() (
    set -euo pipefail
    local prefix=""
    while (($#)); do
        case "$1" in
            --prefix) prefix=${2:-}; shift 2 || _lab_usage_die "--prefix needs a value" ;;
            -*) _lab_usage_die "down: unknown argument '$1'" ;;
            *) [[ -z "$prefix" ]] || _lab_usage_die "down: extra argument '$1'"; prefix=$1; shift ;;
        esac
    done
    _lab_check_prefix "$prefix"
    local rec="$LAB_STATE_DIR/$prefix.ns" pids="$LAB_STATE_DIR/$prefix.pids"
    local pid start name log
    if [[ ! -f "$rec" && ! -f "$pids" ]]; then
        _lab_log "no record of lab '$prefix' in $LAB_STATE_DIR (nothing to do)"
        exit 0
    fi

    # 1. Processes started by `lab.sh run`.
    if [[ -f "$pids" ]]; then
        while read -r pid start name log; do
            [[ "$pid" =~ ^[0-9]+$ ]] || continue
            _lab_kill_recorded "$pid" "$start"
        done <"$pids"
    fi

    # 2. Namespaces, exactly by recorded name.  Anything still running inside
    #    one of them (e.g. started with `lab.sh exec ... &`) is stopped first,
    #    otherwise the namespace would linger after `ip netns del`.
    local ns p n left=0
    if [[ -f "$rec" ]]; then
        while read -r ns; do
            [[ -n "$ns" ]] || continue
            [[ "$ns" == "$prefix-"* ]] || { echo "lab.sh: ignoring foreign entry '$ns' in $rec" >&2; continue; }
            _lab_ns_exists "$ns" || continue
            for sig in TERM KILL; do
                p=$(ip netns pids "$ns" 2>/dev/null || true)
                [[ -n "$p" ]] || break
                # shellcheck disable=SC2086
                kill -"$sig" $p 2>/dev/null || true
                for ((n = 0; n < 20; n++)); do
                    [[ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ]] && break
                    sleep 0.1
                done
            done
            if ! ip netns del "$ns" 2>/dev/null; then
                if _lab_ns_exists "$ns"; then
                    echo "lab.sh: could not delete namespace $ns" >&2
                    left=1
                fi
            fi
        done <"$rec"
    fi
    if ((left)); then
        echo "lab.sh: some namespaces remain; record $rec kept" >&2
        exit 1
    fi

    # 3. Files this run made: logs named in the pid record, env, pids, ns record.
    if [[ -f "$pids" ]]; then
        while read -r pid start name log; do
            [[ -n "${log:-}" && "$log" == "$LAB_STATE_DIR/$prefix."*.log ]] && rm -f -- "$log"
        done <"$pids"
    fi
    rm -f -- "$LAB_STATE_DIR/$prefix.env" "$pids" "$rec"
    _lab_log "lab '$prefix' is down"
)

lab_exec() { # P ROLE CMD...  (runs in the caller's shell: keeps stdin/exit status)
    (($# >= 3)) || { echo "lab.sh: usage: exec P ROLE CMD..." >&2; return 2; }
    local ns
    ns=$(lab_ns "$1" "$2") || return 2
    shift 2
    _lab_ns_exists "$ns" || { echo "lab.sh: namespace $ns does not exist" >&2; return 1; }
    ip netns exec "$ns" "$@"
}

lab_run() ( # P ROLE NAME CMD...  -> prints the pid
    set -euo pipefail
    (($# >= 4)) || _lab_usage_die "usage: run P ROLE NAME CMD..."
    local prefix=$1 role=$2 name=$3 ns
    shift 3
    ns=$(lab_ns "$prefix" "$role")
    [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || _lab_usage_die "invalid process name '$name'"
    [[ -f "$LAB_STATE_DIR/$prefix.ns" ]] || _lab_die "no lab '$prefix' (no record in $LAB_STATE_DIR)"
    _lab_ns_exists "$ns" || _lab_die "namespace $ns does not exist"
    local log="$LAB_STATE_DIR/$prefix.$name.log" pid start
    # New session (own process group) so `down` can stop the whole tree.
    # Job control is off in this subshell, so setsid does not need to fork
    # and $! is the pid of the command itself.
    set +m
    setsid ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null &
    pid=$!
    start=$(_lab_starttime "$pid") || start=0
    echo "$pid $start $name $log" >>"$LAB_STATE_DIR/$prefix.pids"
    echo "$pid"
)

lab_stop_proc() ( # P NAME: stop processes started with `run ... NAME ...`
    set -euo pipefail
    _lab_check_prefix "$1"
    local pids="$LAB_STATE_DIR/$1.pids" pid start name log
    [[ -f "$pids" ]] || exit 0
    while read -r pid start name log; do
        [[ "$name" == "$2" ]] && _lab_kill_recorded "$pid" "$start"
    done <"$pids"
    exit 0
)

_lab_wan_link() ( # P I up|down
    set -euo pipefail
    _lab_check_prefix "$1"
    [[ "$2" =~ ^[1-8]$ ]] || _lab_usage_die "invalid WAN index '$2' (1..8)"
    local ns="$1-isp$2"
    _lab_ns_exists "$ns" || _lab_die "namespace $ns does not exist"
    ip -n "$ns" link set down0 "$3"
)
lab_wan_down() { _lab_wan_link "$1" "$2" down; }
lab_wan_up() { _lab_wan_link "$1" "$2" up; }

# A gateway that stops answering while the carrier stays up: ISP I drops
# everything it receives (an nftables table `silent` in P-ispI only).
lab_wan_silent() (
    set -euo pipefail
    _lab_check_prefix "$1"
    [[ "$2" =~ ^[1-8]$ ]] || _lab_usage_die "invalid WAN index '$2' (1..8)"
    ip netns exec "$1-isp$2" nft -f - <<'NFT'
table inet silent {
    chain input_c { type filter hook input priority -300; policy drop; }
    chain forward_c { type filter hook forward priority -300; policy drop; }
}
NFT
)
lab_wan_answer() (
    set -euo pipefail
    _lab_check_prefix "$1"
    ip netns exec "$1-isp$2" nft delete table inet silent
)

lab_status() (
    set -euo pipefail
    local f p ns
    shopt -s nullglob
    for f in "$LAB_STATE_DIR"/*.ns; do
        p=$(basename "$f" .ns)
        [[ -z "${1:-}" || "$1" == "$p" ]] || continue
        echo "lab $p:"
        [[ -f "$LAB_STATE_DIR/$p.env" ]] && sed 's/^/  /' "$LAB_STATE_DIR/$p.env"
        while read -r ns; do
            if _lab_ns_exists "$ns"; then echo "  ns $ns"; else echo "  ns $ns (gone)"; fi
        done <"$f"
        if [[ -f "$LAB_STATE_DIR/$p.pids" ]]; then
            local pid start name log
            while read -r pid start name log; do
                if [[ "$(_lab_starttime "$pid" 2>/dev/null || true)" == "$start" &&
                      "$(_lab_stat_field "$pid" 3 2>/dev/null || true)" != Z ]]; then
                    echo "  proc $name pid $pid running ($log)"
                else
                    echo "  proc $name pid $pid exited ($log)"
                fi
            done <"$LAB_STATE_DIR/$p.pids"
        fi
    done
)

lab_usage() {
    cat <<'EOF'
usage: lab.sh COMMAND ...
  up [--prefix P] [--wans N] [--rate RATE] [--clients K] [--servers S] [--forwarding]
     [--lab-nat] [--route-lan I]... [--keep-on-failure]
        build a lab, print its prefix (default: wl + 5 random hex digits)
        N = 2..8 (default 2), K/S = 1..200 (default 16), RATE e.g. 20mbit (tbf on each ISP)
        --forwarding   the router forwards without an agent (the agent enables it itself)
        --lab-nat      the lab masquerades on every WAN itself (nft ip labnat / ip6 labnat6);
                       off by default: source NAT is wanlb's job
        --route-lan I  ISP I routes the LAN prefixes (192.168.77.0/24, fd00:77::/64) to the
                       router and the internet routes them via ISP I (WANs without NAT)
        Every ISP drops packets from the router whose source is not the customer's (BCP38).
  down --prefix P | down P      remove exactly what lab P created (idempotent)
  exec P ROLE CMD...            run CMD in namespace P-ROLE (ROLE: cl rt inet isp1..isp8)
  run P ROLE NAME CMD...        start CMD in the background in P-ROLE, print its pid;
                                output in /run/wanlb-lab/P.NAME.log, stopped by `down`
  stop P NAME                   stop the background process(es) named NAME
  wan-down P I | wan-up P I     set down0 in P-ispI down/up (the router sees carrier loss)
  wan-silent P I | wan-answer P I
                                ISP I drops / answers everything again (carrier stays up)
  status [P]                    show recorded labs
EOF
}

lab_cli() {
    local cmd=${1:-help}
    (($#)) && shift
    case "$cmd" in
        up) lab_up "$@" ;;
        down) lab_down "$@" ;;
        exec) lab_exec "$@" ;;
        run) lab_run "$@" ;;
        stop) lab_stop_proc "$@" ;;
        wan-down) (($# == 2)) || { lab_usage >&2; return 2; }; lab_wan_down "$@" ;;
        wan-up) (($# == 2)) || { lab_usage >&2; return 2; }; lab_wan_up "$@" ;;
        wan-silent) (($# == 2)) || { lab_usage >&2; return 2; }; lab_wan_silent "$@" ;;
        wan-answer) (($# == 2)) || { lab_usage >&2; return 2; }; lab_wan_answer "$@" ;;
        status | list) lab_status "$@" ;;
        help | -h | --help) lab_usage ;;
        *) echo "lab.sh: unknown command '$cmd'" >&2; lab_usage >&2; return 2 ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    lab_cli "$@"
fi
