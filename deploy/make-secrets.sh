#!/bin/sh
# Make the secrets deploy/docker-compose.yml mounts (never committed: secrets/.gitignore):
#
#   sh deploy/make-secrets.sh
#
# - secrets/otlp.token    applications -> OpenTelemetry Collector -> aikpi replicas (OTLP)
# - secrets/scrape.token  Prometheus -> aikpi replicas (/metrics)
# - secrets/ca.pem, secrets/server.pem, secrets/server-key.pem: a private CA and one server
#   certificate for every replica's compose name, for TLS inside the stack (the OpenTelemetry
#   Collector sends its token only over TLS); secrets/ca-key.pem: keep it offline.
#
# Existing files are kept, so running it again never rotates a token by surprise; delete a
# file to make a new one. SECRETS_DIR overrides where they go (default: next to this file).
set -eu

dir="${SECRETS_DIR:-$(dirname "$0")/secrets}"
mkdir -p "$dir"
chmod 700 "$dir"   # only the owner reaches the files on the host ...
umask 022          # ... while the containers' own users (Prometheus runs as nobody, the
                   # OpenTelemetry Collector as 10001) can read the ones mounted for them

token() {
    if [ ! -s "$dir/$1" ]; then
        openssl rand -hex 32 > "$dir/$1"
        echo "made $dir/$1"
    fi
}

token otlp.token
token scrape.token

if [ ! -s "$dir/server.pem" ]; then
    # a private CA, and one server certificate valid for every replica's compose name
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
        -subj "/CN=aikpi compose CA" -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=aikpi collector" -keyout "$dir/server-key.pem" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:aikpi-1,DNS:aikpi-2,DNS:demo,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
        > "$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
        -CAcreateserial -days 825 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
    chmod 600 "$dir/ca-key.pem" "$dir/server-key.pem"  # the replicas run as root
    echo "made $dir/ca.pem, $dir/server.pem, $dir/server-key.pem (keep ca-key.pem offline)"
fi
