"""Static validation of docker-compose.yml, the Dockerfile and .dockerignore
(no Docker engine here: the files are parsed and cross-checked)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from deploy_support import REPO, load_yaml

from pipeline.app.settings import Settings

COMPOSE_FILE = REPO / "docker-compose.yml"
REQUIRED = ["kafka", "clickhouse", "prometheus", "alertmanager", "grafana", "worker",
            "alert-worker", "topics",
            "generator"]
IMAGES = {
    "kafka": "apache/kafka",
    "clickhouse": "clickhouse/clickhouse-server",
    "prometheus": "prom/prometheus",
    "alertmanager": "prom/alertmanager",
}
BUILT = ["worker", "alert-worker", "topics", "generator"]
ONE_SHOT = {"topics", "generator"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SETTINGS_ENV = {f"PULSE_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolation_default(value: str) -> str:
    """``${VAR:-default}`` -> default; other text unchanged."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_required_services_and_images(services: dict[str, Any]) -> None:
    assert set(REQUIRED) <= set(services), set(REQUIRED) - set(services)
    for name, image in IMAGES.items():
        repo, _, tag = services[name]["image"].partition(":")
        assert repo == image, name
        assert tag and tag != "latest", f"{name}: pin an image tag"
    for name in BUILT:
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
        assert services[name]["image"] == services["worker"]["image"], name
    assert "zookeeper" not in services


def test_grafana_image_carries_a_pinned_clickhouse_plugin(services: dict[str, Any]) -> None:
    """Built from deploy/grafana/Dockerfile: a pinned Grafana, the plugin installed at build
    time in a directory outside the data volume, so a start needs no internet."""
    build = services["grafana"]["build"]
    dockerfile = (REPO / build["context"] / build["dockerfile"]).read_text()
    (base,) = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    repo, _, tag = base.partition(":")
    assert repo == "grafana/grafana" and tag and tag != "latest"
    assert services["grafana"]["image"].endswith(f":{tag}")
    install = re.search(r"plugins install grafana-clickhouse-datasource (\d+\.\d+\.\d+)",
                        dockerfile)
    assert install, "the ClickHouse plugin must be installed at a pinned version"
    plugins = re.search(r"^ENV GF_PATHS_PLUGINS=(\S+)", dockerfile, flags=re.M)
    assert plugins and not plugins.group(1).startswith("/var/lib/grafana")
    volumes = [v.split(":")[1] for v in services["grafana"]["volumes"]]
    assert not any(plugins.group(1).startswith(v) for v in volumes)


