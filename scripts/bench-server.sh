#!/usr/bin/env bash
# Bench part "server": `dvfs serve` against nginx (sendfile on) serving the same
# 1 GiB file on loopback, and the latency of a 1,000-file listing page.
# Run through scripts/bench (which sets DVFS_CLI and prints the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DVFS_CLI:?run this through scripts/bench}"

REPS=${BENCH_REPS:-5}
LIST_REPS=${BENCH_LIST_REPS:-20}
SIZE=$((1024 * 1024 * 1024))
SMALL_FILES=2000
NGINX=${NGINX:-/usr/sbin/nginx}

work=$(mktemp -d "${TMPDIR:-/tmp}/dvfs-bench-server.XXXXXX")
serve_pid=""
nginx_pid=""
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  [ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
  [ -z "$serve_pid" ] || wait "$serve_pid" 2>/dev/null || true
  [ -z "$nginx_pid" ] || wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench server: $*" >&2; exit 1; }
# jget EXPR: print EXPR (a JS property path after `j`) of the JSON on stdin.
jget() {
  node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const j=JSON.parse(s);const v=new Function("j","return j"+process.argv[1])(j);if(v===undefined)process.exit(1);console.log(v)})' "$1"
}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

[ -x "$NGINX" ] || die "nginx not found at $NGINX (Debian: apt-get install nginx-light)"

echo "## server: dvfs serve vs nginx"
echo
# --- dvfs serve ---
data="$work/data"
node "$DVFS_CLI" serve --port 0 --data-dir "$data" >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/serve.log" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || die "dvfs serve exited: $(cat "$work/serve.log")"
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" | head -1)
[ -n "$url" ] || die "dvfs serve did not start: $(cat "$work/serve.log")"
token=$(cat "$data/admin-token")
api() { curl -sS -H "X-Dataverse-key: $token" "$@"; }

new_dataset() {
  cat >"$work/ds.json" <<JSON
{"datasetVersion":{"license":{"name":"CC0 1.0","uri":"http://creativecommons.org/publicdomain/zero/1.0"},
 "metadataBlocks":{"citation":{"fields":[
  {"typeName":"title","multiple":false,"typeClass":"primitive","value":"$1"},
  {"typeName":"author","multiple":true,"typeClass":"compound","value":[{"authorName":{"typeName":"authorName","multiple":false,"typeClass":"primitive","value":"Bench, Mark"}}]},
  {"typeName":"datasetContact","multiple":true,"typeClass":"compound","value":[{"datasetContactEmail":{"typeName":"datasetContactEmail","multiple":false,"typeClass":"primitive","value":"bench@example.org"}}]},
  {"typeName":"dsDescription","multiple":true,"typeClass":"compound","value":[{"dsDescriptionValue":{"typeName":"dsDescriptionValue","multiple":false,"typeClass":"primitive","value":"Benchmark data."}}]},
  {"typeName":"subject","multiple":true,"typeClass":"controlledVocabulary","value":["Other"]}]}}}}
JSON
  api -H 'Content-Type: application/json' --data-binary @"$work/ds.json" "$url/api/dataverses/root/datasets" | jget '.data.id' \
    || die "could not create dataset '$1'"
}

# --- the 1 GiB file: generated, uploaded, then served by both from the same blob ---
t0=$(date +%s.%N)
head -c "$SIZE" /dev/urandom >"$work/big.bin"
big_ds=$(new_dataset "One gibibyte")
big_id=$(api -F "file=@$work/big.bin;filename=big.bin;type=application/octet-stream" -F 'jsonData={"tabIngest":false}' \
  "$url/api/datasets/$big_ds/add" | jget '.data.files[0].dataFile.id') || die "upload of the 1 GiB file failed"
rm -f "$work/big.bin"
blob=$(find "$data/blobs" -type f -size "${SIZE}c" | head -1)
[ -n "$blob" ] || die "the uploaded blob is not in $data/blobs"
t1=$(date +%s.%N)
echo "setup: 1 GiB file generated and uploaded in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b-a}') s"

# --- nginx on the same bytes ---
nginx_port=$(free_port)
mkdir -p "$work/nginx/tmp" "$work/www"
ln -s "$blob" "$work/www/big.bin"
user_line=""
[ "$(id -u)" -ne 0 ] || user_line="user root;"
cat >"$work/nginx/nginx.conf" <<CONF
$user_line
worker_processes 1;
# One process (no master), so its CPU time is easy to read.
master_process off;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
CONF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 50); do
  curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$nginx_port/big.bin" && break
  kill -0 "$nginx_pid" 2>/dev/null || die "nginx exited: $(cat "$work/nginx/error.log")"
  sleep 0.1
done

dvfs_url="$url/api/access/datafile/$big_id"
nginx_url="http://127.0.0.1:$nginx_port/big.bin"
# Same bytes from both (a 1 MiB slice from the middle), and the full length.
curl -sS -r 536870912-537919487 -H "X-Dataverse-key: $token" "$dvfs_url" -o "$work/a.part"
curl -sS -r 536870912-537919487 "$nginx_url" -o "$work/b.part"
cmp -s "$work/a.part" "$work/b.part" || die "dvfs serve and nginx serve different bytes"

