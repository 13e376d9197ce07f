#!/usr/bin/env bash
# Install Footfall as systemd services.
#   sudo scripts/install.sh edge     # an edge device: footfall-edge.service
#   sudo scripts/install.sh central  # the centre: footfall-ingest + footfall-alerts + footfall-dashboard (+ Mosquitto config)
# PREFIX (default /opt/footfall) is where the code and its venv go: the package is installed into
# the venv, whose bin/ holds the units' commands (footfall-edge, footfall-dashboard,
# footfall-calibration). DESTDIR stages everything under another root (packaging, tests) and skips
# systemctl; SKIP_VENV leaves the venv to the caller.
set -euo pipefail
role=${1:?usage: install.sh edge|central}
case "$role" in edge) units=(footfall-edge.service) ;; central) units=(footfall-ingest.service footfall-alerts.service footfall-dashboard.service) ;;
  *) echo "install.sh: unknown role '$role' (edge or central)" >&2; exit 2 ;; esac
src=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=${PREFIX:-/opt/footfall}
DESTDIR=${DESTDIR:-}
root="$DESTDIR"

install -d "$root$PREFIX" "$root/etc/footfall" "$root/etc/systemd/system"
tar -C "$src" --exclude=.venv --exclude=.git --exclude=var --exclude=artifacts -cf - . | tar -C "$root$PREFIX" -xf -
if [ -z "${SKIP_VENV:-}" ]; then
  python3 -m venv "$root$PREFIX/.venv"
  "$root$PREFIX/.venv/bin/pip" install -q -r "$root$PREFIX/requirements.txt"
  "$root$PREFIX/.venv/bin/pip" install -q --no-deps -r "$root$PREFIX/requirements-nodeps.txt"
  "$root$PREFIX/.venv/bin/pip" install -q --no-deps "$root$PREFIX"
fi
for unit in "${units[@]}"; do
  sed "s#/opt/footfall#$PREFIX#g" "$src/systemd/$unit" > "$root/etc/systemd/system/$unit"
done
if [ "$role" = edge ]; then
  [ -e "$root/etc/footfall/store.yaml" ] || install -m 0640 "$src/examples/pets09.yaml" "$root/etc/footfall/store.yaml"
  echo "Edit /etc/footfall/store.yaml (store id, cameras, calibration, mqtt), then: systemctl enable --now footfall-edge"
else
  [ -e "$root/etc/footfall/central.env" ] || printf '%s\n' \
    "FOOTFALL_DB_URL=postgresql+psycopg://footfall@127.0.0.1:5432/footfall" \
    "FOOTFALL_MQTT_URL=mqtt://ingest@127.0.0.1:1883" \
    "FOOTFALL_ALERTS_MQTT_URL=mqtt://alerts@127.0.0.1:1883" > "$root/etc/footfall/central.env"
  if [ -d "$src/systemd/mosquitto" ]; then
    install -d "$root/etc/mosquitto/conf.d"
    cp "$src/systemd/mosquitto/"*.conf "$root/etc/mosquitto/conf.d/" 2>/dev/null || true
    install -d "$root/etc/systemd/system/mosquitto.service.d"
    cp "$src/systemd/mosquitto.service.d/"*.conf "$root/etc/systemd/system/mosquitto.service.d/"
  fi
  echo "Set /etc/footfall/central.env, run '$PREFIX/.venv/bin/footfall-dashboard migrate' and '... broker-acl', then: systemctl enable --now ${units[*]}"
fi
if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
