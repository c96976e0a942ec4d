#!/usr/bin/env bash
# Single-node Ceph (1 mon, 1 OSD, radosgw/beast, no ceph-mgr) on 127.0.0.1, all state in DIR.
#
#   ceph-rgw.sh start DIR [--bluestore SIZE_GB] [--timeout SECONDS]
#   ceph-rgw.sh stop DIR
#
# start writes DIR/env (S3C_CEPH_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _BUCKET, _REGION) once
# RGW answers and the bucket exists, and DIR/pids (the three daemons). memstore by default
# (data in the OSD's RAM, 4 GiB device); --bluestore puts the OSD on a SIZE_GB sparse file
# in DIR (for benchmarks). stop SIGTERMs exactly those PIDs, SIGKILLs stragglers after 20 s,
# and removes DIR's data (DIR itself stays, holding only the logs). See README.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
S3C_SERVER_NAME=ceph
. "$here/lib.sh"

usage() { echo "usage: $0 start DIR [--bluestore SIZE_GB] [--timeout S] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$(s3c_abs "$2"); shift 2

stop() {
  s3c_stop_pids "$dir" 15
  s3c_release_ports "$dir"
  # Keep the logs (useful after a failure), drop the data (memstore, bluestore file, mon db).
  rm -rf "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/run" "$dir/ceph.conf" "$dir/keyring" \
         "$dir/monmap" "$dir/env" "$dir/crash"
}

start() {
  local store=memstore size_gb=0 timeout=120
  while [ $# -gt 0 ]; do
    case $1 in
      --bluestore) store=bluestore; size_gb=${2:?--bluestore needs SIZE_GB}; shift 2 ;;
      --timeout) timeout=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool ceph; do
    command -v $b >/dev/null || s3c_die "$b not installed (run packaging/setup-debian.sh)"
  done
  if [ -f "$dir/pids" ]; then
    s3c_log "$dir/pids exists: stopping the previous instance first"
    stop
  fi
  local t0; t0=$(s3c_now_ms)
  local deadline=$(( $(date +%s) + timeout ))
  mkdir -p "$dir/mon/ceph-a" "$dir/osd/ceph-0" "$dir/rgw" "$dir/run" "$dir/log" "$dir/crash"
  rm -f "$dir/log/"*.log "$dir/log/"*.out

  local mon2 mon1 rgwport
  mon2=$(s3c_free_port); echo "$mon2" >>"$dir/ports"
  mon1=$(s3c_free_port); echo "$mon1" >>"$dir/ports"
  rgwport=$(s3c_free_port); echo "$rgwport" >>"$dir/ports"
  local fsid; fsid=$(uuidgen)
  local rgwname=s3c

  local objectstore_conf
  if [ $store = memstore ]; then
    objectstore_conf="osd objectstore = memstore
memstore device bytes = 4294967296"
  else
    objectstore_conf="osd objectstore = bluestore
bluestore block path = $dir/osd/block
bluestore block create = true
bluestore block size = $(( size_gb * 1024 * 1024 * 1024 ))
bluestore fsck on mkfs = false
bluestore fsck on mount = false
bluestore block db create = false
bluestore block wal create = false"
  fi

  cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind ipv4 = true
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
paxos propose interval = 0.05
paxos min wait = 0.01
mon data avail warn = 1
mon data avail crit = 0
rgw gc obj min wait = 0
rgw gc processor period = 10

[mon]
mon data = $dir/mon/ceph-\$id

[osd]
osd data = $dir/osd/ceph-\$id
$objectstore_conf

[client.rgw.$rgwname]
rgw data = $dir/rgw
rgw frontends = beast endpoint=127.0.0.1:$rgwport tcp_nodelay=1
rgw dns name = 127.0.0.1
CONF
  export CEPH_CONF="$dir/ceph.conf"
  local cephargs=(-c "$dir/ceph.conf")

  # Keys: the keyring file comes first in ceph-authtool's arguments.
  ceph-authtool "$dir/keyring" --create-keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n osd.0 \
      --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.rgw.$rgwname \
      --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" \
      "$dir/monmap" >/dev/null
  ceph-mon "${cephargs[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" \
      >>"$dir/log/setup.log" 2>&1 || { tail -n 20 "$dir/log/setup.log" >&2; s3c_die "ceph-mon --mkfs failed"; }
  s3c_spawn "$dir" ceph-mon ceph-mon "$dir/log/ceph-mon.out" ceph-mon "${cephargs[@]}" -f -i a
  local monpid=$S3C_SPAWNED_PID

  # Wait for the mon to answer (it also creates the OSD id).
  local osd_uuid; osd_uuid=$(uuidgen)
  local osdid=""
  while :; do
    s3c_alive "$monpid" || { tail -n 30 "$dir/log/ceph-mon.out" "$dir/log/mon.a.log" >&2 || true; s3c_die "ceph-mon died"; }
    osdid=$(ceph "${cephargs[@]}" --connect-timeout 3 osd new "$osd_uuid" 2>>"$dir/log/setup.log" || true)
    [ -n "$osdid" ] && break
    [ "$(date +%s)" -ge $deadline ] && { tail -n 30 "$dir/log/mon.a.log" >&2 || true; s3c_die "mon did not answer within ${timeout}s"; }
    sleep 0.2
  done
  [ "$osdid" = 0 ] || s3c_die "unexpected OSD id '$osdid'"
  ceph-osd "${cephargs[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$dir/log/setup.log" 2>&1 \
      || { tail -n 30 "$dir/log/setup.log" "$dir/log/osd.0.log" >&2 || true; s3c_die "ceph-osd --mkfs failed"; }
  s3c_spawn "$dir" ceph-osd ceph-osd "$dir/log/ceph-osd.out" ceph-osd "${cephargs[@]}" -f -i 0
  local osdpid=$S3C_SPAWNED_PID
  s3c_spawn "$dir" radosgw radosgw "$dir/log/radosgw.out" radosgw "${cephargs[@]}" -f -n client.rgw.$rgwname
  local rgwpid=$S3C_SPAWNED_PID

  local endpoint="http://127.0.0.1:$rgwport"
  local left=$(( deadline - $(date +%s) )); [ $left -gt 1 ] || left=1
  if ! s3c_wait_http "$endpoint/" "$rgwpid" "$left" \
      "$dir/log/radosgw.out" "$dir/log/client.rgw.$rgwname.log"; then
    s3c_alive "$osdpid" || { s3c_log "ceph-osd died:"; tail -n 30 "$dir/log/ceph-osd.out" "$dir/log/osd.0.log" >&2 || true; }
    s3c_die "radosgw did not come up"
  fi

  local ak sk
  ak="S3C$(s3c_random_hex 17 | tr a-f A-F)"
  sk=$(s3c_random_hex 40)
  radosgw-admin "${cephargs[@]}" user create --uid=s3c-test --display-name="s3cryptfs tests" \
      --access-key="$ak" --secret-key="$sk" >>"$dir/log/setup.log" 2>&1 \
      || { tail -n 20 "$dir/log/setup.log" >&2; s3c_die "radosgw-admin user create failed"; }
  local bucket=s3c-test region=us-east-1
  s3c_signed_put_bucket "$endpoint" "$ak" "$sk" "$region" "$bucket" || s3c_die "cannot create bucket"

  s3c_publish_ready "$dir" "$t0" "$endpoint ($store)" "pids: mon $monpid osd $osdpid rgw $rgwpid" <<ENV
S3C_CEPH_ENDPOINT=$endpoint
S3C_CEPH_ACCESS_KEY=$ak
S3C_CEPH_SECRET_KEY=$sk
S3C_CEPH_BUCKET=$bucket
S3C_CEPH_REGION=$region
S3C_CEPH_STORE=$store
S3C_CEPH_CONF=$dir/ceph.conf
ENV
}

s3c_main "$cmd" "$@"
