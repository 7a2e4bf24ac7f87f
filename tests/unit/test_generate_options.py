"""generate from hand-made plans: defaults left out, Secrets only on request, each --type, the
Service, claims, image config, and the bad input the CLI turns into one message each."""

from __future__ import annotations

import base64

import jsonschema
import pytest
import yaml

from kubeplay.errors import UserError
from kubeplay.generate import GenerateOptions, generate
from kubeplay.model.image import ImageConfig
from kubeplay.model.plan import (
    ContainerPlan,
    EnvVar,
    MountPlan,
    OwnerPlan,
    PodPlan,
    PortMapping,
    SecurityPlan,
    VolumeFile,
    VolumePlan,
)
from kubeplay.translate.flags import RunRequest, pod_plan
from tests.unit.generate_support import comparable, translate_text, validate_document

NODE = "node-a"


def options(**fields) -> GenerateOptions:
    return GenerateOptions(local_node=NODE, **fields)


def web(**fields) -> PodPlan:
    container = ContainerPlan(name="web", image="busybox:1.36",
                              ports=(PortMapping(container_port=8080, host_port=18080, name="http"),))
    base = dict(name="web", uid="u-1", labels={"app": "web"}, containers=(container,),
                service_account_name="default", node_name=NODE)
    return PodPlan(**{**base, **fields})


def documents(plans, opts=None, **kwargs) -> list[dict]:
    return list(yaml.safe_load_all(generate(plans, opts or options(), **kwargs).yaml))


def test_a_plain_pod_says_only_what_differs_from_the_defaults():
    [pod] = documents([web()])
    assert pod == {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "busybox:1.36",
                                 "ports": [{"name": "http", "containerPort": 8080, "hostPort": 18080}]}]},
    }


def test_fields_the_image_sets_anyway_are_left_out():
    image = ImageConfig(entrypoint=("/bin/app",), cmd=("--serve",), env=("PATH=/bin",), working_dir="/srv")
    container = ContainerPlan(name="app", image="app:1", command=("/bin/app",), args=("--other",),
                              env=(EnvVar("PATH", "/bin"), EnvVar("MODE", "fast")), working_dir="/srv")
    [pod] = documents([web(containers=(container,))], image_config=lambda ref: image)
    spec = pod["spec"]["containers"][0]
    assert "command" not in spec and "workingDir" not in spec
    assert spec["args"] == ["--other"]
    assert spec["env"] == [{"name": "MODE", "value": "fast"}]


def test_a_command_equal_to_the_entrypoint_stays_when_it_drops_the_image_cmd():
    image = ImageConfig(entrypoint=("/bin/app",), cmd=("--serve",))
    container = ContainerPlan(name="app", image="app:1", command=("/bin/app",))
    [pod] = documents([web(containers=(container,))], image_config=lambda ref: image)
    assert pod["spec"]["containers"][0]["command"] == ["/bin/app"]


def test_dollar_signs_come_back_escaped_so_they_expand_to_the_same_text():
    container = ContainerPlan(name="app", image="busybox:1.36", args=("echo $(A) $$ $HOME $(UNKNOWN)",),
                              env=(EnvVar("A", "a"),))
    text = generate([web(containers=(container,))], options()).yaml
    assert "echo $$(A) $$$ $HOME $(UNKNOWN)" in text
    [again] = translate_text(text).pods
    assert again.containers[0].args == container.args


def test_secrets_are_referenced_but_never_written_without_include_secrets():
    secret_env = EnvVar("PASSWORD", "s3cr3t-value", source={"secretKeyRef": {"name": "db", "key": "password"}})
    volume = VolumePlan(name="creds", kind="secret", source_name="db", raw={"secretName": "db"},
                        files=(VolumeFile(path="token", content=b"t0ken-bytes"),))
    container = ContainerPlan(name="app", image="busybox:1.36", env=(secret_env,),
                              mounts=(MountPlan("creds", "/run/creds"),))
    plan = web(containers=(container,), volumes=(volume,))
    result = generate([plan], options())
    for hidden in (b"s3cr3t-value", b"t0ken-bytes"):
        assert hidden.decode() not in result.yaml
        assert base64.b64encode(hidden).decode() not in result.yaml
    assert [d["kind"] for d in yaml.safe_load_all(result.yaml)] == ["Pod"]
    assert any("Secrets were left out (db)" in warning for warning in result.warnings)

    with_secrets = documents([plan], options(include_secrets=True))
    [secret] = [d for d in with_secrets if d["kind"] == "Secret"]
    assert secret["metadata"] == {"name": "db"}
    assert base64.b64decode(secret["data"]["password"]) == b"s3cr3t-value"
    assert base64.b64decode(secret["data"]["token"]) == b"t0ken-bytes"


def test_configmaps_are_rebuilt_from_env_and_files_with_binary_keys_apart():
    env = (EnvVar("CFG_MODE", "fast", source={"envFrom": {"configMapRef": {"name": "conf"}, "prefix": "CFG_"}}),)
    volume = VolumePlan(name="conf", kind="configMap", source_name="conf", raw={"name": "conf"},
                        files=(VolumeFile("MODE", b"fast"), VolumeFile("blob", b"\x00\x01")))
    container = ContainerPlan(name="app", image="busybox:1.36", env=env, mounts=(MountPlan("conf", "/etc/conf"),))
    docs = documents([web(containers=(container,), volumes=(volume,))])
    [configmap] = [d for d in docs if d["kind"] == "ConfigMap"]
    assert configmap["data"] == {"MODE": "fast"}
    assert configmap["binaryData"] == {"blob": base64.b64encode(b"\x00\x01").decode()}
    pod = docs[-1]
    assert pod["spec"]["containers"][0]["envFrom"] == [{"configMapRef": {"name": "conf"}, "prefix": "CFG_"}]


