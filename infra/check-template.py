#!/usr/bin/env python3
"""Least-privilege check of the SAM template (issue 5). Exits 1 on any finding.

    python3 infra/check-template.py [--template PATH] [--no-transform]

Checks every IAM statement of template.yaml, as written and (when the SAM translator is
importable) as SAM expands it:

  1. no Allow statement has Action `*`, `service:*` or any other wildcard action, NotAction or
     NotResource; no Resource `*` and no service-wide resource (`...:secret:*`, `...:table/*`);
  2. no managed policy is attached: no ManagedPolicyArns, no managed policy names in a function's
     Policies, and every function has its own Role (SAM's generated role always carries the managed
     AWSLambdaBasicExecutionRole);
  3. no function's role references another function's resources (the function, its role, its log
     group), and only a queue's consumer (its SQS event source, or a POLLED_QUEUES entry) may receive or delete from it;
  4. Secrets Manager access follows SECRET_ACCESS below (by the seatkeeper name prefix and the
     credential kind; writes only for the OAuth callback), and DynamoDB access is to a table of
     this template without Scan;
  5. resource policies (KMS key, SNS topic, SQS queue policies): no wildcard action except the
     account-root delegation of a key policy, no Allow to Principal `*` without a Condition.

And, as written only, every CloudWatch dashboard: its DashboardBody, with sample values for the
Fn::Sub references (which must name a parameter, resource or pseudo parameter of the template), is
valid JSON with well-formed widgets, and it graphs every SQS queue and shows every alarm of the
template.

Needs PyYAML (cfn-lint brings it). The SAM expansion needs samtranslator (aws-sam-cli / the repo's
.venv); without it the script re-runs itself with .venv/bin/python when that exists.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Which Secrets Manager actions each function (by its BuildProperties.Binary) may use on which
# credential kind (secret names `seatkeeper/<profile>/<kind>`; see shared/src/domain/profile.rs).
SECRET_ACCESS: dict[str, dict[str, set[str]]] = {
    "box-sync": {"box": {"secretsmanager:GetSecretValue"}},
    "dropbox-sync": {"dropbox-sync": {"secretsmanager:GetSecretValue"}},
    "reclaim": {
        "box": {"secretsmanager:GetSecretValue"},
        "dropbox-reclaim": {"secretsmanager:GetSecretValue"},
        # the activity re-check before acting reads Dropbox events with the sync slot
        "dropbox-sync": {"secretsmanager:GetSecretValue"},
    },
    "oauth-callback": {
        "dropbox-sync": {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
        "dropbox-reclaim": {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"},
    },
}
# A secret resource must name one kind under the prefix, with Secrets Manager's 6-character suffix.
SECRET_ARN = re.compile(r":secret:seatkeeper/\*/(?P<kind>[a-z-]+)-\?\?\?\?\?\?$")
QUEUE_CONSUME = {
    "sqs:receivemessage",
    "sqs:deletemessage",
    "sqs:deletemessagebatch",
    "sqs:changemessagevisibility",
    "sqs:changemessagevisibilitybatch",
    "sqs:purgequeue",
}
# Queues a function polls in its own code rather than through an SQS event source: the sync
# functions drain the mail-events queue (bounces and complaints) at the start of each notify pass.
POLLED_QUEUES: dict[str, set[str]] = {
    "box-sync": {"MailEventsQueue"},
    "dropbox-sync": {"MailEventsQueue"},
}
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


# ---- YAML with CloudFormation tags --------------------------------------------------------------

def _load_yaml(text: str):
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def construct(loader, tag_suffix, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "Condition":
            return {"Condition": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {"Fn::" + tag_suffix: value}

    CfnLoader.add_multi_constructor("!", construct)
    return yaml.load(text, Loader=CfnLoader)


# ---- helpers ---------------------------------------------------------------------------------------

def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def referenced_ids(node) -> set[str]:
    """Logical ids a value points at: Ref, Fn::GetAtt, and ${Id} / ${Id.Attr} in Fn::Sub."""
    out: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref" and isinstance(v, str):
                out.add(v)
            elif k == "Fn::GetAtt":
                parts = v.split(".", 1) if isinstance(v, str) else v
                if parts and isinstance(parts[0], str):
                    out.add(parts[0])
            elif k == "Fn::Sub":
                text, local = (v[0], v[1]) if isinstance(v, list) else (v, {})
                for name in re.findall(r"\$\{([^}!]+)\}", text if isinstance(text, str) else ""):
                    base = name.split(".", 1)[0]
                    if base not in local:
                        out.add(base)
                out |= referenced_ids(local)
            else:
                out |= referenced_ids(v)
    elif isinstance(node, list):
        for v in node:
            out |= referenced_ids(v)
    return {i for i in out if not i.startswith("AWS::")}


def resource_text(r) -> str:
    """A resource as a string for pattern checks (Fn::Sub text; Ref/GetAtt shown as <Id>)."""
    if isinstance(r, str):
        return r
    if isinstance(r, dict):
        if "Fn::Sub" in r:
            v = r["Fn::Sub"]
            return v[0] if isinstance(v, list) else str(v)
        if "Ref" in r:
            return "<" + str(r["Ref"]) + ">"
        if "Fn::GetAtt" in r:
            v = r["Fn::GetAtt"]
            return "<" + (v if isinstance(v, str) else ".".join(map(str, v))) + ">"
        if "Fn::Join" in r:
            sep, parts = r["Fn::Join"]
            return sep.join(resource_text(p) for p in parts)
    return str(r)


def service_wide(text: str) -> bool:
    """`*`, or an ARN whose resource part is `*`, `type:*` or `type/*` (every resource of a type)."""
    if text.strip() == "*":
        return True
    parts = text.split(":", 5)
    if len(parts) < 6:
        return False
    res = parts[5]
    return res == "*" or re.fullmatch(r"[A-Za-z0-9_-]+[:/]\*", res) is not None


class Report:
    def __init__(self):
        self.failures: list[str] = []
        self.checked = 0

    def ok(self, msg: str):
        print(f"  ok    {msg}")

    def fail(self, msg: str):
        self.failures.append(msg)
        print(f"  FAIL  {msg}")


# ---- the checks ------------------------------------------------------------------------------------

def role_statements(role: dict):
    """(policy name, statement) of an AWS::IAM::Role's inline policies."""
    for pol in as_list(role.get("Properties", {}).get("Policies")):
        doc = pol.get("PolicyDocument", {}) if isinstance(pol, dict) else {}
        for st in as_list(doc.get("Statement")):
            yield pol.get("PolicyName", "?"), st


