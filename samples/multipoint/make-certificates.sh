#!/usr/bin/env bash
# Makes a throw-away CA and a certificate for localhost in samples/multipoint/.tls/ (once): Los
# Angeles serves RTMPS with it, New York trusts the CA for its rtmps:// relay (outbound.caFiles).
# With a real certificate (e.g. from an ACME client) you would point rtmps.cert/rtmps.key at it
# and need no extra CA at all: system CAs are trusted by default.
set -euo pipefail
dir="$(dirname "$0")/.tls"
[ -f "$dir/server.pem" ] && exit 0
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 365 -subj "/CN=multipoint sample CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 365 -extfile ext.cnf 2>/dev/null
echo "certificates in $dir"