def test_claims_become_persistent_volume_claims_with_their_names_and_labels():
    volume = VolumePlan(name="data", kind="persistentVolumeClaim", claim_name="web-data",
                        raw={"claimName": "web-data"})
    docs = documents([web(volumes=(volume,))], claim_labels={"web-data": {"tier": "db"}})
    claim = docs[0]
    assert claim["kind"] == "PersistentVolumeClaim"
    assert claim["metadata"] == {"name": "web-data", "labels": {"tier": "db"}}
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert docs[1]["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}]


def test_service_selects_the_pod_and_maps_host_ports_to_container_ports():
    docs = documents([web()], options(service=True))
    service = docs[-1]
    assert service["kind"] == "Service"
    assert service["spec"] == {"ports": [{"name": "http", "port": 18080, "targetPort": 8080}],
                               "selector": {"app": "web"}}
    for document in docs:
        validate_document(document)


def test_service_for_a_pod_without_labels_is_refused():
    with pytest.raises(UserError, match="no labels"):
        generate([web(labels={})], options(service=True))


def test_type_deployment_wraps_a_pod_with_a_selector_and_replicas():
    [deployment] = documents([web()], options(kind="Deployment", replicas=3))
    assert deployment["kind"] == "Deployment"
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    assert deployment["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    validate_document(deployment)


def test_pods_of_one_deployment_collapse_into_it_with_its_own_spec_and_labels():
    owner = OwnerPlan(kind="Deployment", name="web", replicas=2, template_hash="abc",
                      raw={"replicas": 2, "selector": {"matchLabels": {"app": "web"}}}, labels={"team": "a"})
    plans = [web(name=f"web-abc-{suffix}", labels={"app": "web", "pod-template-hash": "abc"}, owner=owner)
             for suffix in ("x1", "x2")]
    [deployment] = documents(plans)
    assert deployment["metadata"] == {"name": "web", "labels": {"team": "a"}}
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    [daemonset] = documents(plans, options(kind="DaemonSet"))
    assert daemonset["kind"] == "DaemonSet" and "replicas" not in daemonset["spec"]


def test_type_job_needs_a_restart_policy_other_than_always():
    with pytest.raises(UserError, match="restartPolicy Always"):
        generate([web()], options(kind="Job"))
    [job] = documents([web(restart_policy="Never")], options(kind="Job"))
    assert job["kind"] == "Job" and job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    validate_document(job)


def test_type_deployment_refuses_a_pod_that_must_not_restart():
    with pytest.raises(UserError, match="only allows Always"):
        generate([web(restart_policy="Never")], options(kind="Deployment"))


def test_replicas_without_type_deployment_is_refused():
    with pytest.raises(UserError, match="--replicas"):
        generate([web()], options(replicas=2))
    with pytest.raises(UserError, match="--replicas"):
        generate([web()], options(kind="Pod", replicas=2))


def test_the_node_name_translation_filled_in_is_left_out_and_others_kept():
    [pod] = documents([web(node_name="elsewhere")])
    assert pod["spec"]["nodeName"] == "elsewhere"
    [pod] = documents([web()])
    assert "nodeName" not in pod["spec"]


def test_container_security_inherited_from_the_pod_is_not_repeated():
    pod_security = SecurityPlan(run_as_user=1000, seccomp_profile="RuntimeDefault")
    container = ContainerPlan(name="app", image="busybox:1.36",
                              security=SecurityPlan(run_as_user=1000, seccomp_profile="RuntimeDefault",
                                                    capabilities_drop=("ALL",)))
    [pod] = documents([web(security=pod_security, containers=(container,))])
    assert pod["spec"]["securityContext"] == {"runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["spec"]["containers"][0]["securityContext"] == {"capabilities": {"drop": ["ALL"]}}


def test_a_pod_on_another_network_is_generated_with_a_warning():
    result = generate([web(network="backend")], options())
    assert any("--network backend" in warning for warning in result.warnings)


def test_run_made_plans_generate_yaml_that_translates_to_the_same_plan():
    request = RunRequest(name="box", image="localhost/test/busybox:latest", ports=("18081:8080", "53/udp"),
                         env=("MODE=fast", "REF=$(MODE)"), volumes=("/srv/data:/data:ro", "cache:/cache"),
                         labels=("app=box,tier=web",), restart="OnFailure", argv=("sh", "-c", "echo $HOME"))
    plan = pod_plan(request)
    text = generate([plan], GenerateOptions(local_node=plan.node_name)).yaml
    [again] = translate_text_on_this_node(text)
    assert comparable(again) == comparable(plan)


def translate_text_on_this_node(text: str):
    import platform
    import random

    from kubeplay.translate.context import TranslateOptions

    from kubeplay.translate.loader import parse

    from kubeplay.translate.run import translate

    return translate(parse(text, "run.yaml"), TranslateOptions(node_name=platform.node() or "localhost"),
                     rng=random.Random(3)).pods


def test_the_schema_check_catches_a_misspelled_field():
    [pod] = documents([web()])
    pod["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(jsonschema.ValidationError):
        validate_document(pod)
