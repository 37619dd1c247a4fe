#!/usr/bin/env bash
# Generate a development CA and one certificate per node, for vbus TLS / mutual TLS.
#
#   scripts/dev-certs.sh OUT_DIR [--router NAME]... NODE_NAME...
#
# Writes:
#   OUT_DIR/ca.pem                 the CA certificate every node trusts (`tls.ca`)
#   OUT_DIR/ca-private/ca.key      the CA's key, apart from the node keys (a 0700 directory):
#                                  only this script needs it; never deploy it to a node
#   OUT_DIR/<name>.pem, .key       per node: CN=<name> (the identity vbus access policies use),
#                                  subjectAltName DNS:localhost, IP:127.0.0.1
# Only routers (--router NAME) get serverAuth: they accept links; every other node gets
# clientAuth only, so a stolen ECU key cannot impersonate a router (ECUs of a TLS domain are
# clients of its router). Keys are EC P-256 in PKCS#8 (0600). Validity is short on purpose: 30
# days for node certificates, 90 for the CA; files that expire within a day are made again, the
# others kept (idempotent); delete OUT_DIR to start over.
# For development and tests only: a vehicle's production PKI is the OEM's.
set -euo pipefail
usage() { echo "usage: $0 OUT_DIR [--router NAME]... NODE_NAME..." >&2; exit 2; }
[[ $# -ge 2 ]] || usage
out=$1; shift
routers=()
nodes=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --router) [[ $# -ge 2 ]] || usage; routers+=("$2"); nodes+=("$2"); shift 2 ;;
        -*) echo "unknown option: $1" >&2; usage ;;
        *) nodes+=("$1"); shift ;;
    esac
done
[[ ${#nodes[@]} -ge 1 ]] || usage
umask 077
mkdir -p "$out/ca-private"
chmod 700 "$out/ca-private"
node_days=30
ca_days=90
# Still valid for at least a day?
fresh() { [[ -f "$1" ]] && openssl x509 -checkend 86400 -noout -in "$1" >/dev/null 2>&1; }

if ! fresh "$out/ca.pem" || [[ ! -f "$out/ca-private/ca.key" ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$out/ca-private/ca.key" -out "$out/ca.pem" -days "$ca_days" \
        -subj "/O=vbus development/CN=vbus dev CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        2>/dev/null
    # A new CA: the node certificates of the old one are worthless.
    for n in "${nodes[@]}"; do rm -f "$out/$n.pem"; done
fi
chmod 644 "$out/ca.pem"
is_router() { local r; for r in "${routers[@]}"; do [[ "$r" == "$1" ]] && return 0; done; return 1; }
for name in "${nodes[@]}"; do
    [[ "$name" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "bad node name: $name" >&2; exit 2; }
    fresh "$out/$name.pem" && continue
    if is_router "$name"; then usage_ext="serverAuth,clientAuth"; else usage_ext="clientAuth"; fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$out/$name.key" -out "$out/$name.csr" -subj "/O=vbus development/CN=$name" 2>/dev/null
    openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.pem" -CAkey "$out/ca-private/ca.key" \
        -CAcreateserial -CAserial "$out/ca-private/ca.srl" -out "$out/$name.pem" -days "$node_days" \
        -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n' "$usage_ext") \
        2>/dev/null
    rm -f "$out/$name.csr"
    chmod 644 "$out/$name.pem"
done
echo "certificates in $out: ca.pem and $(printf '%s.pem ' "${nodes[@]}") (routers: ${routers[*]:-none}; CA key in $out/ca-private)"
