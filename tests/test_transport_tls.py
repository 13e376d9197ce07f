"""TLS from the store config (`mqtt.tls`): the edge talks to an mqtts:// broker and checks its certificate."""

from __future__ import annotations

import shutil
import subprocess

from dashboard.confirm import confirmations
from edge.outbox import Outbox
from edge.publisher import Publisher
from footfall_core.mqtt_link import new_client
from footfall_core.store import Mqtt, Tls
from tests.brokers import Mosquitto
from tests.needs import need
from tests.transport_support import make_aggregates, wait_until


def _certificates(directory) -> dict[str, str]:
    """A throw-away CA and a server certificate for localhost / 127.0.0.1."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=footfall-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "broker.key",
        "-out",
        "broker.csr",
    )
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "broker.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "broker.crt",
    )
    return {name: str(directory / name) for name in ("ca.crt", "broker.crt", "broker.key")}


def test_edge_publishes_over_tls_and_refuses_an_unknown_broker(tmp_path):
    need(
        shutil.which("openssl") is not None,
        "openssl is missing to make certificates (make setup installs it)",
    )
    certs = _certificates(tmp_path)
    tls_config = f"certfile {certs['broker.crt']}\nkeyfile {certs['broker.key']}\n"
    with Mosquitto(tmp_path / "broker", tls_config) as broker:
        url = f"mqtts://localhost:{broker.port}"
        centre, _ = new_client(Mqtt(url=url, tls=Tls(ca_file=certs["ca.crt"])), "centre")
        received = []

        def confirm(client, userdata, message) -> None:  # as the ingest does after its commit
            received.append(message.topic)
            for topic, payload in confirmations([(message.topic, message.payload)]):
                client.publish(topic, payload, qos=1)

        centre.on_message = confirm
        centre.connect("localhost", broker.port)
        centre.subscribe("footfall/v1/+/+/agg", qos=1)
        centre.loop_start()
        good = Publisher(
            Mqtt(url=url, tls=Tls(ca_file=certs["ca.crt"])),
            "shop-1",
            ["cam1"],
            Outbox(tmp_path / "good.sqlite3"),
            client_id="edge-tls",
        ).start()
        assert wait_until(lambda: good.connected, 10), "TLS with the right CA connects"
        for message in make_aggregates("shop-1", ["cam1"], 1):
            good.publish_aggregate(message)
        assert good.drain(10) and wait_until(lambda: len(received) == 5, 5)
        wrong_ca = tmp_path / "other"
        wrong_ca.mkdir()
        other = _certificates(wrong_ca)["ca.crt"]
        bad = Publisher(
            Mqtt(url=url, tls=Tls(ca_file=other)),
            "shop-1",
            ["cam1"],
            Outbox(tmp_path / "bad.sqlite3"),
            client_id="edge-bad",
        ).start()
        for message in make_aggregates("shop-1", ["cam1"], 1):
            bad.publish_aggregate(message)
        assert not wait_until(lambda: bad.connected, 3), "a broker certificate from another CA is refused"
        assert bad.outbox.depth == 5, "so the aggregates wait on disk"
        bad.close(drain_timeout_s=0)
        good.close()
        centre.loop_stop()
        centre.disconnect()
