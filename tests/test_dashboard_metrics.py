from datetime import UTC, datetime

from fastapi.testclient import TestClient

from dashboard import auth, registry
from dashboard.app import create_app
from dashboard.settings import Settings
from footfall_core.contract import LineCount, LinesAggregate


def metric(text: str, name: str) -> float:
    [line] = [row for row in text.splitlines() if row.startswith(name + " ")]
    return float(line.split()[1])


METRICS_TOKEN = "prometheus-" + "p" * 40


def test_metrics_show_ingest_rate_and_dead_letters(tmp_path):
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        secret_key="metrics-" + "m" * 40,
        metrics_token=METRICS_TOKEN,
    )
    app = create_app(settings)
    storage = app.state.storage
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    messages = [
        LinesAggregate(
            store="s1",
            camera=f"c{i}",
            bucket_start=now,
            bucket_s=60,
            covered_s=60,
            lines=[LineCount(line="door", in_count=3, out_count=1)],
        )
        for i in range(30)
    ]
    assert len(storage.write_aggregates(messages).stored) == 30
    storage.dead_letter("footfall/v1/s1/c1/agg", b"{oops", "not JSON")
    changed = messages[0].model_copy(update={"lines": [LineCount(line="door", in_count=4, out_count=1)]})
    assert storage.write_aggregates([changed]).refused[0].code == "conflict"
    storage.camera_status("s1", "c1", "online")
    with TestClient(app) as client:
        text = client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert metric(text, "footfall_ingest_rate") == 30 / 60
    assert metric(text, "footfall_dead_letters") == 2
    assert metric(text, "footfall_dead_letters_last_hour") == 2
    assert metric(text, 'footfall_dead_letters_by_code{code="conflict"}') == 1
    assert metric(text, 'footfall_dead_letters_by_code{code="contract"}') == 1
    assert metric(text, "footfall_cameras_online") == 1


def test_metrics_need_the_metrics_token_or_an_hq_user(tmp_path):
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        secret_key="metrics-" + "m" * 40,
        metrics_token=METRICS_TOKEN,
    )
    app = create_app(settings)
    with app.state.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord.model_validate(dict(store=dict(id="s1"))))
        auth.add_user(conn, "boss", "hq", "boss-password")
        auth.add_user(conn, "ann", "manager", "ann-password", ["s1"])
        tokens = {name: auth.new_token(conn, name) for name in ("boss", "ann")}
    client = TestClient(app)

    def status(token: str | None) -> int:
        return client.get(
            "/metrics", headers={"authorization": f"Bearer {token}"} if token else {}
        ).status_code

    assert status(None) == 401
    assert status("prometheus-" + "q" * 40) == 401
    assert status(tokens["ann"]) == 403
    assert (status(METRICS_TOKEN), status(tokens["boss"])) == (200, 200)