def check_identity_statement(rep: Report, where: str, st: dict, tables: set[str]):
    rep.checked += 1
    if not isinstance(st, dict):
        rep.fail(f"{where}: statement is not a mapping")
        return
    if st.get("Effect") != "Allow":
        return
    sid = st.get("Sid", "(no Sid)")
    label = f"{where} {sid}"
    problems = []
    if "NotAction" in st:
        problems.append("uses NotAction")
    if "NotResource" in st:
        problems.append("uses NotResource")
    actions = [a for a in as_list(st.get("Action")) if isinstance(a, str)]
    for a in actions:
        if a == "*":
            problems.append("action '*' grants every action of every service")
        elif re.fullmatch(r"[A-Za-z0-9-]+:\*", a):
            problems.append(f"action {a!r} grants a whole service")
        elif "*" in a or "?" in a:
            problems.append(f"wildcard action {a!r} (name every action)")
    resources = as_list(st.get("Resource"))
    if not resources:
        problems.append("no Resource")
    for r in resources:
        text = resource_text(r)
        if service_wide(text):
            problems.append(f"resource {text!r} is every resource (of its type)")
    lowered = {a.lower() for a in actions}
    if any(a.startswith("dynamodb:") for a in lowered):
        if "dynamodb:scan" in lowered:
            problems.append("dynamodb:Scan (no function scans the table; see docs/dynamodb.md)")
        for r in resources:
            ids = referenced_ids(r)
            text = resource_text(r)
            if not ids & tables or not (
                re.fullmatch(r"<\w+\.Arn>", text) or re.fullmatch(r"\$\{\w+\.Arn\}/index/\*", text)
            ):
                problems.append(f"DynamoDB resource {text!r} is not a table of this template (or its indexes)")
    if problems:
        for p in problems:
            rep.fail(f"{label}: {p}")
    else:
        rep.ok(f"{label}: {', '.join(actions)} on {', '.join(resource_text(r) for r in resources)}")


def check_secrets(rep: Report, fn: str, binary: str | None, statements):
    """Secrets Manager access of one function against SECRET_ACCESS."""
    allowed = SECRET_ACCESS.get(binary or "", {})
    granted: dict[str, set[str]] = {}
    for _, st in statements:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        actions = {a for a in as_list(st.get("Action")) if isinstance(a, str) and a.lower().startswith("secretsmanager:")}
        if not actions:
            continue
        for r in as_list(st.get("Resource")):
            text = resource_text(r)
            m = SECRET_ARN.search(text)
            if not m or not text.startswith("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"):
                rep.fail(f"{fn}: secret resource {text!r} is not `arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:seatkeeper/*/<kind>-??????`")
                continue
            granted.setdefault(m["kind"], set()).update(actions)
    for kind, actions in sorted(granted.items()):
        extra = {a for a in actions if a not in allowed.get(kind, set())}
        if extra:
            rep.fail(f"{fn} ({binary}): {', '.join(sorted(extra))} on {kind} secrets is not in SECRET_ACCESS")
        else:
            rep.ok(f"{fn} ({binary}): {', '.join(sorted(actions))} on seatkeeper/*/{kind} secrets")


