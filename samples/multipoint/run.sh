#!/usr/bin/env bash
# Starts the three cities on one machine: New York 19351, Chicago 19352, Los Angeles 19353 (RTMP)
# and 19443 (RTMPS: New York relays to Los Angeles over TLS).
set -euo pipefail
cd "$(dirname "$0")/../.."
samples/multipoint/make-certificates.sh
trap 'kill 0' EXIT
npm start --silent -- --apps samples/multipoint/chicago    --rtmp-port 19352 --http-port 18352 &
npm start --silent -- --apps samples/multipoint/losangeles --rtmp-port 19353 --http-port 18353 \
  --rtmps-port 19443 --config samples/multipoint/losangeles.config.json &
npm start --silent -- --apps samples/multipoint/newyork    --rtmp-port 19351 --http-port 18351 \
  --config samples/multipoint/newyork.config.json &
wait
