#!/usr/bin/env bash
# Installs the real servers the integration tests run (ZooKeeper, HAProxy, nginx with its stream module) plus the load and
# socket tools, from Debian packages; exits at once when everything is already there.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }   # /usr/sbin is not on a non-root PATH

if have haproxy && have nginx && have java && have socat && have nc && have wrk && have tini \
  && [ -f /usr/share/java/zookeeper.jar ] && [ -f /usr/share/java/slf4j-simple.jar ] \
  && [ -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  exit 0
fi

packages=(zookeeper haproxy nginx libnginx-mod-stream wrk socat netcat-openbsd tini)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-servers: need root or sudo to install ${packages[*]}" >&2
    exit 1
  fi
}

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Package scripts must not start a system haproxy or nginx (nginx's default site would take :80).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
fi

if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
       && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=120 \
            "${packages[@]}"; } </dev/null >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-servers: apt-get failed (output above)" >&2
  exit 1
fi

echo "install-servers: installed ${missing[*]:-nothing new (all packages were present)}"