def functions_of(resources: dict):
    """logical id -> (binary, role id, own log group id, SQS queues it consumes)."""
    out = {}
    for fid, res in resources.items():
        if res.get("Type") not in FUNCTION_TYPES:
            continue
        props = res.get("Properties", {}) or {}
        binary = (res.get("Metadata", {}) or {}).get("BuildProperties", {}).get("Binary")
        role_ids = referenced_ids(props.get("Role")) if "Role" in props else set()
        log_ids = referenced_ids((props.get("LoggingConfig") or {}).get("LogGroup"))
        queues = set()
        for ev in (props.get("Events") or {}).values():
            if isinstance(ev, dict) and ev.get("Type") == "SQS":
                queues |= referenced_ids(ev.get("Properties", {}).get("Queue"))
        for other in resources.values():  # expanded templates: event source mappings
            if other.get("Type") == "AWS::Lambda::EventSourceMapping":
                p = other.get("Properties", {})
                if fid in referenced_ids(p.get("FunctionName")):
                    queues |= referenced_ids(p.get("EventSourceArn"))
        out[fid] = {"binary": binary, "roles": role_ids, "logs": log_ids, "queues": queues}
    return out


def check_template(rep: Report, tpl: dict, stage: str):
    resources = tpl.get("Resources", {}) or {}
    tables = {k for k, v in resources.items() if v.get("Type") == "AWS::DynamoDB::Table"}
    fns = functions_of(resources)
    # Roles that act for a function: its execution role, and (expanded) roles of its schedules.
    role_owner: dict[str, str] = {}
    for fid, f in fns.items():
        for r in f["roles"]:
            role_owner[r] = fid
    for rid, res in resources.items():
        if res.get("Type") == "AWS::Scheduler::Schedule":
            target = res.get("Properties", {}).get("Target", {})
            for fid in referenced_ids(target.get("Arn")) & fns.keys():
                for r in referenced_ids(target.get("RoleArn")):
                    role_owner.setdefault(r, fid)
    owned: dict[str, str] = {}
    for fid, f in fns.items():
        owned[fid] = fid
        for x in f["roles"] | f["logs"]:
            owned[x] = fid

    print(f"[{stage}] functions: " + ", ".join(f"{k} ({v['binary'] or 'no Binary'})" for k, v in fns.items()))

    # 2. managed policies and functions without their own role
    before = len(rep.failures)
    for fid, res in resources.items():
        t = res.get("Type")
        props = res.get("Properties", {}) or {}
        if t in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group") and props.get("ManagedPolicyArns"):
            rep.fail(f"[{stage}] {fid}: attaches managed policies {resource_text(props['ManagedPolicyArns'])}")
        if t == "AWS::Serverless::Function":
            if "Role" not in props:
                rep.fail(f"[{stage}] {fid}: no Role, so SAM generates one with the managed AWSLambdaBasicExecutionRole policy")
            for p in as_list(props.get("Policies")):
                if isinstance(p, str) or (isinstance(p, dict) and not {"Statement", "Version"} & p.keys()):
                    rep.fail(f"[{stage}] {fid}: Policies entry {resource_text(p) if not isinstance(p, dict) else list(p)} is a managed policy or policy template")
    if len(rep.failures) == before:
        rep.ok(f"[{stage}] no managed policy attached; every function has its own role")

    # 1 + 3 + 4: identity statements
    for rid, res in resources.items():
        t = res.get("Type")
        props = res.get("Properties", {}) or {}
        stmts = []
        if t == "AWS::IAM::Role":
            stmts = list(role_statements(res))
        elif t in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            stmts = [(rid, st) for st in as_list(props.get("PolicyDocument", {}).get("Statement"))]
            for r in referenced_ids(props.get("Roles")):
                if r in role_owner:
                    role_owner.setdefault(rid, role_owner[r])
        elif t == "AWS::Serverless::Function":
            for p in as_list(props.get("Policies")):
                if isinstance(p, dict) and "Statement" in p:
                    stmts += [(rid + ".Policies", st) for st in as_list(p["Statement"])]
            role_owner.setdefault(rid + ".Policies", rid)
        if not stmts:
            continue
        fn = role_owner.get(rid) or (rid if t == "AWS::Serverless::Function" else None)
        for pname, st in stmts:
            check_identity_statement(rep, f"[{stage}] {rid}/{pname}", st, tables)
            if fn and isinstance(st, dict) and st.get("Effect") == "Allow":
                refs = referenced_ids(st.get("Resource"))
                for ref in refs:
                    if ref in owned and owned[ref] != fn:
                        rep.fail(f"[{stage}] {rid} (role of {fn}): statement {st.get('Sid', '?')} references {ref}, a resource of {owned[ref]}")
                consume = {a for a in as_list(st.get("Action")) if isinstance(a, str) and a.lower() in QUEUE_CONSUME}
                if consume:
                    not_own = refs - fns[fn]["queues"] - POLLED_QUEUES.get(fns[fn]["binary"] or "", set())
                    if not_own:
                        rep.fail(f"[{stage}] {rid} (role of {fn}): {', '.join(sorted(consume))} on {', '.join(sorted(not_own))}, which is not its SQS event source")
        if fn:
            check_secrets(rep, f"[{stage}] {fn}", fns[fn]["binary"], stmts)
        elif any(isinstance(st, dict) and any(str(a).lower().startswith("secretsmanager:") for a in as_list(st.get("Action"))) for _, st in stmts):
            rep.fail(f"[{stage}] {rid}: Secrets Manager access from a role that belongs to no function")

    # 5. resource policies
    for rid, res in resources.items():
        t = res.get("Type")
        props = res.get("Properties", {}) or {}
        doc = None
        if t == "AWS::KMS::Key":
            doc = props.get("KeyPolicy")
        elif t in ("AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"):
            doc = props.get("PolicyDocument")
        if not doc:
            continue
        for st in as_list(doc.get("Statement")):
            rep.checked += 1
            if st.get("Effect") != "Allow":
                continue
            sid = st.get("Sid", "(no Sid)")
            principal = st.get("Principal")
            actions = [a for a in as_list(st.get("Action")) if isinstance(a, str)]
            root = isinstance(principal, dict) and re.fullmatch(
                r"arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:root", resource_text(principal.get("AWS", ""))
            )
            bad = [a for a in actions if a == "*" or re.fullmatch(r"[A-Za-z0-9-]+:\*", a)]
            if bad and not (t == "AWS::KMS::Key" and root and actions == ["kms:*"]):
                rep.fail(f"[{stage}] {rid} {sid}: resource policy grants {bad}")
            elif principal in ("*", {"AWS": "*"}) and not st.get("Condition"):
                rep.fail(f"[{stage}] {rid} {sid}: Allow to Principal * without a Condition")
            else:
                note = " (key policy: the account administers the key through IAM)" if bad else ""
                rep.ok(f"[{stage}] {rid} {sid}: {', '.join(actions)}{note}")


