#!/usr/bin/env bash
# End-to-end: the quickstart sweep as a Slurm job array of 4 tasks plus the dependent merge
# job, on a single-node Slurm cluster started here without systemd, checked byte for byte
# against a local run; the merge job must also have written the charts and report.html. Installs Debian's slurmctld, slurmd, slurm-client and munge when they
# are missing (needs root), and stops the daemons it started, by their pid, on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
fail() { echo "slurm-e2e: FAIL: $*" >&2; exit 1; }
log() { echo "slurm-e2e: $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root to install and start Slurm"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurmctld slurmd slurm-client munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || fail "apt-get install of slurm failed"
fi

cargo build --release -p cascade-cli
bin=${CARGO_TARGET_DIR:-$repo/target}/release/cascade
work=$(mktemp -d /tmp/cascade-slurm.XXXXXX)
chmod 755 "$work"
state=$work/state
mkdir -p "$state/ctld" "$state/d" "$state/log" "$state/munge"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$state"/log/*.log "$work"/out/*.out; do
      [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# munge: its own key and socket under $state, so a system munged is left alone.
chown munge:munge "$state/munge" 2>/dev/null || true
if [ ! -f /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
sock=$state/munge/munge.socket
runuser -u munge -- /usr/sbin/munged --socket="$sock" --pid-file="$state/munge/munged.pid" \
  --log-file="$state/munge/munged.log" --seed-file="$state/munge/munged.seed" --force \
  || fail "munged did not start"
for _ in $(seq 1 50); do [ -s "$state/munge/munged.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$state/munge/munged.pid")")
munge --socket="$sock" -n | unmunge --socket="$sock" >/dev/null || fail "munge round trip"

host=$(hostname -s)
cpus=$(nproc)
chown -R slurm:slurm "$state/ctld" "$state/log" 2>/dev/null || true
conf=$state/slurm.conf
cat > "$conf" <<CONF
ClusterName=cascadeci
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MaxArraySize=1001
NodeName=$host CPUs=$cpus RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$conf
/usr/sbin/slurmctld -f "$conf" || fail "slurmctld did not start"
for _ in $(seq 1 100); do [ -s "$state/slurmctld.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$state/slurmctld.pid")")
/usr/sbin/slurmd -f "$conf" || fail "slurmd did not start"
for _ in $(seq 1 100); do [ -s "$state/slurmd.pid" ] && break; sleep 0.1; done
pids+=("$(cat "$state/slurmd.pid")")
for _ in $(seq 1 100); do
  sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  sleep 0.2
done
sinfo -h -o '%T' | grep -qE '^(idle|mixed|allocated)' || { sinfo; fail "the node never became idle"; }
log "cluster up: $(sinfo -h -o '%P %a %D %T')"

# The sweep as an array of 4 tasks, plus the merge job, from the script `cascade slurm` prints.
mkdir -p "$work/out"
cd "$work/out"
"$bin" slurm "$repo/configs/sweeps/quickstart.toml" --tasks 4 --cpus-per-task 1 \
  --mem 500M --setup 'export CASCADE_E2E_SETUP=1' \
  --out "$work/out/merged" > "$work/out/quickstart.sbatch" || fail "cascade slurm"
jid=$(sbatch --parsable "$work/out/quickstart.sbatch") || fail "sbatch"
log "submitted array job $jid"
# Wait for the array and the merge job it submits (at most 20 minutes).
deadline=$((SECONDS + 1200))
while :; do
  [ -f "$work/out/merged/manifest.json" ] && grep -q '"status": "complete"' "$work/out/merged/manifest.json" && break
  [ "$SECONDS" -lt "$deadline" ] || { squeue; fail "timed out waiting for the jobs"; }
  if [ -z "$(squeue -h 2>/dev/null)" ] && [ $((SECONDS % 10)) -eq 0 ]; then
    sleep 2
    [ -f "$work/out/merged/manifest.json" ] || { ls -la "$work/out"; fail "jobs ended without a merged store"; }
  fi
  sleep 1
done
cd "$repo"
log "merged store written; running the same sweep locally"
n=$(find "$work/out/merged.shards" -name manifest.json | wc -l)
[ "$n" -eq 4 ] || fail "expected 4 shard stores, found $n"

"$bin" sweep configs/sweeps/quickstart.toml --out "$work/local" --threads 2 >/dev/null 2>&1 || fail "local sweep"
python3 scripts/same-store.py "$work/local" "$work/out/merged" \
  || fail "the merged store differs from the local one"

# The merge job ends with the report: report.html and the default charts, listed in the store.
[ -s "$work/out/merged/report.html" ] || fail "the merged store has no report.html"
grep -q '"report.html"' "$work/out/merged/manifest.json" || fail "report.html is not listed in the manifest"
nc=$(find "$work/out/merged/charts" -name '*.png' 2>/dev/null | wc -l)
[ "$nc" -ge 1 ] || fail "the merged store has no charts"
log "merged store has report.html and $nc chart(s)"

# A requeued task 0 runs the script again: it resumes its shard and submits no second merge.
mark="$work/out/merged.shards/merge-job-$jid"
[ -s "$mark" ] || fail "no merge-job marker $mark"
mjob=$(cat "$mark")
(cd "$work/out" && SLURM_ARRAY_JOB_ID=$jid SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_MIN=0 \
  bash "$work/out/quickstart.sbatch") > "$work/out/requeue.out" 2>&1 \
  || { cat "$work/out/requeue.out"; fail "task 0 run again failed"; }
grep -q "merge job $mjob already submitted" "$work/out/requeue.out" \
  || { cat "$work/out/requeue.out"; fail "task 0 run again did not find its merge job"; }
[ -z "$(squeue -h --name="cascade-quickstart-merge-$jid" -o %i)" ] || fail "a second merge job was queued"
[ "$(cat "$mark")" = "$mjob" ] || fail "the marker changed"
log "task 0 run again: shard resumed, merge job $mjob not submitted twice"
echo "slurm-e2e: ok"
