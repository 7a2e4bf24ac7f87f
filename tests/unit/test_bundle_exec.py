"""The light exec path of probes: the process spec from the bundle, the runtime's errors picked out."""

import json

from kubeplay.runtime.bundle_exec import bundle_process, error_lines, process_spec


def test_the_containers_own_process_is_kept_with_the_command_replaced(tmp_path):
    base = {"args": ["sleep", "1"], "env": ["PATH=/bin", "A=1"], "cwd": "/app", "terminal": True,
            "consoleSize": {"height": 1, "width": 1}, "user": {"uid": 1000, "gid": 1000},
            "capabilities": {"bounding": ["CAP_CHOWN"]}}
    (tmp_path / "config.json").write_text(json.dumps({"process": base}))
    process = process_spec(bundle_process(str(tmp_path)), ["cat", "/ready"], tty=False, env={"A": "2"})
    assert process["args"] == ["cat", "/ready"] and process["terminal"] is False
    assert "consoleSize" not in process and process["cwd"] == "/app"
    assert process["env"] == ["PATH=/bin", "A=2"]
    assert process["user"] == {"uid": 1000, "gid": 1000} and process["capabilities"] == base["capabilities"]


def test_a_bundle_without_config_gives_root_in_slash():
    process = process_spec(bundle_process("/nonexistent"), ["true"], tty=False)
    assert process["user"] == {"uid": 0, "gid": 0} and process["cwd"] == "/"


def test_only_error_lines_of_the_runtime_log_count():
    log = "\n".join([json.dumps({"level": "warning", "msg": "cgroup"}), "not json",
                     json.dumps({"level": "error", "msg": "exec failed: no such file"})])
    assert error_lines(log) == json.dumps({"level": "error", "msg": "exec failed: no such file"})
    assert error_lines(json.dumps({"level": "info", "msg": "x"})) == ""
