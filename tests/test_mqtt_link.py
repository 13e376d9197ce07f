"""Broker URLs and credentials, read one way by the edge and the centre (footfall_core/mqtt_link.py)."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest

from footfall_core.mqtt_link import BrokerAddress, Failover, broker_password, new_client
from footfall_core.store import Mqtt


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mqtt://broker", BrokerAddress("broker", 1883, False)),
        ("mqtts://broker", BrokerAddress("broker", 8883, True)),
        ("mqtt://127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884, False)),
        ("mqtt://[::1]:1885", BrokerAddress("::1", 1885, False)),
        ("mqtt://edge-7@broker", BrokerAddress("broker", 1883, False, "edge-7", None)),
        (
            "mqtts://edge%2B7:s3cr%40t%2Fx@central.example:8884",
            BrokerAddress("central.example", 8884, True, "edge+7", "s3cr@t/x"),
        ),
    ],
)
def test_broker_urls_give_host_port_tls_and_credentials(url, expected):
    assert BrokerAddress.parse(url) == expected


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://broker:1883", "expected mqtt://host"),
        ("broker:1883", "expected mqtt://host"),
        ("mqtt://:1883", "expected mqtt://host"),
        ("mqtt://broker:http", "bad port"),
        ("mqtt://broker:70000", "bad port"),
    ],
)
def test_a_bad_broker_url_is_refused_naming_it(url, problem):
    with pytest.raises(ValueError, match=problem) as refused:
        BrokerAddress.parse(url)
    assert repr(url) in str(refused.value)


def test_credentials_in_the_url_win_over_the_settings(tmp_path):
    (tmp_path / "edge.pw").write_text("from-the-file\nignored second line\n")
    settings = Mqtt(url="mqtt://broker", username="edge-7", password_file="edge.pw")
    client, address = new_client(settings, "edge-7", resolve=lambda p: str(tmp_path / p))
    assert (address.host, client.username, client.password) == ("broker", "edge-7", "from-the-file")
    url_wins = settings.model_copy(update={"url": "mqtt://other:pw%21@broker:1884"})
    client, address = new_client(url_wins, "edge-7", resolve=lambda p: str(tmp_path / p))
    assert (address.port, client.username, client.password) == (1884, "other", "pw!")
    anonymous, _ = new_client(Mqtt(url="mqtt://broker"), "edge-7")
    assert anonymous.username is None and anonymous.password is None


def test_the_password_is_the_one_the_client_logs_in_with_on_a_node_list_too(tmp_path, monkeypatch):
    """`broker_password` (the ingest signs its client id with it) is what `new_client` logs in
    with: the first node's URL password, else the password file's."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    (tmp_path / "ingest.pw").write_text("from-the-file\n")
    for url in ("mqtt://ingest@n1", "mqtt://ingest@n1:1883,mqtt://ingest@n2:1884"):
        settings = Mqtt(url=url, password_file=str(tmp_path / "ingest.pw"))
        client, _ = new_client(settings, "ingest-1")
        assert broker_password(settings) == client.password == "from-the-file"
    url_wins = Mqtt(
        url="mqtt://ingest:pw%21@n1,mqtt://ingest:pw%21@n2", password_file=str(tmp_path / "ingest.pw")
    )
    client, _ = new_client(url_wins, "ingest-1")
    assert broker_password(url_wins) == client.password == "pw!"
    assert broker_password(Mqtt(url="mqtt://n1,mqtt://n2")) is None


def test_an_unreadable_password_file_names_the_key_and_the_file(tmp_path):
    missing = tmp_path / "nope.pw"
    with pytest.raises(ValueError, match=f"mqtt.password_file {missing}: cannot read"):
        new_client(Mqtt(url="mqtt://edge-7@broker", password_file=str(missing)), "edge-7")
    empty = tmp_path / "empty.pw"
    empty.write_text("")
    with pytest.raises(ValueError, match=f"mqtt.password_file {empty}: the first line is empty"):
        new_client(Mqtt(url="mqtt://edge-7@broker", password_file=str(empty)), "edge-7")


def test_a_cluster_url_lists_its_nodes_and_failover_moves_to_the_next():
    url = "mqtt://edge-1@n1:1883, mqtt://edge-1@n2:1884,mqtt://edge-1@n3:1885"
    addresses = BrokerAddress.parse_all(url)
    assert [(a.host, a.port) for a in addresses] == [("n1", 1883), ("n2", 1884), ("n3", 1885)]
    client, first = new_client(Mqtt(url=url, protocol="3.1.1"), "footfall-edge-shop-1")
    assert first == addresses[0]
    nodes = Failover(client, addresses, keepalive_s=30)
    seen = []
    for _ in range(4):
        nodes.advance()
        seen.append((client.host, client.port))
    assert seen == [("n2", 1884), ("n3", 1885), ("n1", 1883), ("n2", 1884)]
    with pytest.raises(ValueError, match="no address"):
        BrokerAddress.parse_all(" , ")


def test_mqtt_3_1_1_keeps_the_session_on_the_broker():
    """3.1.1 has no session expiry: the device's session (its confirmations) lives as long as
    the broker keeps it, which needs clean_session False."""
    client, _ = new_client(Mqtt(protocol="3.1.1"), "footfall-edge-shop-1")
    assert client.protocol == paho.MQTTv311
    assert client._clean_session is False
    assert new_client(Mqtt(), "x")[0].protocol == paho.MQTTv5
