"""Validates the Kubernetes manifests of infra/k8s/ without a cluster.

- Every file that a kustomization lists is read, and each object in it is checked:
  built-in kinds by ``kubernetes-validate`` (strict: an unknown field is an error), KEDA's
  objects against the JSON Schemas of ``infra/k8s/schemas/`` (kubernetes-validate knows
  no CRD), any other kind is refused.
- References inside the base must resolve: a ScaledObject's Deployment, a trigger's
  TriggerAuthentication, the ConfigMaps and Secrets a container reads, the Secrets a
  TriggerAuthentication reads, a Service's or a PodDisruptionBudget's pods.
- Every patch of an overlay names an object of what it patches.
- When ``kubectl`` is on the PATH, ``kubectl kustomize`` (no cluster needed) renders the
  base and every overlay, and the rendered objects are checked the same way.

    python infra/k8s/validate.py [--kubernetes-version 1.37.0]

Exits 1 when anything is wrong.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): HERE / "schemas" / "keda-scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): HERE
    / "schemas"
    / "keda-triggerauthentication.json",
}
KUSTOMIZATION = "kustomization.yaml"

Obj = dict[str, Any]


def kustomizations() -> list[Path]:
    return sorted(p.parent for p in HERE.rglob(KUSTOMIZATION))


def load(path: Path) -> list[Obj]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc is not None]


def label(obj: Obj) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def check_object(obj: Obj, version: str, where: str) -> list[str]:
    key = (obj.get("apiVersion", ""), obj.get("kind", ""))
    if key in SCHEMAS:
        schema = json.loads(SCHEMAS[key].read_text(encoding="utf-8"))
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        return [
            f"{where}: {label(obj)}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        ]
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{where}: {label(obj)}: {key[0]} {key[1]} is neither built in nor known here"]
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(map(str, exc.path)) or "(root)"
        return [f"{where}: {label(obj)}: {path}: {exc.message}"]
    return []


def containers(obj: Obj) -> Iterator[Obj]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def selects(selector: Obj, labels: Obj) -> bool:
    wanted = selector.get("matchLabels", selector)
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def container_references(obj: Obj) -> Iterator[tuple[str, str]]:
    """The ConfigMaps and Secrets that the containers of a workload read."""
    for container in containers(obj):
        for source in container.get("envFrom", []):
            for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                if key in source:
                    yield kind, source[key]["name"]
        for env in container.get("env", []):
            value_from = env.get("valueFrom", {})
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                if key in value_from:
                    yield kind, value_from[key]["name"]


def references(obj: Obj) -> Iterator[tuple[str, str]]:
    """The (kind, name) of every object that ``obj`` needs in its namespace."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Deployment":
        yield from container_references(obj)
    elif kind == "ScaledObject":
        target = spec["scaleTargetRef"]
        yield target.get("kind", "Deployment"), target["name"]
        for trigger in spec["triggers"]:
            if "authenticationRef" in trigger:
                auth = trigger["authenticationRef"]
                yield auth.get("kind", "TriggerAuthentication"), auth["name"]
    elif kind == "TriggerAuthentication":
        for ref in spec.get("secretTargetRef", []):
            yield "Secret", ref["name"]


def check_references(objects: Iterable[Obj], where: str) -> list[str]:
    objs = list(objects)
    present = {(o["kind"], o["metadata"]["name"]) for o in objs}
    pod_labels = [
        o["spec"]["template"]["metadata"].get("labels", {})
        for o in objs
        if o["kind"] == "Deployment"
    ]
    found = [
        f"{where}: {label(obj)} refers to {kind}/{name}, which is not there"
        for obj in objs
        for kind, name in references(obj)
        if (kind, name) not in present
    ]
    for obj in objs:
        if obj["kind"] in {"Service", "PodDisruptionBudget"}:
            selector = obj["spec"].get("selector", {})
            if not any(selects(selector, labels) for labels in pod_labels):
                found.append(f"{where}: {label(obj)} selects no pod of a Deployment")
    return found


def listed_files(directory: Path) -> tuple[Obj, list[Path], list[Path]]:
    kustomization = load(directory / KUSTOMIZATION)[0]
    resources = [directory / r for r in kustomization.get("resources", [])]
    patches = [directory / p["path"] for p in kustomization.get("patches", []) if "path" in p]
    return kustomization, resources, patches


def check_sources(directory: Path, version: str) -> tuple[list[str], list[Obj]]:
    """The files a kustomization lists, one by one; returns the problems and the objects."""
    found: list[str] = []
    objects: list[Obj] = []
    _, resources, patches = listed_files(directory)
    for path in [*resources, *patches]:
        if not path.exists():
            found.append(
                f"{directory.relative_to(HERE)}/{KUSTOMIZATION}: {path.name} does not exist"
            )
    for path in resources:
        if path.is_dir():
            sub_found, sub_objects = check_sources(path.resolve(), version)
            found += sub_found
            objects += sub_objects
        elif path.is_file():
            where = str(path.relative_to(HERE))
            for obj in load(path):
                found += check_object(obj, version, where)
                objects.append(obj)
    return found, objects


def check_patches(directory: Path, base_objects: list[Obj]) -> list[str]:
    found: list[str] = []
    known = {(o["kind"], o["metadata"]["name"]) for o in base_objects}
    for path in listed_files(directory)[2]:
        if not path.is_file():
            continue
        for patch in load(path):
            if (patch.get("kind"), patch.get("metadata", {}).get("name")) not in known:
                found.append(f"{path.relative_to(HERE)}: {label(patch)} patches nothing")
    return found


def render(directory: Path, kubectl: str) -> tuple[list[str], list[Obj]]:
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return [f"kubectl kustomize {directory.relative_to(HERE)}: {result.stderr.strip()}"], []
    return [], [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", default=kubernetes_validate.latest_version())
    version = parser.parse_args().kubernetes_version

    problems: list[str] = []
    counted = 0
    for directory in kustomizations():
        name = directory.relative_to(HERE)
        found, objects = check_sources(directory, version)
        problems += found
        problems += check_patches(directory, objects)
        if not listed_files(directory)[2]:
            problems += check_references(objects, str(name))
        counted += len(objects)
        print(f"{name}: {len(objects)} objects checked one by one, {len(found)} problems")

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        print("kubectl not found: the kustomizations are not rendered (patches checked by name)")
    else:
        for directory in kustomizations():
            name = directory.relative_to(HERE)
            found, objects = render(directory, kubectl)
            for obj in objects:
                found += check_object(obj, version, f"{name} (rendered)")
            found += check_references(objects, f"{name} (rendered)")
            problems += found
            print(f"{name}: rendered by kubectl kustomize, {len(objects)} objects", end="")
            print(f", {len(found)} problems")

    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    print(f"kubernetes {version}: {counted} objects, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
