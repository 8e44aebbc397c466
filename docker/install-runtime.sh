#!/bin/sh
# The run stage's system packages: HAProxy (with the right to bind ports
# below 1024 as a non-root user), socat for bin/haproxy-reload, tini as a
# small init. Used by the Dockerfile; idempotent, so tests run it too.
set -eu
need=""
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need="$need haproxy"
command -v socat >/dev/null 2>&1 || need="$need socat"
command -v tini >/dev/null 2>&1 || [ -x /usr/bin/tini ] || need="$need tini"
command -v setcap >/dev/null 2>&1 || [ -x /usr/sbin/setcap ] || need="$need libcap2-bin"
if [ -n "$need" ]; then
  export DEBIAN_FRONTEND=noninteractive
  [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 $need </dev/null >/dev/null
fi
/usr/sbin/setcap 'cap_net_bind_service=+ep' /usr/sbin/haproxy
