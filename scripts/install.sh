#!/usr/bin/env bash
# Install Footfall as systemd services.
#   sudo scripts/install.sh edge     # an edge device: footfall-edge.service
#   sudo scripts/install.sh central  # the centre: footfall-ingest + footfall-alerts + footfall-dashboard (+ Mosquitto config)
# PREFIX (default /opt/footfall) is where the code and its venv go: the package is installed into
# the venv, whose bin/ holds the units' commands (footfall-edge, footfall-dashboard,
# footfall-calibration). DESTDIR stages everything under another root (packaging, tests) and skips
# systemctl; SKIP_VENV leaves the venv to the caller.
# Everything it creates under /etc/footfall is readable by root only (umask 077): the services
# get their secrets as systemd credentials (docs/deploy.md, "Secrets"). The code and its venv
# are installed world-readable, for the services' dynamic users.
set -euo pipefail
umask 077
role=${1:?usage: install.sh edge|central}
case "$role" in edge) units=(footfall-edge.service) ;; central) units=(footfall-ingest.service footfall-alerts.service footfall-dashboard.service) ;;
  *) echo "install.sh: unknown role '$role' (edge or central)" >&2; exit 2 ;; esac
src=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/footfall}
DESTDIR=${DESTDIR:-}
root="$DESTDIR"

(
  umask 022
  install -d "$root$PREFIX" "$root/etc/systemd/system"
  tar -C "$src" --exclude=.venv --exclude=.git --exclude=var --exclude=artifacts -cf - . | tar -C "$root$PREFIX" -xf -
  if [ -z "${SKIP_VENV:-}" ]; then
    python3 -m venv "$root$PREFIX/.venv"
    # The runtime lock only (no test tools on a server), each file checked against its sha256.
    "$root$PREFIX/.venv/bin/pip" install -q --require-hashes -r "$root$PREFIX/requirements-runtime.lock"
    "$root$PREFIX/.venv/bin/pip" install -q --require-hashes --no-deps -r "$root$PREFIX/requirements-nodeps.txt"
    "$root$PREFIX/.venv/bin/pip" install -q --no-deps "$root$PREFIX"
  fi
  for unit in "${units[@]}"; do
    sed "s#/opt/footfall#$PREFIX#g" "$src/systemd/$unit" > "$root/etc/systemd/system/$unit"
  done
)
install -d -m 0755 "$root/etc/footfall"
# A file systemd loads as a credential must exist or the unit does not start: empty ones are
# made for the edge's, and an empty credential counts as none (footfall_core/secrets.py).
placeholder() { [ -e "$1" ] || { : > "$1"; chmod 0600 "$1"; }; }
if [ "$role" = edge ]; then
  # The store YAML names no password (the cameras' are in camera-secrets.yaml, the broker's in
  # mqtt-password): readable by the service's dynamic user, and by the calibration tools.
  [ -e "$root/etc/footfall/store.yaml" ] || install -m 0644 "$src/examples/pets09.yaml" "$root/etc/footfall/store.yaml"
  placeholder "$root/etc/footfall/mqtt-password"
  [ -e "$root/etc/footfall/camera-secrets.yaml" ] || printf '%s\n' \
    "# Camera users and passwords, one entry per name a camera's 'credentials:' gives, e.g." \
    "# door:" "#   username: admin" "#   password: \"...\"" > "$root/etc/footfall/camera-secrets.yaml"
  echo "Edit /etc/footfall/store.yaml (store id, cameras, calibration, mqtt), put the broker password in"
  echo "/etc/footfall/mqtt-password and camera passwords in /etc/footfall/camera-secrets.yaml, then:"
  echo "systemctl enable --now footfall-edge"
else
  [ -e "$root/etc/footfall/central.env" ] || printf '%s\n' \
    "FOOTFALL_DB_URL=postgresql+psycopg://footfall@127.0.0.1:5432/footfall" \
    "FOOTFALL_MQTT_URL=mqtt://ingest@127.0.0.1:1883" \
    "FOOTFALL_ALERTS_MQTT_URL=mqtt://alerts@127.0.0.1:1883" \
    "FOOTFALL_DASHBOARD_MQTT_URL=mqtt://dashboard@127.0.0.1:1883" > "$root/etc/footfall/central.env"
  chmod go-rwx "$root/etc/footfall/central.env"  # also one an older install left readable
  [ -s "$root/etc/footfall/session-secret" ] ||
    python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$root/etc/footfall/session-secret"
  # what Prometheus sends to read the dashboard's /metrics (copy it to its credentials_file)
  [ -s "$root/etc/footfall/metrics-token" ] ||
    python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$root/etc/footfall/metrics-token"
  if [ -d "$src/systemd/mosquitto" ]; then
    (
      umask 022
      install -d "$root/etc/mosquitto/conf.d"
      cp "$src/systemd/mosquitto/"*.conf "$root/etc/mosquitto/conf.d/" 2>/dev/null || true
      install -d "$root/etc/systemd/system/mosquitto.service.d"
      cp "$src/systemd/mosquitto.service.d/"*.conf "$root/etc/systemd/system/mosquitto.service.d/"
    )
  fi
  echo "Set /etc/footfall/central.env, run '$PREFIX/.venv/bin/footfall-dashboard migrate' and"
  echo "'... broker-acl --out /etc/mosquitto/footfall' (the services load their broker passwords from"
  echo "its passwords/), then: systemctl enable --now ${units[*]}"
fi
if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