ticks_per_s=$(getconf CLK_TCK)
# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# curl_get PID URL [curl args]: prints "seconds cpu-seconds" for a full GET to /dev/null
# (checks the size); cpu-seconds is what server process PID spent meanwhile.
curl_get() {
  local pid=$1 u=$2; shift 2
  local out c0 c1
  c0=$(cpu_ticks "$pid")
  out=$(curl -sS -o /dev/null -w '%{size_download} %{time_total}' "$@" "$u")
  c1=$(cpu_ticks "$pid")
  [ "${out% *}" = "$SIZE" ] || die "short download from $u: ${out% *} bytes"
  echo "${out#* } $(awk -v t=$((c1 - c0)) -v hz="$ticks_per_s" 'BEGIN {printf "%.3f", t / hz}')"
}
# Warm both (page cache, JIT), then alternate.
curl_get "$serve_pid" "$dvfs_url" -H "X-Dataverse-key: $token" >/dev/null
curl_get "$nginx_pid" "$nginx_url" >/dev/null
: >"$work/dvfs.times"; : >"$work/nginx.times"
for _ in $(seq "$REPS"); do
  curl_get "$serve_pid" "$dvfs_url" -H "X-Dataverse-key: $token" >>"$work/dvfs.times"
  curl_get "$nginx_pid" "$nginx_url" >>"$work/nginx.times"
done
dvfs_s=$(cut -d' ' -f1 "$work/dvfs.times" | median)
nginx_s=$(cut -d' ' -f1 "$work/nginx.times" | median)
dvfs_cpu=$(cut -d' ' -f2 "$work/dvfs.times" | median)
nginx_cpu=$(cut -d' ' -f2 "$work/nginx.times" | median)
mbs() { awk -v s="$1" -v n="$SIZE" 'BEGIN {printf "%.0f", n / s / 1e6}'; }
dvfs_mbs=$(mbs "$dvfs_s")
nginx_mbs=$(mbs "$nginx_s")
ratio=$(awk -v a="$dvfs_mbs" -v b="$nginx_mbs" 'BEGIN {printf "%.2f", a / b}')

# --- listing: a dataset with 2,000 small files (two zips of 1,000, unpacked by the server) ---
t0=$(date +%s.%N)
list_ds=$(new_dataset "Two thousand files")
half=$((SMALL_FILES / 2))
for part in a b; do
  node scripts/bench-make-zip.mjs "$work/$part.zip" "$half" "$part"
  api -o "$work/add-$part.json" -F "file=@$work/$part.zip;type=application/zip" "$url/api/datasets/$list_ds/add"
done
count=$(api "$url/api/datasets/$list_ds/versions/:latest/files?limit=1" | jget '.totalCount' || echo 0)
if [ "$count" != "$SMALL_FILES" ]; then
  # No zip unpacking (or a partial one): upload the files one by one, four at a time.
  echo "setup: zip upload gave $count files, uploading $SMALL_FILES files one by one instead" >&2
  list_ds=$(new_dataset "Two thousand single files")
  mkdir -p "$work/small"
  for i in $(seq -w 0 $((SMALL_FILES - 1))); do printf 'file %s\n' "$i" >"$work/small/f$i.txt"; done
  find "$work/small" -name '*.txt' -print0 | xargs -0 -P 4 -I{} \
    curl -sS -f -o /dev/null -H "X-Dataverse-key: $token" -F "file=@{}" "$url/api/datasets/$list_ds/add"
  count=$(api "$url/api/datasets/$list_ds/versions/:latest/files?limit=1" | jget '.totalCount' || echo 0)
  [ "$count" = "$SMALL_FILES" ] || die "the listing dataset has $count files, not $SMALL_FILES"
fi
t1=$(date +%s.%N)
echo "setup: dataset with $SMALL_FILES files built in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b-a}') s"
list_url="$url/api/datasets/$list_ds/versions/:latest/files?limit=1000"
[ "$(api "$list_url" | jget '.data.length')" = 1000 ] || die "the listing did not return 1,000 files"
: >"$work/list.times"
for _ in $(seq "$LIST_REPS"); do
  curl -sS -o /dev/null -w '%{time_total}\n' -H "X-Dataverse-key: $token" "$list_url" >>"$work/list.times"
done
list_ms=$(median <"$work/list.times" | awk '{printf "%.1f", $1 * 1000}')

echo
echo "| measurement | dvfs serve | nginx | ratio |"
echo "| --- | ---: | ---: | ---: |"
echo "| GET 1 GiB file, median of $REPS (MB/s) | $dvfs_mbs | $nginx_mbs | $ratio |"
echo "| server CPU time per 1 GiB GET, median (s) | $dvfs_cpu | $nginx_cpu | $(awk -v a="$dvfs_cpu" -v b="$nginx_cpu" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print "—"}') |"
echo "| GET versions/:latest/files?limit=1000 of $SMALL_FILES files, median of $LIST_REPS (ms) | $list_ms | — | — |"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews throughput; CPU time per GiB is the steadier figure)"
if awk -v r="$ratio" 'BEGIN {exit !(r >= 0.8)}'; then
  echo "target dvfs serve >= 0.8 x nginx for the 1 GiB file: met ($ratio)"
else
  echo "target dvfs serve >= 0.8 x nginx for the 1 GiB file: NOT met ($ratio)"
fi