SAMPLE_PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "seatkeeper",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}


def sample_sub(text: str, local: dict, known: set[str]) -> tuple[str, list[str]]:
    """Fn::Sub text with a sample value for every ${...} (`${!x}` stays the literal `${x}`), and
    the references that name nothing in the template."""
    unknown: list[str] = []

    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in local or name in SAMPLE_PSEUDO:
            return SAMPLE_PSEUDO.get(name, f"sample-{name}")
        base, _, attr = name.partition(".")
        if base not in known:
            unknown.append(name)
        if attr == "Arn":
            return f"arn:aws:sample:us-east-1:123456789012:{base}"
        return f"sample-{base}" + (f"-{attr}" if attr else "")

    return re.sub(r"\$\{([^}]*)\}", repl, text), unknown


def check_metric_row(row) -> str | None:
    """A `metrics` entry: [ {expression…} ] or [Namespace, MetricName, (DimName, DimValue)…, {options}?]."""
    if not isinstance(row, list) or not row:
        return "not a non-empty array"
    if isinstance(row[0], dict):
        return None if len(row) == 1 and ("expression" in row[0] or "id" in row[0]) else "an expression row holds one object"
    parts = row[:-1] if isinstance(row[-1], dict) else row
    if len(parts) < 2 or not all(isinstance(p, str) and p for p in parts):
        return "needs namespace and metric name strings"
    if len(parts) % 2:
        return "dimension names and values are not in pairs"
    return None


