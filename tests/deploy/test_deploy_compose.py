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
    # issue 17: certificate options that were only in code, time-outs, the SMTP pool
    "TWILIO_TIMEOUT", "SMTP_CA_FILE", "SMTP_VALIDATE_CERTS", "SMTP_POOL_SIZE", "SMTP_IDLE_SECONDS",
    # issue 17 (SPEC §15.1): Alibaba Cloud SMS
    "SMS_PROVIDER", "ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "ALIYUN_SMS_SIGN_NAME", "ALIYUN_SMS_ENDPOINT",
    "ALIYUN_SMS_TEMPLATES", "ALIYUN_TIMEOUT",
    "TWILIO_VOICE_FROM",  # issue 17: the number calls come from, when not TWILIO_FROM
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


def test_replicas_share_one_postgres_database_and_so_one_signing_key():
    environments = [svc["environment"] for svc in sunclock_services().values()]
    assert len(environments) == 2
    assert environments[0] == environments[1]
    assert "@postgres:5432/sunclock" in environments[0]["SUNCLOCK_DATABASE_URL"]
    assert environments[0]["SUNCLOCK_DATABASE_URL"].startswith("postgresql://")


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


# ${NAME:-default} / ${NAME-default}: a value used when NAME is not set.
DEFAULTED = re.compile(r"\$\{(\w+):?-([^}]*)\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def deploy_texts() -> dict[str, str]:
    return {str(path.relative_to(DEPLOY)): path.read_text(encoding="utf-8")
            for path in DEPLOY.rglob("*") if path.is_file() and path.suffix in {"", ".yml", ".yaml", ".example",
                                                                                ".service", ".md", ".env"}}


def test_compose_gives_no_password_or_key_a_default():
    defaults = [(name, value) for name, value in DEFAULTED.findall(COMPOSE.read_text(encoding="utf-8"))
                if SECRET_NAME.search(name)]
    assert defaults == []


def test_every_secret_key_written_in_deploy_is_refused_by_the_service():
    from pydantic import ValidationError

    from monitor.settings import Settings

    written = {value.strip("'\"") for text in deploy_texts().values()
               for value in re.findall(r"SUNCLOCK_SECRET_KEY[=:]\s*([^\s#]+)", text)}
    usable = []
    for value in written - {""}:
        if value.startswith("${") or value.startswith("$("):
            continue  # taken from the operator's environment or generated on the spot
        try:
            Settings(secret_key=value)
        except ValidationError:
            continue
        usable.append(value)
    assert usable == []


def test_replicas_rely_on_the_key_generated_in_their_shared_database():
    for service in sunclock_services().values():
        assert "SUNCLOCK_SECRET_KEY" not in service["environment"]


def test_grafana_has_no_anonymous_access_and_no_default_admin_password():
    environment = compose()["services"]["grafana"]["environment"]
    assert environment.get("GF_AUTH_ANONYMOUS_ENABLED", "false").lower() == "false"
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", environment["GF_SECURITY_ADMIN_PASSWORD"])
    provisioning = "\n".join(text for name, text in deploy_texts().items() if name.startswith("grafana/"))
    assert not re.search(r"anonymous\W+enabled\W+true", provisioning, re.IGNORECASE)
    assert "admin/admin" not in provisioning


def test_postgres_password_must_be_chosen_by_the_operator():
    services = compose()["services"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    for service in sunclock_services().values():
        assert "${POSTGRES_PASSWORD:?" in service["environment"]["SUNCLOCK_DATABASE_URL"]
