"""The container and host installation files agree with the repository and
with SPEC §9: every path they mount or copy exists, and every SUNCLOCK_
setting they name is one the service reads."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "sunclock.env.example"

# SPEC §9, without the SUNCLOCK_ prefix.
SETTINGS = {
    "DATABASE_URL", "RULES_DIR", "TIMEZONE", "PUBLIC_URL", "SECRET_KEY", "ADMIN_TOKEN",
    "HOST", "PORT", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM",
    "TWILIO_API_BASE", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD",
    "SMTP_STARTTLS", "SMTP_FROM", "LOG_FORMAT",
    "TRUSTED_PROXIES",  # issue 12: X-Forwarded-For only from these
}
SETTING_NAME = re.compile(r"\bSUNCLOCK_([A-Z0-9_]+)")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def sunclock_services() -> dict[str, dict]:
    return {name: svc for name, svc in compose()["services"].items() if name.startswith("sunclock-")}


def host_paths(service: dict) -> list[str]:
    paths = []
    for volume in service.get("volumes", []):
        source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        if source.startswith(("./", "../")):
            paths.append(source)
    return paths


def test_compose_runs_postgres_two_replicas_prometheus_and_grafana():
    assert set(compose()["services"]) == {"postgres", "sunclock-1", "sunclock-2", "prometheus", "grafana"}
    assert compose()["services"]["postgres"]["image"].startswith("postgres:15")


def test_every_host_path_compose_mounts_exists():
    for name, service in compose()["services"].items():
        for source in host_paths(service):
            assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_compose_builds_from_the_repository_root_with_the_deploy_dockerfile():
    for name, service in sunclock_services().items():
        context = (DEPLOY / service["build"]["context"]).resolve()
        assert context == ROOT, name
        assert (context / service["build"]["dockerfile"]).is_file(), name


def test_replicas_share_one_postgres_database_and_one_secret_key():
    environments = [svc["environment"] for svc in sunclock_services().values()]
    assert len(environments) == 2
    assert environments[0] == environments[1]
    assert "@postgres:5432/sunclock" in environments[0]["SUNCLOCK_DATABASE_URL"]
    assert environments[0]["SUNCLOCK_DATABASE_URL"].startswith("postgresql://")
    assert environments[0]["SUNCLOCK_SECRET_KEY"]


def test_prometheus_scrapes_every_sunclock_replica():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "sunclock"]
    targets = {target for static in job["static_configs"] for target in static["targets"]}
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert targets == {f"{name}:8000" for name in sunclock_services()}


def test_dockerfile_copies_only_files_that_exist():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    sources = []
    for line in dockerfile.splitlines():
        words = line.split()
        if words and words[0] == "COPY" and not any(w.startswith("--from") for w in words):
            sources += words[1:-1]
    assert sources, "the Dockerfile copies nothing"
    missing = [source for source in sources if not (ROOT / source).exists()]
    assert missing == []


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert re.search(r'^CMD \["sunclock", "serve"\]', dockerfile, re.MULTILINE)


def test_every_setting_named_in_deploy_files_is_a_spec_setting():
    files = [COMPOSE, ENV_EXAMPLE, DEPLOY / "Dockerfile", DEPLOY / "systemd" / "sunclock.service"]
    for path in files:
        unknown = set(SETTING_NAME.findall(path.read_text(encoding="utf-8"))) - SETTINGS
        assert unknown == set(), f"{path.name} names unknown settings"


def test_env_example_documents_every_setting():
    assigned = set(re.findall(r"^#?SUNCLOCK_([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE))
    assert SETTINGS - assigned == set()
