#!/usr/bin/env bash
# Generate a development CA and one certificate per node, for vbus TLS / mutual TLS.
#
#   scripts/dev-certs.sh OUT_DIR NODE_NAME...
#
# Writes OUT_DIR/ca.pem (+ ca.key) and, per node, OUT_DIR/<name>.pem and OUT_DIR/<name>.key.
# Each node certificate has CN=<name> (the identity vbus access policies use) and
# subjectAltName DNS:localhost, IP:127.0.0.1, so it serves on loopback too. Keys are EC P-256 in
# PKCS#8. Existing files are kept (idempotent); delete OUT_DIR to start over.
# For development and tests only: a vehicle's production PKI is the OEM's.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 OUT_DIR NODE_NAME..." >&2; exit 2; }
out=$1; shift
mkdir -p "$out"
days=3650
if [[ ! -f "$out/ca.pem" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$out/ca.key" -out "$out/ca.pem" -days "$days" \
        -subj "/O=vbus development/CN=vbus dev CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
fi
for name in "$@"; do
    [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad node name: $name" >&2; exit 2; }
    [[ -f "$out/$name.pem" ]] && continue
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$out/$name.key" -out "$out/$name.csr" -subj "/O=vbus development/CN=$name" 2>/dev/null
    openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
        -out "$out/$name.pem" -days "$days" \
        -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n') \
        2>/dev/null
    rm -f "$out/$name.csr"
done
echo "certificates in $out: ca.pem and $(printf '%s.pem ' "$@")"
