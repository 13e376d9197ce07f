#!/usr/bin/env bash
# Make a fresh clone runnable: system packages (Mosquitto, RabbitMQ, Chromium, GStreamer's RTSP
# server) when missing, then .venv.
# Idempotent; `make` calls it before `test` and `demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)  # the clustered broker
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# GStreamer's RTSP server under the system Python: the simulated IP camera of the RTSP tests
/usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst; \
Gst.init(None); assert Gst.ElementFactory.find('h264parse') and Gst.ElementFactory.find('rtph264pay')" \
  >/dev/null 2>&1 \
  || need+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
if [ ${#need[@]} -gt 0 ]; then
  echo "bootstrap: installing ${need[*]} with apt-get" >&2
  sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The locked versions, each file checked against its sha256 (requirements.lock, written by
# scripts/lock.sh from requirements.txt); a .venv made before is moved to exactly them.
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ requirements-nodeps.txt -nt "$stamp" ]; then
  echo "bootstrap: installing the locked Python packages into .venv" >&2
  [ -x .venv/bin/python ] || python3 -m venv .venv
  pip=(.venv/bin/pip install -q --disable-pip-version-check --require-hashes)
  "${pip[@]}" -r requirements.lock 2> >(grep -v "is ignored: it is neither" >&2)
  "${pip[@]}" --no-deps -r requirements-nodeps.txt 2> >(grep -v "is ignored: it is neither" >&2)
  touch "$stamp"
fi
