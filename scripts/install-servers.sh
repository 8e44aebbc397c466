#!/usr/bin/env bash
# Installs the real servers the integration tests run (ZooKeeper, HAProxy, nginx with its stream module), the load and
# socket tools, and the browser the dashboard spec drives (Chromium), from Debian packages; exits at once when everything
# is already there (INSTALL_SERVERS_ALWAYS=1 runs apt-get anyway, e.g. to upgrade). It leaves the machine as it found it apart from the packages.
set -euo pipefail

# Where Debian's invoke-rc.d looks; a variable so that the script's own spec can watch it without touching the host's.
policy=${POLICY_RC_D:-/usr/sbin/policy-rc.d}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }   # /usr/sbin is not on a non-root PATH

if [ "${INSTALL_SERVERS_ALWAYS:-}" != 1 ] && have haproxy && have nginx && have java && have socat && have nc && have wrk && have tini && have chromium \
  && [ -f /usr/share/java/zookeeper.jar ] && [ -f /usr/share/java/slf4j-simple.jar ] \
  && [ -f /usr/lib/nginx/modules/ngx_stream_module.so ]; then
  exit 0
fi

packages=(zookeeper haproxy nginx libnginx-mod-stream wrk socat netcat-openbsd tini chromium)

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
saved=""      # where the host's own policy-rc.d waits while ours is in place
created=""    # set once ours is in place
restore_policy() {
  if [ -n "$saved" ]; then
    as_root mv -f "$saved" "$policy"
  elif [ -n "$created" ]; then
    as_root rm -f "$policy"
  fi
  saved="" created=""
}
trap 'restore_policy; rm -f "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Package scripts must not start a system haproxy or nginx while we install (nginx's default site would take :80), but
# a policy-rc.d left behind would stop every later package on this host from starting its service: ours lives only for
# the apt-get below, and a policy the host had is put back as it was.
# Each step is a copy or a rename, so the host never goes without a policy that it had.
if [ -e "$policy" ] || [ -L "$policy" ]; then
  saved="$policy.install-servers.$$"
  as_root cp -a "$policy" "$saved"
fi
as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > "$1.new" && chmod 755 "$1.new" && mv -f "$1.new" "$1"' sh "$policy"
created=1

if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
       && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=120 \
            "${packages[@]}"; } </dev/null >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-servers: apt-get failed (output above)" >&2
  exit 1
fi
restore_policy

echo "install-servers: installed ${missing[*]:-nothing new (all packages were present)}"
