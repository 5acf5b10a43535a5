#!/usr/bin/env bash
# Make a development CA, a broker certificate and client certificates for the TLS listener.
#
#   broker/make-certs.sh OUT_DIR [CLIENT_CN ...]
#
# Each client certificate's CN becomes its MQTT user name (use_identity_as_username), so use
# station ids for gateways and the cloud account name for services. Development only: in a
# deployment the CA key lives offline and certificates come from provisioning.
set -euo pipefail
out=${1:?usage: make-certs.sh OUT_DIR [CLIENT_CN ...]}
shift
command -v openssl >/dev/null || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }
mkdir -p "$out"
cd "$out"
days=825
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.crt -days 3650 -subj "/O=fuelwatch dev/CN=fuelwatch dev CA" 2>/dev/null
  echo "made CA: $out/ca.crt"
fi
if [ ! -f server.crt ]; then
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -out server.csr -subj "/O=fuelwatch dev/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days "$days" -extfile server.ext 2>/dev/null
  rm -f server.csr server.ext
  echo "made broker certificate: $out/server.crt (localhost, 127.0.0.1)"
fi
for cn in "$@"; do
  if [[ ! "$cn" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
    echo "make-certs.sh: '$cn' is not a valid station/account id" >&2; exit 2
  fi
  [ -f "$cn.crt" ] && continue
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$cn.key" \
    -out "$cn.csr" -subj "/O=fuelwatch dev/CN=$cn" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$cn.ext"
  openssl x509 -req -in "$cn.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out "$cn.crt" -days "$days" -extfile "$cn.ext" 2>/dev/null
  rm -f "$cn.csr" "$cn.ext"
  echo "made client certificate: $out/$cn.crt (user name $cn)"
done
chmod 600 ./*.key