def test_kafka_is_single_node_kraft(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert env["CLUSTER_ID"]
    assert not any("ZOOKEEPER" in key for key in env)
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1", key
    # The address the pipeline bootstraps from is one the broker advertises.
    advertised = [url.split("://", 1)[1] for url in env["KAFKA_ADVERTISED_LISTENERS"].split(",")]
    assert environment(services["worker"])["PULSE_KAFKA_BOOTSTRAP"] in advertised


def test_worker_environment(services: dict[str, Any]) -> None:
    env = environment(services["worker"])
    assert env["PULSE_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["PULSE_STORE"] == "rocksdb://"
    assert env["PULSE_WEB_HOST"] == "0.0.0.0"
    assert env["PULSE_KAFKA_SESSION_TIMEOUT_S"] == "30"
    assert env["PULSE_DATA_DIR"] == "/data"
    assert any(v.split(":")[-1] == "/data" for v in services["worker"]["volumes"])
    settings = Settings(**{
        name: interpolation_default(env[f"PULSE_{name.upper()}"])
        for name in Settings.model_fields if f"PULSE_{name.upper()}" in env
    })
    assert settings.store == "rocksdb://"
    assert settings.web_port == 6066
    assert settings.clickhouse_url.startswith("http://")
    assert settings.clickhouse_url.endswith("@clickhouse:8123")


def test_worker_roles_split_the_alert_path_from_the_metrics_path(
    services: dict[str, Any],
) -> None:
    assert services["worker"]["command"] == ["worker", "--role", "metrics"]
    assert services["alert-worker"]["command"] == ["worker", "--role", "alerts"]
    alerts = environment(services["alert-worker"])
    assert alerts["PULSE_STORE"] == "rocksdb://" and alerts["PULSE_DATA_DIR"] == "/data"
    assert alerts["PULSE_ALERTMANAGER_URL"] == "http://alertmanager:9093"
    # no shared volume: replicas can scale; state is rebuilt from the changelog
    assert "volumes" not in services["alert-worker"]
    assert "clickhouse" not in services["alert-worker"]["depends_on"]
    # pages link to the console the metrics worker serves; each worker its own host port
    assert alerts["PULSE_PUBLIC_URL"] == environment(services["worker"])["PULSE_PUBLIC_URL"]
    host_ports = [p.rsplit(":", 2)[-2] for name in ("worker", "alert-worker")
                  for p in services[name]["ports"]]
    assert len(host_ports) == len(set(host_ports)) == 2


def test_clickhouse_credentials_match(services: dict[str, Any]) -> None:
    ch = environment(services["clickhouse"])
    worker = environment(services["worker"])
    grafana = environment(services["grafana"])
    url = worker["PULSE_CLICKHOUSE_URL"]
    assert url == f"http://{ch['CLICKHOUSE_USER']}:{ch['CLICKHOUSE_PASSWORD']}@clickhouse:8123"
    assert worker["PULSE_CLICKHOUSE_DATABASE"] == ch["CLICKHOUSE_DB"]
    for key in ("CLICKHOUSE_DB", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"):
        assert grafana[key] == ch[key], key
    assert interpolation_default(ch["CLICKHOUSE_DB"]) == Settings().clickhouse_database


def test_pulse_variables_are_settings_fields() -> None:
    used = set(re.findall(r"\bPULSE_[A-Z0-9_]+\b", COMPOSE_FILE.read_text()))
    used |= set(re.findall(r"\bPULSE_[A-Z0-9_]+\b", (REPO / "Dockerfile").read_text()))
    assert used, "no PULSE_* variable found"
    assert used <= SETTINGS_ENV, f"not fields of Settings: {used - SETTINGS_ENV}"


def test_health_checks_and_dependencies(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name not in ONE_SHOT:
            test = service.get("healthcheck", {}).get("test")
            assert test and test[0] in {"CMD", "CMD-SHELL"}, f"{name}: no health check"
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert spec["condition"] in CONDITIONS
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
            if spec["condition"] == "service_completed_successfully":
                assert dependency in ONE_SHOT, dependency
    worker = services["worker"]["depends_on"]
    assert worker["topics"]["condition"] == "service_completed_successfully"
    assert worker["kafka"]["condition"] == "service_healthy"
    assert worker["clickhouse"]["condition"] == "service_healthy"
    assert services["topics"]["command"] == ["topics"]
    assert services["worker"]["command"] == ["worker", "--role", "metrics"]


def test_generator_is_a_demo_profile(services: dict[str, Any]) -> None:
    generator = services["generator"]
    assert generator["profiles"] == ["demo"]
    assert generator["command"] == ["generate", "--produce", "--rate", "2000"]
    assert all("profiles" not in services[name] for name in REQUIRED if name != "generator")


def test_ports(services: dict[str, Any]) -> None:
    expected = {"kafka": 29092, "clickhouse": 8123, "worker": 6066, "prometheus": 9090,
                "alertmanager": 9093, "grafana": 3000}
    published: list[str] = []
    for name, container_port in expected.items():
        ports = [str(p) for p in services[name]["ports"]]
        assert any(p.split(":")[-1] == str(container_port) for p in ports), (name, ports)
        published += [":".join(p.split(":")[:-1]) for p in ports]
    assert len(published) == len(set(published)), f"host port published twice: {published}"


def volume_parts(volume: str | dict[str, Any]) -> tuple[str, str]:
    """(source, target) of a short (``src:dst[:mode]``) or long (mapping) volume entry."""
    if isinstance(volume, dict):
        return volume["source"], volume["target"]
    source, target = volume.split(":")[:2]
    return source, target


def test_volumes_and_mounts(compose: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume_parts(volume)
            assert target.startswith("/"), (name, volume)
            if source.startswith("${"):
                continue  # the operator's directory (e.g. TLS_CERT_DIR)
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
            else:
                used.add(source)
    assert used == declared, f"undeclared: {used - declared}, unused: {declared - used}"


def test_config_files_mounted_where_the_services_read_them(services: dict[str, Any]) -> None:
    def mount(service: str, target: str) -> Path:
        for volume in services[service]["volumes"]:
            source, mounted = volume_parts(volume)
            if mounted == target:
                return REPO / source
        raise AssertionError(f"{service}: nothing mounted at {target}")

    prometheus = mount("prometheus", "/etc/prometheus")
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    assert (prometheus / "prometheus.yml").is_file()
    alertmanager = mount("alertmanager", "/etc/alertmanager")
    assert (alertmanager / "alertmanager.yml").is_file()
    assert (alertmanager / "render-config.sh").is_file()
    command = " ".join(services["alertmanager"]["command"])
    assert "render-config.sh /etc/alertmanager /tmp/alertmanager" in command
    assert "--config.file=/tmp/alertmanager/alertmanager.yml" in command
    assert "/tmp" in services["alertmanager"]["tmpfs"]
    assert (mount("grafana", "/etc/grafana/provisioning/datasources") / "datasources.yml").is_file()
    providers = mount("grafana", "/etc/grafana/provisioning/dashboards") / "dashboards.yml"
    dashboards_path = load_yaml(providers)["providers"][0]["options"]["path"]
    assert list(mount("grafana", dashboards_path).glob("*.json"))
    grafana = environment(services["grafana"])
    assert "GF_INSTALL_PLUGINS" not in grafana, "the plugin is in the image, not downloaded"
    home = grafana["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (mount("grafana", str(Path(home).parent)) / Path(home).name).is_file()
    assert set(environment(services["alertmanager"])) >= {"WECOM_CORP_ID", "WECOM_API_SECRET"}


def dockerignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append((line.startswith("!"), line.lstrip("!")))
    return patterns


def ignored(path: str, patterns: list[tuple[bool, str]]) -> bool:
    """Docker's rule: the last matching pattern wins; a directory match covers its files."""
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for negated, pattern in patterns:
        pattern = pattern.removeprefix("**/")
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p.split("/")[-1], pattern)
               for p in prefixes):
            result = not negated
    return result


def test_dockerfile_and_build_context() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert stages and all(image == "python:3.11-slim" for image in stages)
    assert re.search(r"pip wheel .*\s\.$", dockerfile, flags=re.M), "pip must build the project"
    assert 'ENTRYPOINT ["pulse"]' in dockerfile and 'CMD ["worker"]' in dockerfile
    assert "HEALTHCHECK" in dockerfile and "USER pulse" in dockerfile
    for source in re.findall(r"^COPY\s+(?!--from)(\S+)\s", dockerfile, flags=re.M):
        assert (REPO / source).exists(), source
    patterns = dockerignore_patterns()
    needed = ["pyproject.toml", "pipeline/app/settings.py", "agents/__init__.py", "schemas",
              "pipeline/egress/clickhouse/ddl/001_raw_events.sql"]
    for path in needed:
        assert not ignored(path, patterns), f".dockerignore drops {path}"
    for path in [".env", ".git/config", "var/clickhouse", "tests/deploy/conftest.py",
                 "deploy/grafana/dashboards/community-activity.json", ".venv/bin/python"]:
        assert ignored(path, patterns), f".dockerignore keeps {path}"


def test_the_wheel_ships_the_ddl_and_the_sentiment_model() -> None:
    """The image installs a wheel: data files must be package data, matched by pyproject."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    data = [*(REPO / "pipeline/egress/clickhouse/ddl").glob("*.sql"),
            *(REPO / "pipeline/compute/sentiment/data").iterdir()]
    assert len(data) >= 4
    for path in data:
        package = next(p for p in path.parents if (p / "__init__.py").exists())
        relative = str(path.relative_to(package))
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_tls_profile_terminates_https_for_console_and_grafana(services: dict[str, Any]) -> None:
    """--profile tls: Caddy with the operator's certificate in front of the console and
    Grafana; automatic certificates off (nothing fetched), a pinned image."""
    proxy = services["tls-proxy"]
    assert proxy["profiles"] == ["tls"]
    repo, _, tag = proxy["image"].partition(":")
    assert repo == "caddy" and tag and tag != "latest"
    mounts = {target: source for source, target in map(volume_parts, proxy["volumes"])}
    caddyfile = (REPO / mounts["/etc/caddy/Caddyfile"]).read_text()
    assert "auto_https off" in caddyfile
    sites = re.findall(r"^:(\d+) \{\n\ttls (\S+) (\S+)\n\treverse_proxy (\S+)\n\}", caddyfile,
                       flags=re.M)
    assert {(port, upstream) for port, _, _, upstream in sites} == {
        ("8443", "worker:6066"), ("3443", "grafana:3000")}
    certificates = next(target for target, source in mounts.items() if "TLS_CERT_DIR" in source)
    assert all(cert.startswith(certificates) and key.startswith(certificates)
               for _, cert, key, _ in sites)
    published = {str(p).split(":")[-1] for p in proxy["ports"]}
    assert published == {"8443", "3443"}
