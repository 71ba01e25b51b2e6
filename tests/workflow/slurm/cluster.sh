#!/usr/bin/env bash
# A single-node Slurm cluster started by hand (no systemd), all state in one directory.
#
#   cluster.sh start DIR   write DIR/slurm.conf and a munge key, start munged, slurmctld and
#                          slurmd with pid files in DIR, wait until the node is idle
#   cluster.sh stop DIR    stop exactly the daemons whose pid files are in DIR
#
# Clients use the cluster with SLURM_CONF=DIR/slurm.conf and PATH=DIR/bin:$PATH (see the srun
# shim below). Partition: bloodsig_test. Ports are picked free, and munged gets its own socket
# and key, so the cluster does not collide with another one on the same machine.
# Debian 12 packages: slurmctld slurmd slurm-client munge.
set -euo pipefail

cmd=${1:?usage: cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: cluster.sh start|stop DIR}")
daemons=(slurmd slurmctld munged)   # stop order: the node, the controller, then auth

stop() {
    local name pid
    for name in "${daemons[@]}"; do
        [ -s "$dir/$name.pid" ] || continue
        pid=$(cat "$dir/$name.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            # gone, or a zombie waiting for its parent: either way it has stopped
            case $(ps -o stat= -p "$pid" 2>/dev/null || echo gone) in gone | Z*) break ;; esac
            sleep 0.2
        done
        if ps -o stat= -p "$pid" >/dev/null 2>&1 && [[ $(ps -o stat= -p "$pid") != Z* ]]; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/$name.pid"
    done
}

fail() {
    echo "cluster.sh: $1" >&2
    for log in "$dir"/*.log; do [ -f "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }; done
    stop
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    for exe in munged slurmctld slurmd sinfo; do
        command -v "$exe" >/dev/null || fail "$exe not found (apt-get install slurmctld slurmd slurm-client munge)"
    done
    local host
    host=$(hostname -s)
    getent hosts "$host" >/dev/null || fail "host name '$host' does not resolve (add it to /etc/hosts)"
    mkdir -p "$dir/state" "$dir/spool"
    # munged wants its socket directory searchable by all; the temp dir above it may not be,
    # hence --force (the daemon runs as the calling user, only for this cluster)
    mkdir -p -m 755 "$dir/munge"
    umask 077
    head -c 1024 /dev/urandom >"$dir/munge.key"
    umask 022
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munged.seed" \
        || fail "munged did not start"

    local user node
    user=$(id -un)
    node=$(slurmd -C | head -n 1)   # NodeName=<host> CPUs=... RealMemory=...
    cat >"$dir/slurm.conf" <<EOF
ClusterName=bloodsig_test
SlurmctldHost=$host
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# every finished job with its final state, for the tests
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
# keep finished jobs visible to squeue (the executor's status command) for 5 minutes
MinJobAge=300
ReturnToService=2
DefMemPerCPU=1000
$node State=UNKNOWN
PartitionName=bloodsig_test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    # Snakemake's job step drops all SLURM_* variables before its nested srun, which then looks
    # for the default /etc/slurm/slurm.conf; on a real cluster that is where the config is,
    # here a shim first in PATH points srun at this cluster's
    mkdir -p "$dir/bin"
    printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$dir/bin/srun"
    chmod +x "$dir/bin/srun"
    slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
    slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
    for _ in $(seq 60); do
        if [ "$(sinfo -h -N -o %t 2>/dev/null)" = idle ]; then
            echo "SLURM_CONF=$SLURM_CONF"
            return 0
        fi
        sleep 0.5
    done
    fail "node not idle after 30 s: $(sinfo -N 2>&1)"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    *) echo "usage: cluster.sh start|stop DIR" >&2; exit 2 ;;
esac
