#!/usr/bin/env python3
"""Drives `mahavishnu-dr serve` over stdio with the official MCP Python SDK (package `mcp`).

Usage:
    sdk_client.py BINARY SETTINGS [--timeout SECONDS] [--server-log PATH]

Starts `BINARY --config SETTINGS serve` through the SDK's stdio client, initializes, lists
the tools and checks the expected names, then calls a fixed sequence of tools. Every
successful result must have isError false and a structuredContent that validates against
the tool's outputSchema (jsonschema, with the draft the schema's `$schema` names, 2020-12 if
none). backup_run must send increasing progress notifications. restore_run into a folder
outside the restore roots must answer isError true.

Prints one line per check and a closing `sdk_client: OK, ...` or `sdk_client: FAILED, ...`
line; exits 0 only if every check passed, 1 on any failure, 2 on bad usage. The server's
stderr goes to a temporary file (or --server-log); its tail is printed when something fails.

Works with mcp 1.x (>= 1.10) and 2.x.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from datetime import timedelta
from importlib.metadata import version as dist_version
from typing import Any

import anyio
import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

EXPECTED_TOOLS = [
    "backup_run",
    "backup_status",
    "backup_list",
    "backup_validate",
    "backup_cleanup",
    "restore_run",
    "create_backup",
    "list_backups",
    "restore_backup",
    "run_disaster_recovery_check",
]

# (tool, arguments), called in this order after backup_run; each must succeed.
SUCCESS_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("backup_status", {}),
    ("backup_list", {}),
    ("backup_validate", {"level": "full"}),
    ("list_backups", {}),
    ("create_backup", {"backup_type": "incremental"}),
    ("run_disaster_recovery_check", {}),
    ("backup_cleanup", {"dry_run": True}),
]

FORBIDDEN_TARGET = "/etc/mahavishnu-dr-test"

MCP_VERSION = dist_version("mcp")
MCP_MAJOR = int(MCP_VERSION.split(".")[0])


def timeout_arg(seconds: float) -> Any:
    """The SDK's read-timeout type: timedelta in 1.x, float seconds in 2.x."""
    return timedelta(seconds=seconds) if MCP_MAJOR < 2 else float(seconds)


def wire(model: Any) -> dict[str, Any]:
    """A pydantic model as it is on the wire (camelCase keys), for both SDK majors."""
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else " ".join(value.split())
    return text if len(text) <= limit else text[:limit] + "..."


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []

    def ok(self, what: str, detail: str = "") -> None:
        self.passed += 1
        print(f"  ok    {what}{': ' + detail if detail else ''}", flush=True)

    def fail(self, what: str, why: str) -> None:
        self.failures.append(f"{what}: {why}")
        print(f"  FAIL  {what}: {why}", flush=True)

    def check(self, cond: bool, what: str, why: str, detail: str = "") -> bool:
        if cond:
            self.ok(what, detail)
        else:
            self.fail(what, why)
        return cond