def check_dashboards(rep: Report, tpl: dict):
    resources = tpl.get("Resources", {}) or {}
    known = set(resources) | set((tpl.get("Parameters") or {}))
    for rid, res in resources.items():
        if res.get("Type") != "AWS::CloudWatch::Dashboard":
            continue
        body = (res.get("Properties") or {}).get("DashboardBody")
        refs: set[str] = set()
        if isinstance(body, dict) and "Fn::Sub" in body:
            v = body["Fn::Sub"]
            text, local = (v[0], v[1]) if isinstance(v, list) else (v, {})
            refs = referenced_ids(body)
            body, unknown = sample_sub(text, local, known)
            for u in unknown:
                rep.fail(f"[dashboard] {rid}: ${{{u}}} names nothing in the template")
        if not isinstance(body, str):
            rep.fail(f"[dashboard] {rid}: DashboardBody is not a string or an Fn::Sub of one")
            continue
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as e:
            line = body.splitlines()[e.lineno - 1] if e.lineno - 1 < len(body.splitlines()) else ""
            rep.fail(f"[dashboard] {rid}: DashboardBody is not valid JSON after substitution: {e} near {line.strip()!r}")
            continue
        widgets = doc.get("widgets") if isinstance(doc, dict) else None
        if not isinstance(widgets, list) or not widgets:
            rep.fail(f"[dashboard] {rid}: no widgets")
            continue
        problems = []
        for i, w in enumerate(widgets):
            what = f"widget {i} ({(w.get('properties') or {}).get('title', w.get('type'))})" if isinstance(w, dict) else f"widget {i}"
            if not isinstance(w, dict) or w.get("type") not in ("metric", "text", "alarm", "log", "explorer", "custom"):
                problems.append(f"{what}: unknown type")
                continue
            x, width = w.get("x", 0), w.get("width", 6)
            if not (isinstance(x, int) and isinstance(width, int) and 0 <= x and 1 <= width and x + width <= 24):
                problems.append(f"{what}: x/width outside the 24-column grid")
            props = w.get("properties") or {}
            if w["type"] == "metric":
                if not props.get("region"):
                    problems.append(f"{what}: no region")
                rows = props.get("metrics")
                if not isinstance(rows, list) or not rows:
                    problems.append(f"{what}: no metrics")
                for j, row in enumerate(rows or []):
                    err = check_metric_row(row)
                    if err:
                        problems.append(f"{what}: metrics[{j}] {err}")
            elif w["type"] == "alarm" and not props.get("alarms"):
                problems.append(f"{what}: no alarms")
        for p in problems:
            rep.fail(f"[dashboard] {rid}: {p}")
        for kind, what in (("AWS::SQS::Queue", "queue"), ("AWS::CloudWatch::Alarm", "alarm")):
            missing = sorted(k for k, v in resources.items() if v.get("Type") == kind and k not in refs)
            if missing:
                rep.fail(f"[dashboard] {rid}: does not show the {what}(s) {', '.join(missing)}")
        if not problems:
            rep.ok(f"[dashboard] {rid}: valid JSON after substitution, {len(widgets)} widgets, every queue and alarm shown")


def translated(tpl: dict) -> dict:
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            return {}

    tpl = copy.deepcopy(tpl)
    for res in tpl.get("Resources", {}).values():
        if res.get("Type") == "AWS::Serverless::Function" and not str(res.get("Properties", {}).get("CodeUri", "")).startswith("s3://"):
            res.setdefault("Properties", {})["CodeUri"] = "s3://check-template/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(tpl, {}, NoManagedPolicies())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--no-transform", action="store_true", help="check the template as written only")
    args = ap.parse_args()

    try:
        import samtranslator  # noqa: F401
        have_sam = True
    except ImportError:
        have_sam = False
    venv_python = ROOT / ".venv" / "bin" / "python"
    if (
        not have_sam
        and not args.no_transform
        and venv_python.exists()
        and Path(sys.executable).resolve() != venv_python.resolve()
        and not os.environ.get("CHECK_TEMPLATE_REEXEC")
    ):
        os.environ["CHECK_TEMPLATE_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), __file__, *sys.argv[1:]])

    path = Path(args.template)
    print(f"check-template: {path}")
    tpl = _load_yaml(path.read_text())
    rep = Report()
    check_template(rep, tpl, "template")
    check_dashboards(rep, tpl)
    if args.no_transform:
        print("[sam] skipped (--no-transform)")
    elif not have_sam:
        rep.fail("samtranslator is not installed (run infra/setup.sh, or pass --no-transform)")
    else:
        try:
            out = translated(tpl)
        except Exception as e:  # a template SAM cannot expand is a finding too
            rep.fail(f"[sam] SAM could not expand the template: {e}")
        else:
            check_template(rep, out, "sam")
    print(f"check-template: {rep.checked} statements checked, {len(rep.failures)} finding(s)")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
