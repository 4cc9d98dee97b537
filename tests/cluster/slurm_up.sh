#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine (controller and compute node, munge, no slurmdbd,
# no systemd), for the cluster test (tests/test_cluster.py). Installs Debian's slurm-wlm and munge
# when they are missing (needs root and apt), writes its configuration under STATE (default
# /tmp/lirec-slurm), starts munged, slurmctld and slurmd and records their pids in STATE/pids;
# tests/cluster/slurm_down.sh stops exactly those. The node offers GPUS fake GPUs (gres, default 1),
# so that jobs asking for a GPU can be submitted and scheduled on a machine without one.
#
#   bash tests/cluster/slurm_up.sh            # prints "SLURM-UP <partition>" when the node is idle
set -euo pipefail
STATE=${STATE:-/tmp/lirec-slurm}
GPUS=${GPUS:-1}
export DEBIAN_FRONTEND=noninteractive

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "SLURM-SKIP slurm-wlm/munge are not installed and this user cannot apt-get them" >&2
    exit 3
  fi
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
if [ "$(id -u)" != 0 ]; then
  echo "SLURM-SKIP starting slurmd needs root" >&2
  exit 3
fi

if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
  echo "SLURM-SKIP a SLURM daemon already runs on this machine; its configuration is left alone" >&2
  exit 3
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') * 9 / 10 ))
mkdir -p "$STATE"/{ctld,slurmd,log} /etc/slurm /run/munge
chown slurm:slurm "$STATE"/ctld "$STATE"/log
chown munge:munge /run/munge
# A fresh configuration every time; the spool of an earlier run is discarded.
rm -rf "$STATE"/ctld/* "$STATE"/slurmd/*
cat > /etc/slurm/gres.conf <<CONF
NodeName=${HOST} Name=gpu File=/dev/null Count=${GPUS}
CONF
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=lirec
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
GresTypes=gpu
StateSaveLocation=${STATE}/ctld
SlurmdSpoolDir=${STATE}/slurmd
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
SlurmctldDebug=info
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} Gres=gpu:${GPUS} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
[ -s /etc/munge/munge.key ] || { mungekey --create --force; chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key; }
: > "$STATE/pids"
if ! munge -n >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 20); do [ -s /run/munge/munged.pid ] && break; sleep 0.2; done
  cat /run/munge/munged.pid >> "$STATE/pids"
fi
/usr/sbin/slurmctld
for _ in $(seq 40); do scontrol ping >/dev/null 2>&1 && break; sleep 0.5; done
cat "$STATE/slurmctld.pid" >> "$STATE/pids"
/usr/sbin/slurmd
for _ in $(seq 40); do [ -s "$STATE/slurmd.pid" ] && break; sleep 0.25; done
cat "$STATE/slurmd.pid" >> "$STATE/pids"
for _ in $(seq 80); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 0.5; done
if ! sinfo -h -o %t | grep -q idle; then
  echo "SLURM-FAIL the node did not become idle: $(sinfo -h -o '%t %E')" >&2
  exit 1
fi
echo "SLURM-UP debug"