def schema_errors(schema: dict[str, Any], instance: Any) -> list[str]:
    """Validation errors of instance against schema, using the draft its $schema names."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def content_text(result: dict[str, Any]) -> str:
    return " ".join(c.get("text", "") for c in result.get("content", []) if c.get("type") == "text")


async def call(
    session: ClientSession,
    report: Report,
    tools: dict[str, dict[str, Any]],
    name: str,
    args: dict[str, Any],
    timeout: float,
    progress_callback: Any = None,
) -> dict[str, Any] | None:
    """Calls a tool that must succeed; checks isError and structuredContent against outputSchema."""
    what = f"{name} {json.dumps(args, sort_keys=True)}"
    if name not in tools:
        report.fail(what, "tool not listed")
        return None
    try:
        raw = await session.call_tool(
            name, args, read_timeout_seconds=timeout_arg(timeout), progress_callback=progress_callback
        )
    except Exception as e:  # the SDK raises on JSON-RPC errors and on schema mismatches it detects
        report.fail(what, f"call raised {type(e).__name__}: {e}")
        return None
    result = wire(raw)
    if result.get("isError"):
        report.fail(what, f"isError is true: {short(content_text(result) or result)}")
        return result
    schema = tools[name].get("outputSchema")
    structured = result.get("structuredContent")
    if schema is None:
        report.fail(what, "the tool has no outputSchema")
    elif structured is None:
        report.fail(what, "the result has no structuredContent")
    else:
        try:
            errors = schema_errors(schema, structured)
        except jsonschema.SchemaError as e:
            report.fail(what, f"outputSchema is not a valid schema: {e.message}")
        else:
            report.check(
                not errors,
                what,
                f"structuredContent does not match outputSchema: {'; '.join(errors[:5])}"
                f" -- structuredContent: {short(structured)}",
                f"isError false, structuredContent valid ({len(json.dumps(structured))} bytes)",
            )
    return result


async def run(binary: str, settings: str, timeout: float, errlog: Any, report: Report) -> None:
    params = StdioServerParameters(command=binary, args=["--config", settings, "serve"])
    print(f"sdk_client: mcp {MCP_VERSION}, jsonschema {dist_version('jsonschema')}")
    print(f"sdk_client: starting {binary} --config {settings} serve (stdio)", flush=True)

    async with stdio_client(params, errlog=errlog) as (read, write):
        async with ClientSession(read, write, read_timeout_seconds=timeout_arg(timeout)) as session:
            init = wire(await session.initialize())
            info = init.get("serverInfo", {})
            report.ok(
                "initialize",
                f"protocol {init.get('protocolVersion')}, server {info.get('name')} {info.get('version')}, "
                f"capabilities {sorted(init.get('capabilities', {}))}",
            )

            listed = [wire(t) for t in (await session.list_tools()).tools]
            tools = {t["name"]: t for t in listed}
            missing = [n for n in EXPECTED_TOOLS if n not in tools]
            report.check(
                not missing, "tools/list", f"missing tools: {missing}; listed: {sorted(tools)}", f"{len(tools)} tools"
            )
            bad_schemas = []
            for t in listed:
                for key in ("inputSchema", "outputSchema"):
                    if key in t:
                        cls = jsonschema.validators.validator_for(t[key], default=jsonschema.Draft202012Validator)
                        try:
                            cls.check_schema(t[key])
                        except jsonschema.SchemaError as e:
                            bad_schemas.append(f"{t['name']}.{key}: {e.message}")
            report.check(not bad_schemas, "tool schemas are valid JSON Schemas", "; ".join(bad_schemas))

            # backup_run with progress
            progress: list[tuple[float, float | None, str | None]] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append((value, total, message))

            await call(session, report, tools, "backup_run", {"backup_type": "full"}, timeout, on_progress)
            values = [p[0] for p in progress]
            increasing = all(b > a for a, b in zip(values, values[1:], strict=False))
            report.check(
                len(progress) >= 1 and increasing,
                "backup_run progress notifications",
                f"expected >= 1 notification with strictly increasing progress, got {progress}",
                f"{len(progress)} notifications, progress {values[0] if values else '-'} -> "
                f"{values[-1] if values else '-'} (total {progress[-1][1] if progress else '-'})",
            )

            for name, args in SUCCESS_CALLS:
                await call(session, report, tools, name, args, timeout)

            # restore_run outside the restore roots must be refused as a tool error
            args = {"target_dir": FORBIDDEN_TARGET}
            what = f"restore_run {json.dumps(args)} (outside restore roots)"
            try:
                raw = await session.call_tool("restore_run", args, read_timeout_seconds=timeout_arg(timeout))
            except Exception as e:
                report.fail(what, f"expected a result with isError true, the call raised {type(e).__name__}: {e}")
            else:
                result = wire(raw)
                report.check(
                    result.get("isError") is True,
                    what,
                    f"expected isError true, got {short(result)}",
                    f"isError true: {short(content_text(result), 160)}",
                )
                report.check(
                    not os.path.exists(FORBIDDEN_TARGET),
                    f"{FORBIDDEN_TARGET} was not created",
                    f"{FORBIDDEN_TARGET} exists after a refused restore",
                )


def leaves(e: BaseException) -> list[BaseException]:
    """The innermost exceptions of an exception group (anyio task groups wrap errors)."""
    if isinstance(e, BaseExceptionGroup):
        return [leaf for sub in e.exceptions for leaf in leaves(sub)]
    return [e]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", help="path of the mahavishnu-dr binary")
    parser.add_argument("settings", help="settings file passed as --config")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per request (default 300)")
    parser.add_argument("--server-log", help="write the server's stderr here (default: a temporary file)")
    opts = parser.parse_args()
    for path in (opts.binary, opts.settings):
        if not os.path.isfile(path):
            print(f"sdk_client: no such file: {path}", file=sys.stderr)
            return 2

    if opts.server_log:
        log = open(opts.server_log, "w+")
    else:
        log = tempfile.NamedTemporaryFile("w+", prefix="mahavishnu-dr-serve-", suffix=".log", delete=False)
    print(f"sdk_client: server stderr -> {log.name}", flush=True)

    report = Report()

    async def guarded() -> None:
        with anyio.fail_after(opts.timeout * 4):
            await run(opts.binary, opts.settings, opts.timeout, log, report)

    error = causes = ""
    with log:
        try:
            anyio.run(guarded)
        except BaseException as e:  # noqa: BLE001 - any crash of the session is a failure to report
            if isinstance(e, KeyboardInterrupt):
                raise
            error = "".join(traceback.format_exception(e)).rstrip()
            causes = "; ".join(f"{type(x).__name__}: {x}" for x in leaves(e))
        log.flush()
        log.seek(0)
        server_log = log.read()

    if report.failures or error:
        if error:
            print(f"sdk_client: the session failed:\n{error}")
        tail = server_log.splitlines()[-40:]
        print(f"sdk_client: last {len(tail)} lines of the server's stderr ({log.name}):")
        for line in tail:
            print(f"    {line}")
    if error:
        report.failures.append(f"the session ended with an exception (traceback above): {causes}")
    if report.failures:
        print(f"sdk_client: FAILED, {len(report.failures)} of {report.passed + len(report.failures)} checks:")
        for f in report.failures:
            print(f"  - {f}")
        return 1
    print(f"sdk_client: OK, all {report.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
