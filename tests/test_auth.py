"""Users and roles, settings checks and the registry/users commands (SQLite: no SQL dialect
matters here beyond what test_api covers on both backends)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dashboard import auth, registry, repository
from dashboard import tables as t
from dashboard.__main__ import main as dashboard_main
from dashboard.settings import Settings, SettingsError
from dashboard.storage import Storage
from footfall_core.store import load_config

GOOD_SECRET = "Qm9uam91ciBsZSBtb25kZSwgYydlc3QgdW4gdGVzdA-9f8e7d"


@pytest.fixture
def storage(tmp_path) -> Storage:
    s = Storage(f"sqlite:///{tmp_path / 'auth.sqlite3'}")
    s.migrate()
    return s


@pytest.mark.parametrize(
    "secret, message",
    [
        ("short", "at least 32"),
        ("change-me-change-me-change-me-change-me", "placeholder"),
        ("my-secret-key-for-the-footfall-dashboard", "placeholder"),
    ],
)
def test_settings_refuse_weak_secrets(secret, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"FOOTFALL_SECRET_KEY": secret})


def test_settings_read_the_environment(tmp_path):
    with pytest.raises(SettingsError, match="FOOTFALL_SECRET_KEY or FOOTFALL_SECRET_FILE"):
        Settings.from_env({})
    (tmp_path / "secret").write_text(GOOD_SECRET + "\n")
    settings = Settings.from_env(
        {
            "FOOTFALL_SECRET_FILE": str(tmp_path / "secret"),
            "FOOTFALL_DB_URL": "sqlite:///x",
            "FOOTFALL_MQTT_URL": "mqtt://broker:1884",
        },
        db_url=None,
    )
    assert (settings.secret_key, settings.db_url, settings.mqtt.url) == (
        GOOD_SECRET,
        "sqlite:///x",
        "mqtt://broker:1884",
    )
    assert GOOD_SECRET not in repr(settings)
    with pytest.raises(SettingsError, match="FOOTFALL_SECRET_FILE .*nope: cannot read"):
        Settings.from_env({"FOOTFALL_SECRET_FILE": str(tmp_path / "nope")})


def test_passwords_are_argon2_and_roles_scope_stores(storage):
    with storage.engine.begin() as conn:
        for store_id in ("a", "b"):
            registry.save(conn, registry.StoreRecord.model_validate(dict(store=dict(id=store_id))))
        auth.add_user(conn, "hq1", "hq", "correct horse")
        auth.add_user(conn, "m1", "manager", "battery staple", ["b"])
        stored = conn.scalar(sa.select(t.users.c.password_hash).where(t.users.c.name == "m1"))
        assert stored.startswith("$argon2id$") and "battery" not in stored
        assert auth.authenticate(conn, "m1", "battery staple") == auth.Principal(
            "m1", "manager", frozenset({"b"})
        )
        assert auth.authenticate(conn, "m1", "Battery staple") is None
        assert auth.authenticate(conn, "ghost", "battery staple") is None
        hq = auth.authenticate(conn, "hq1", "correct horse")
        assert hq.can_see("a") and hq.visible() is None
        m1 = auth.principal(conn, "m1")
        assert not m1.can_see("a") and m1.visible(["a", "b"]) == {"b"}
        assert [s.id for s in repository.list_stores(conn, m1.visible())] == ["b"]


@pytest.mark.parametrize(
    "role, stores, password, message",
    [
        ("boss", [], "long enough", "role must be one of hq, manager"),
        ("manager", [], "long enough", "needs at least one store"),
        ("manager", ["a", "zz"], "long enough", "unknown store.*zz"),
        ("hq", [], "short", "shorter than 8"),
    ],
)
def test_bad_users_are_refused_with_the_reason(storage, role, stores, password, message):
    with storage.engine.begin() as conn:
        registry.save(conn, registry.StoreRecord.model_validate(dict(store=dict(id="a"))))
        with pytest.raises(auth.AuthError, match=message):
            auth.add_user(conn, "x", role, password, stores)


def test_commands_import_stores_and_add_users(storage, tmp_path, capsys):
    db = ["--db", storage.url]
    assert dashboard_main(["stores", *db, "import", "examples/pets09.yaml"]) == 0
    assert (
        dashboard_main(
            [
                "stores",
                *db,
                "add",
                "shop-7",
                "--region",
                "north",
                "--tags",
                "mall,big",
                "--timezone",
                "Europe/Paris",
                "--width-m",
                "40",
                "--height-m",
                "25",
            ]
        )
        == 0
    )
    password = tmp_path / "pw"
    password.write_text("a good password\n")
    assert (
        dashboard_main(
            [
                "users",
                *db,
                "add",
                "bob",
                "--role",
                "manager",
                "--stores",
                "shop-7",
                "--password-file",
                str(password),
            ]
        )
        == 0
    )
    assert (
        dashboard_main(
            [
                "users",
                *db,
                "add",
                "eve",
                "--role",
                "manager",
                "--stores",
                "nowhere",
                "--password-file",
                str(password),
            ]
        )
        == 2
    )
    assert (
        dashboard_main(
            ["users", *db, "add", "eve", "--role", "hq", "--password-file", str(tmp_path / "none")]
        )
        == 2
    )
    with storage.engine.connect() as conn:
        pets, shop = repository.list_stores(conn)
        assert auth.authenticate(conn, "bob", "a good password").stores == frozenset({"shop-7"})
        assert auth.principal(conn, "eve") is None
    config = load_config("examples/pets09.yaml")
    assert (pets.id, pets.timezone, [z.name for z in pets.zones]) == (
        config.store.id,
        config.store.timezone,
        sorted(z.name for z in config.zones),
    )
    assert [z.polygon_m for z in pets.zones] == [
        [list(p) for p in z.polygon_m] for z in sorted(config.zones, key=lambda z: z.name)
    ]
    plan = config.floor_plan
    assert pets.floor_plan.origin_m == list(plan.origin_m) and pets.area_m2 == plan.width_m * plan.height_m
    assert (shop.region, shop.tags, shop.area_m2) == ("north", ["mall", "big"], 1000)
    capsys.readouterr()
    assert dashboard_main(["stores", *db, "list", "--tag", "mall"]) == 0
    assert capsys.readouterr().out.startswith("shop-7\t")


def test_removing_a_store_deletes_it_everywhere_and_removing_a_user_ends_its_tokens(db_url, tmp_path):
    from tests.transport_support import make_aggregates

    storage = Storage(db_url)
    storage.migrate()
    db = ["--db", db_url]
    assert dashboard_main(["stores", *db, "import", "examples/pets09.yaml"]) == 0
    kept, gone = make_aggregates("other", ["cam1"], 3), make_aggregates("pets09", ["view001"], 3, seed=1)
    assert len(storage.write_aggregates(kept + gone).stored) == len(kept + gone)
    password = tmp_path / "pw"
    password.write_text("a good password\n")
    assert (
        dashboard_main(
            [
                "users",
                *db,
                "add",
                "ann",
                "--role",
                "manager",
                "--stores",
                "pets09,other",
                "--password-file",
                str(password),
            ]
        )
        == 0
    )
    with storage.engine.begin() as conn:
        token = auth.new_token(conn, "ann")

    assert dashboard_main(["stores", *db, "remove", "pets09"]) == 2  # not confirmed: nothing happens
    with storage.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).where(t.zone_minutes.c.store_id == "pets09")) == 6
    assert dashboard_main(["stores", *db, "remove", "pets09", "--yes"]) == 0
    with storage.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            if "store_id" in table.c:
                left = conn.scalar(sa.select(sa.func.count()).where(table.c.store_id == "pets09"))
                assert left == 0, table.name
        assert conn.scalar(sa.select(sa.func.count()).where(t.zone_minutes.c.store_id == "other")) == 6
        ids = set(conn.scalars(sa.select(t.ingested.c.id)))
        assert ids == {m.id for m in kept}
        assert [s.id for s in repository.list_stores(conn)] == ["other"]
        assert auth.token_principal(conn, token).stores == frozenset({"other"})
    assert len(storage.write_aggregates(gone).stored) == len(gone)  # its message ids were forgotten too

    assert dashboard_main(["users", *db, "remove", "ann"]) == 0
    with storage.engine.connect() as conn:
        assert auth.principal(conn, "ann") is None and auth.token_principal(conn, token) is None
        assert conn.scalar(sa.select(sa.func.count()).select_from(t.api_tokens)) == 0
    assert dashboard_main(["users", *db, "remove", "ann"]) == 2
    assert dashboard_main(["stores", *db, "remove", "nowhere", "--yes"]) == 2


def test_users_token_and_list_commands(storage, tmp_path, capsys, caplog):
    from fastapi.testclient import TestClient

    from dashboard.app import create_app

    db = ["--db", storage.url]
    with storage.engine.begin() as conn:
        for store_id in ("north", "south"):
            registry.save(conn, registry.StoreRecord.model_validate(dict(store=dict(id=store_id))))
        auth.add_user(conn, "zoe", "hq", "correct horse")
        auth.add_user(conn, "ann", "manager", "battery staple", ["south", "north"])
    capsys.readouterr()
    assert dashboard_main(["users", *db, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["ann\tmanager\tnorth,south", "zoe\thq\t*"]

    assert dashboard_main(["users", *db, "token", "ann"]) == 0
    first = capsys.readouterr().out.strip()
    assert dashboard_main(["users", *db, "token", "ann"]) == 0
    second = capsys.readouterr().out.strip()
    assert len(first) >= 32 and second != first, "a new token every time, printed once"
    with storage.engine.connect() as conn:
        assert first not in str(conn.execute(sa.select(t.api_tokens)).all()), "only its hash is kept"
    app = create_app(Settings(secure_cookies=False, db_url=storage.url, secret_key=GOOD_SECRET))
    for token in (first, second):
        me = TestClient(app, headers={"authorization": f"Bearer {token}"}).get("/api/v1/me")
        assert me.json() == dict(name="ann", role="manager", stores=["north", "south"])

    assert dashboard_main(["users", *db, "token", "ghost"]) == 2
    assert "no user 'ghost'" in caplog.text and capsys.readouterr().out == "", "no token for nobody"
