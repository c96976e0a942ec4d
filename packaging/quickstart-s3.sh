#!/usr/bin/env bash
# The quick start against a local S3 server: starts Ceph RGW (or s3rver) on 127.0.0.1 with the
# test harness scripts, creates an encrypted volume under a prefix of its bucket, mounts it,
# writes through the mount, lists the bucket to show only ciphertext objects, remounts, unmounts
# and stops the server.
#
# Usage: bash packaging/quickstart-s3.sh [ceph|s3rver] [DEMO_DIR]   (default: ceph, ./demo-s3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=packaging/quickstart-lib.sh
. "$root/packaging/quickstart-lib.sh"
server="${1:-ceph}"
demo="$(realpath -m "${2:-$PWD/demo-s3}")"

case "$server" in
  ceph) script=ceph-rgw.sh; var=CEPH ;;
  s3rver) script=s3rver.sh; var=S3RVER ;;
  *) echo "quickstart-s3.sh: server must be ceph or s3rver" >&2; exit 2 ;;
esac
qs_require_root quickstart-s3.sh
qs_build

[ -f "$demo/server/pids" ] && bash "$root/tests/servers/$script" stop "$demo/server" >/dev/null
qs_fresh_demo

step "Starting $server on 127.0.0.1"
bash "$root/tests/servers/$script" start "$demo/server"
# shellcheck disable=SC1091
. "$demo/server/env"
endpoint_var="S3C_${var}_ENDPOINT"; access_var="S3C_${var}_ACCESS_KEY"
secret_var="S3C_${var}_SECRET_KEY"; bucket_var="S3C_${var}_BUCKET"
endpoint="${!endpoint_var}"; bucket="${!bucket_var}"
export AWS_ACCESS_KEY_ID="${!access_var}" AWS_SECRET_ACCESS_KEY="${!secret_var}"
export AWS_REGION=us-east-1
source="s3://$bucket/quickstart/"
options="endpoint=$endpoint,staging_dir=$demo/staging,log_file=$demo/s3cryptfs.log"

stop_server() { qs_unmount; bash "$root/tests/servers/$script" stop "$demo/server" >/dev/null || true; }
trap stop_server EXIT

list_bucket() {
  curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$endpoint/$bucket?list-type=2&prefix=quickstart%2F"
}

step "A key file and a new volume at $source ($endpoint)"
qs_create_volume -o "endpoint=$endpoint"

step "Mounting it on $demo/mnt"
qs_mount

step "Writing through the mount"
qs_write_files "Hello from s3cryptfs on S3: stored encrypted."
ls -lR "$demo/mnt"
cat "$demo/mnt/hello.txt"
qs_unmount

step "The bucket's object keys under quickstart/ (names are encrypted)"
listing="$(list_bucket)"
keys="$(echo "$listing" | grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' || true)"
if [ -z "$keys" ]; then
  echo "could not list the bucket: $listing" >&2
  exit 1
fi
echo "$keys"
in_listing() { grep -qF -- "$1" <<<"$listing"; }
qs_check_absent "the bucket" in_listing hello.txt projects numbers.txt

qs_remount_and_show

step "Done (stopping $server)"
